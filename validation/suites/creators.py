"""Expectations on creators: one row per creator id and when they joined."""

from __future__ import annotations

from validation.suites.builder import SuiteBuilder

TABLE = "creators"
TIME_COLUMN = "joined_at"  # what `since` filters on


def build(b: SuiteBuilder) -> None:
    """Declare the creators suite on `b`."""
    b.column("creator_id", "id", required=True)
    b.unique("creator_id", hint="one row per creator: drop or merge the duplicate rows")
    b.between("creator_id", min_value=0, hint="ids are non-negative")
    b.column("joined_at", "timestamp", required=True)
    b.not_in_future("joined_at")
