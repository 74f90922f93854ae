"""One Great Expectations suite per table, declared once and built for frames or for Postgres.

Each module has `TABLE`, `TIME_COLUMN` (the row's timestamp) and `build(builder)`; `SUITES` lists them in
load order (parents first).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from validation.suites import blocks, creators, events, follows, users, videos
from validation.suites.builder import SuiteBuilder

_MODULES: tuple[ModuleType, ...] = (users, creators, videos, follows, blocks, events)
SUITES: dict[str, Callable[[SuiteBuilder], None]] = {m.TABLE: m.build for m in _MODULES}
TABLES: tuple[str, ...] = tuple(SUITES)
TIME_COLUMNS: dict[str, str] = {m.TABLE: m.TIME_COLUMN for m in _MODULES}

__all__ = ["SUITES", "TABLES", "TIME_COLUMNS", "SuiteBuilder"]
