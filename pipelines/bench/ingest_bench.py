"""`foryou bench ingest`: COPY loading of events against row-by-row INSERT, in a scratch database."""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import sqlalchemy as sa

from foryou import migrate
from foryou.db import make_engine
from foryou.schema import EVENT_TYPES
from foryou.scratch import scratch_database
from pipelines.bench.result import BenchResult
from pipelines.ingest.copy_load import copy_rows, insert_rows_one_by_one

EVENT_COLUMNS = (
    "event_id",
    "user_id",
    "video_id",
    "event_type",
    "ts",
    "dwell_ms",
    "watch_fraction",
    "session_id",
)
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _event_rows(n: int, n_users: int, n_videos: int, seed: int, id_prefix: str) -> list[tuple[object, ...]]:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n)
    videos = rng.integers(0, n_videos, n)
    types = rng.integers(0, len(EVENT_TYPES), n)
    seconds = np.sort(rng.integers(0, 7 * 86_400, n))
    dwell = rng.integers(0, 60_000, n)
    frac = rng.random(n).round(4)
    return [
        (
            f"{id_prefix}-{i}",
            int(users[i]),
            int(videos[i]),
            EVENT_TYPES[types[i]],
            START + dt.timedelta(seconds=int(seconds[i])),
            int(dwell[i]),
            float(frac[i]),
            f"s{users[i]}-{seconds[i] // 1800}",
        )
        for i in range(n)
    ]


def run_ingest_bench(database_url: str, copy_events: int, insert_events: int, seed: int = 0) -> BenchResult:
    """Events/s of our COPY path (staging + ON CONFLICT, idempotent) and of one INSERT per row."""
    n_users, n_videos = 2_000, 5_000
    with scratch_database(database_url, "foryou_bench") as url:
        scratch_name = sa.engine.make_url(url).database
        migrate.upgrade(url)
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                copy_rows(
                    conn,
                    "users",
                    ["user_id", "region", "signup_at"],
                    ((u, "us", START) for u in range(n_users)),
                    skip_existing=False,
                )
                copy_rows(
                    conn,
                    "videos",
                    ["video_id", "uploaded_at"],
                    ((v, START) for v in range(n_videos)),
                    skip_existing=False,
                )
            copy_batch = _event_rows(copy_events, n_users, n_videos, seed, "copy")
            insert_batch = _event_rows(insert_events, n_users, n_videos, seed + 1, "insert")
            with engine.begin() as conn:
                started = time.perf_counter()
                written = copy_rows(conn, "events", EVENT_COLUMNS, copy_batch)
                copy_seconds = time.perf_counter() - started
            with engine.begin() as conn:
                started = time.perf_counter()
                inserted = insert_rows_one_by_one(conn, "events", EVENT_COLUMNS, insert_batch)
                insert_seconds = time.perf_counter() - started
        finally:
            engine.dispose()
    if written != copy_events or inserted != insert_events:
        raise RuntimeError(f"bench wrote {written}/{copy_events} and {inserted}/{insert_events} rows")
    return BenchResult(
        metric="ingest_events_per_s",
        unit="events/s",
        ours=copy_events / copy_seconds,
        baseline=insert_events / insert_seconds,
        higher_is_better=True,
        baseline_name="row-by-row INSERT",
        details={
            "scratch_database": scratch_name,
            "copy_events": copy_events,
            "insert_events": insert_events,
            "copy_seconds": round(copy_seconds, 3),
            "insert_seconds": round(insert_seconds, 3),
        },
    )
