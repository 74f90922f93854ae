"""Expectations on users: one row per user id, where they are and when they signed up."""

from __future__ import annotations

from foryou.schema import DEVICES
from validation.report import Severity
from validation.suites.builder import SuiteBuilder

TABLE = "users"
TIME_COLUMN = "signup_at"  # what `since` filters on


def build(b: SuiteBuilder) -> None:
    """Declare the users suite on `b`."""
    b.column("user_id", "id", required=True)
    b.unique("user_id", hint="one row per user: drop or merge the duplicate rows")
    b.between("user_id", min_value=0, hint="ids are non-negative (they double as FAISS ids)")
    b.column("region", "text", required=True)
    b.column("device", "text")
    b.one_of(
        "device",
        DEVICES,
        severity=Severity.WARNING,
        hint="an unknown device becomes its own category in the features; map it to ios, android or web",
    )
    b.column("signup_at", "timestamp", required=True)
    b.not_in_future("signup_at")
