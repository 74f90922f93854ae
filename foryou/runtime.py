"""What a command needs to work: settings, the stores in use, and an engine on the event log."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy.engine import Engine

from foryou.db import make_engine
from foryou.settings import Settings, get_settings
from foryou.stores import StoreUrls, ensure_stores


@dataclass
class Runtime:
    """Settings plus live store URLs; the engine is created on first use."""

    settings: Settings
    stores: StoreUrls

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.stores.database_url)


def open_runtime(settings: Settings | None = None, *, upgrade_schema: bool = True) -> Runtime:
    """Start embedded stores if needed and (by default) bring the schema to head."""
    settings = settings or get_settings()
    stores = ensure_stores(settings)
    if upgrade_schema:
        from foryou import migrate

        migrate.upgrade(stores.database_url)
    return Runtime(settings=settings, stores=stores)
