"""Feature build timings on a synthetic event log made in Postgres (generate_series), in a scratch database.

The world is shaped like a feed, not like noise: events come in sessions (about 20 events within ~10
minutes, so a session touches 2–3 five-minute buckets), videos are picked with a heavy head, and event
types follow feed-like shares. Emission rows per event depend on that clustering, so uniform random
timestamps would overstate the cost.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from foryou import migrate
from foryou.db import connect, make_engine
from foryou.scratch import scratch_database
from pipelines.features.build import build

START = datetime(2026, 1, 1, tzinfo=UTC)
EVENTS_PER_SESSION = 20
EVENTS_SQL = f"""
INSERT INTO events (event_id, user_id, video_id, event_type, ts, watch_fraction, session_id)
SELECT 'b' || lpad(s::text, 10, '0') || '-' || lpad(i::text, 2, '0'), s.user_id,  -- ids in insert order
    -- a heavy head: the cube of a uniform picks low ids far more often
    (power(random(), 3) * (:videos - 1))::bigint,
    kind, s.started + i * (random() * 60) * interval '1 second',
    CASE WHEN kind = 'view' THEN random() * 1.2 END,
    's' || s
FROM (
    SELECT s, (random() * (:users - 1))::bigint AS user_id,
        :start + random() * :seconds * interval '1 second' AS started
    FROM generate_series(0, :sessions - 1) s
) s
CROSS JOIN LATERAL (
    SELECT i, CASE
        WHEN r < 0.40 THEN 'impression' WHEN r < 0.75 THEN 'view' WHEN r < 0.80 THEN 'tap'
        WHEN r < 0.86 THEN 'like' WHEN r < 0.96 THEN 'skip' WHEN r < 0.975 THEN 'save'
        WHEN r < 0.985 THEN 'share' WHEN r < 0.995 THEN 'comment' ELSE 'follow' END AS kind
    FROM (SELECT i, random() AS r FROM generate_series(1, {EVENTS_PER_SESSION}) i) x
) e
"""


@dataclass(frozen=True)
class ViewTiming:
    """One view's build in the benchmark."""

    view: str
    phase: str  # "full" (from an empty table) or "incremental" (the next hour)
    rows: int
    seconds: float
    events: int

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else float("inf")

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else float("inf")


@contextmanager
def _event_indexes_rebuilt(conn: sa.Connection) -> Iterator[None]:
    """Drop the secondary indexes of events for a bulk insert and build them again after it: building an
    index once is far cheaper than keeping it up to date row by row (10M rows: minutes instead of ~10)."""
    indexes = conn.execute(
        sa.text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = 'events' AND indexname <> 'events_pkey'"
        )
    ).all()
    for name, _ in indexes:
        conn.execute(sa.text(f'DROP INDEX "{name}"'))
    yield
    for _, definition in indexes:
        conn.execute(sa.text(definition))


def generate_world(engine: sa.Engine, events: int, *, days: int = 14, seed: float = 0.42) -> datetime:
    """Insert ~`events` events in sessions over `days` days (and users, creators, videos); return the end."""
    sessions = max(1, events // EVENTS_PER_SESSION)
    users = max(10, events // 100)
    videos = max(10, events // 50)
    creators = max(5, videos // 20)
    end = START + timedelta(days=days)
    seconds = days * 86_400
    with connect(engine) as conn:
        conn.execute(sa.text("SELECT setseed(:seed)"), {"seed": seed})
        conn.execute(
            sa.text(
                "INSERT INTO users (user_id, region, signup_at) "
                "SELECT u, 'us', :start - random() * interval '60 days' FROM generate_series(0, :n - 1) u"
            ),
            {"start": START, "n": users},
        )
        conn.execute(
            sa.text(
                "INSERT INTO creators (creator_id, joined_at) "
                "SELECT c, :start - interval '30 days' + random() * interval '40 days' "
                "FROM generate_series(0, :n - 1) c"
            ),
            {"start": START, "n": creators},
        )
        # Half the corpus exists before the window, half is uploaded during it.
        conn.execute(
            sa.text(
                "INSERT INTO videos (video_id, creator_id, uploaded_at, duration_s) "
                "SELECT v, (random() * (:creators - 1))::bigint, "
                ":start - interval '7 days' + random() * (:seconds + 7 * 86400) * interval '1 second', "
                "5 + random() * 55 FROM generate_series(0, :n - 1) v"
            ),
            {"start": START, "n": videos, "creators": creators, "seconds": seconds},
        )
        with _event_indexes_rebuilt(conn):
            conn.execute(
                sa.text(EVENTS_SQL),
                {"start": START, "videos": videos, "users": users, "seconds": seconds, "sessions": sessions},
            )
        conn.execute(
            sa.text(
                "INSERT INTO follows (user_id, creator_id, ts) "
                "SELECT DISTINCT ON (e.user_id, v.creator_id) e.user_id, v.creator_id, e.ts "
                "FROM events e JOIN videos v ON v.video_id = e.video_id "
                "WHERE e.event_type = 'follow' AND v.creator_id IS NOT NULL "
                "ORDER BY e.user_id, v.creator_id, e.ts"
            )
        )
    with connect(engine, transaction=False) as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("ANALYZE"))
    return end


def run_features_bench(
    database_url: str, events: int = 1_000_000, *, days: int = 14, jobs: int = 1
) -> list[ViewTiming]:
    """Full build of every view on a fresh synthetic log, then an incremental build of one more hour."""
    timings: list[ViewTiming] = []
    with scratch_database(database_url, "foryou_bench_features") as url:
        migrate.upgrade(url)
        engine = make_engine(url)
        try:
            end = generate_world(engine, events, days=days)
            full_end = end - timedelta(hours=1)
            with connect(engine, transaction=False) as conn:
                n_full = conn.execute(
                    sa.text("SELECT count(*) FROM events WHERE ts <= :t"), {"t": full_end}
                ).scalar_one()
                n_all = conn.execute(
                    sa.text("SELECT count(*) FROM events WHERE ts <= :t"), {"t": end}
                ).scalar_one()
            for phase, until, n in (("full", full_end, n_full), ("incremental", end, n_all - n_full)):
                for result in build(engine, until, now=end, jobs=jobs):
                    timings.append(
                        ViewTiming(result.view, phase, result.rows_written, result.seconds, int(n))
                    )
        finally:
            engine.dispose()
    return timings
