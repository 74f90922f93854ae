"""Run the Alembic migrations in migrations/ against a database URL."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

import migrations
from foryou.db import connect, make_engine
from foryou.errors import SchemaError


def _config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Upgrade the schema to `revision` (default: the newest)."""
    _run(database_url, command.upgrade, revision)


def downgrade(database_url: str, revision: str) -> None:
    """Downgrade the schema to `revision` ('base' drops every foryou table)."""
    _run(database_url, command.downgrade, revision)


def _run(database_url: str, action, revision: str) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    config = _config(database_url)
    try:
        with connect(engine) as conn:
            config.attributes["connection"] = conn
            action(config, revision)
    except CommandError as exc:
        raise SchemaError(f"Migration to {revision!r} failed: {exc}") from exc
    finally:
        engine.dispose()


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None for an empty database."""
    engine = make_engine(database_url)
    try:
        with connect(engine, transaction=False) as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    """The newest revision in migrations/."""
    head = ScriptDirectory.from_config(_config("postgresql://unused")).get_current_head()
    assert head is not None
    return head


def require_head(engine: sa.Engine) -> None:
    """Refuse to work on a database whose schema is not at head, with the command that fixes it."""
    with connect(engine, transaction=False) as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    head = head_revision()
    if current != head:
        raise SchemaError(
            f"The database schema is at revision {current or 'none'}, foryou needs {head}: "
            "run `foryou db upgrade`."
        )
