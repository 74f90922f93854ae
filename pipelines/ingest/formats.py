"""The generic ingest format: which columns each table file has, and the defaults for what it may leave out.

docs/ingest.md is the user-facing description of the same rules; keep the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

# Bumped whenever parsing or derived values change meaning, so a batch id never names two different loads.
FORMAT_VERSION = "1"

TABLES: tuple[str, ...] = ("users", "videos", "follows", "events")
"""The tables a batch may carry, in load order (users and videos before what refers to them)."""

LIST_SEPARATOR = "|"
"""Separates the values of `tags` and of `region` (→ allowed_regions) in one CSV cell."""

DEFAULT_USER_REGION = "unknown"
"""users.region when the file leaves it empty (the column is NOT NULL in the event log)."""

FUTURE_TOLERANCE = timedelta(minutes=5)
"""A timestamp later than now + this is rejected (clock skew between writer and loader is allowed for)."""

MILLISECONDS_HINT = 1e11
"""A unix timestamp above this (year 5138) is almost surely in milliseconds; the message says so."""


@dataclass(frozen=True)
class TableFormat:
    """The columns of one table file in the generic format."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    key: tuple[str, ...] = ()
    """Columns that identify a row; a key seen twice in one file is an error (empty for events: a log)."""
    extra_to_attributes: bool = False
    """True: columns not listed go into the attributes JSONB; False: an unknown column is an error."""

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional

    def describe(self) -> str:
        """One line for messages: the required and optional columns."""
        extra = "; any other column goes into attributes" if self.extra_to_attributes else ""
        return f"{self.name} needs {', '.join(self.required)}; optional {', '.join(self.optional)}{extra}"


USERS = TableFormat(
    "users",
    required=("user_id",),
    optional=("region", "device", "signup_at"),
    key=("user_id",),
    extra_to_attributes=True,
)
VIDEOS = TableFormat(
    "videos",
    required=("video_id", "creator_id", "uploaded_at"),
    optional=("duration_s", "title", "tags", "region", "flagged"),
    key=("video_id",),
)
FOLLOWS = TableFormat(
    "follows", required=("user_id", "creator_id", "ts"), optional=(), key=("user_id", "creator_id")
)
EVENTS = TableFormat(
    "events",
    required=("user_id", "video_id", "event_type", "ts"),
    optional=(
        "event_id",
        "dwell_ms",
        "watch_fraction",
        "session_id",
        "device",
        "region",
        "request_id",
        "position",
        "propensity",
    ),
)

FORMATS: dict[str, TableFormat] = {f.name: f for f in (USERS, VIDEOS, FOLLOWS, EVENTS)}
