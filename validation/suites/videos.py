"""Expectations on videos: one row per video id, a known creator, a positive duration, an upload time."""

from __future__ import annotations

from validation.suites.builder import SuiteBuilder

TABLE = "videos"
TIME_COLUMN = "uploaded_at"  # what `since` filters on


def build(b: SuiteBuilder) -> None:
    """Declare the videos suite on `b`."""
    b.column("video_id", "id", required=True)
    b.unique("video_id", hint="one row per video: drop or merge the duplicate rows")
    b.between("video_id", min_value=0, hint="ids are non-negative (they double as FAISS ids)")
    b.column("creator_id", "id")
    b.references("creator_id", "creators")
    b.column("uploaded_at", "timestamp", required=True)
    b.not_in_future("uploaded_at")
    b.column("duration_s", "real")
    b.between(
        "duration_s",
        min_value=0,
        strict_min=True,
        hint="duration is in seconds and positive; leave it empty when unknown",
    )
    b.column("title", "text")
    b.column("flagged", "boolean")
