"""Expectations on events: the log every feature, dataset and model is built from."""

from __future__ import annotations

from foryou.schema import DEVICES, EVENT_TYPES
from validation.report import Severity
from validation.suites.builder import SuiteBuilder

TABLE = "events"
TIME_COLUMN = "ts"  # what `since` filters on


def build(b: SuiteBuilder) -> None:
    """Declare the events suite on `b`."""
    b.column("event_id", "text", required=True)
    b.unique(
        "event_id",
        hint="event ids identify events (a retried batch is skipped by id): two different events "
        "need two ids — drop exact repeats, or leave event_id empty to have it derived",
    )
    b.column("user_id", "id", required=True)
    b.references("user_id", "users")
    b.column("video_id", "id", required=True)
    b.references("video_id", "videos")
    b.column("event_type", "text", required=True)
    b.one_of("event_type", EVENT_TYPES, hint="map the source's event names onto these types")
    b.column("ts", "timestamp", required=True)
    b.not_in_future("ts")
    b.not_before(
        "ts",
        parent="videos",
        key="video_id",
        parent_column="uploaded_at",
        show=("event_id", "video_id"),
        severity=Severity.WARNING,
        hint="an event before its video's upload usually means a wrong upload time or a time-zone shift",
    )
    b.unique(
        "user_id",
        "video_id",
        "event_type",
        "ts",
        severity=Severity.WARNING,
        hint="usually one event logged twice under two ids (a client retry that made a new id); "
        "genuine repeats in the same instant are rare at microsecond resolution",
    )
    b.column("dwell_ms", "integer")
    b.between("dwell_ms", min_value=0, hint="dwell is the time on the video in milliseconds: never negative")
    b.column("watch_fraction", "real")
    b.between(
        "watch_fraction",
        min_value=0,
        max_value=10,
        hint="watch_fraction = watched time / duration (replays allowed up to 10×); check the units",
    )
    b.column("propensity", "real")
    b.between(
        "propensity",
        min_value=0,
        max_value=1,
        strict_min=True,
        hint="the logging policy's probability of showing the item: in (0, 1]",
    )
    b.not_null_where(
        "propensity",
        where=("event_type", "impression"),
        hint="impressions without a propensity cannot be used for off-policy evaluation",
    )
    b.column("position", "integer")
    b.between("position", min_value=0, severity=Severity.WARNING, hint="slot positions count from 0")
    b.column("session_id", "text")
    b.column("request_id", "text")
    b.column("device", "text")
    b.one_of(
        "device",
        DEVICES,
        severity=Severity.WARNING,
        hint="an unknown device becomes its own category in the features; map it to ios, android or web",
    )
    b.column("region", "text")
