"""Expectations on follows: user → creator edges with the time they were made (blocks share the shape)."""

from __future__ import annotations

from validation.suites.builder import SuiteBuilder

TABLE = "follows"
TIME_COLUMN = "ts"  # what `since` filters on


def build(b: SuiteBuilder) -> None:
    """Declare the suite of a user → creator edge table (follows or blocks) on `b`."""
    b.column("user_id", "id", required=True)
    b.column("creator_id", "id", required=True)
    b.unique("user_id", "creator_id", hint=f"one {b.table} row per (user, creator): drop the repeats")
    b.references("user_id", "users")
    b.references("creator_id", "creators")
    b.column("ts", "timestamp", required=True)
    b.not_in_future("ts")
