"""Expectations on blocks: the same user → creator edge shape as follows."""

from __future__ import annotations

from validation.suites.follows import build

TABLE = "blocks"
TIME_COLUMN = "ts"

__all__ = ["TABLE", "TIME_COLUMN", "build"]
