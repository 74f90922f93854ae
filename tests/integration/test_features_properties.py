"""Properties of the feature build on small random worlds (hypothesis), against an oracle.

The oracle computes each feature the slow, obvious way — one correlated query per (entity, time), straight
from the definitions in docs/features.md — so it shares no SQL with the pipeline. For every world:
  1. every built row equals the oracle at its own event_timestamp;
  2. a reader at any 5-minute boundary sees (in the latest row) the oracle's windowed values at that time,
     so windows fall back to zero on time, expiry included;
  3. building in several steps gives exactly the rows of one build;
  4. point in time: removing every event after T changes no row with event_timestamp <= T.
Times are drawn around a few anchors shifted by the windows' lengths, ± boundary-sized jitter, so events
land on and next to bucket and window edges; sessions and days straddle build steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foryou.db import make_engine
from foryou.schema import EVENT_TYPES
from foryou.scratch import scratch_database
from pipelines.features.build import VIEWS, build
from pipelines.features.definitions import PRIORS, STRENGTH

pytestmark = pytest.mark.integration

BASE = datetime(2026, 3, 1, tzinfo=UTC)
UNTIL = BASE + timedelta(days=64)
GRAIN = timedelta(minutes=5)
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
SHIFTS = [timedelta(0), 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, DAY, 7 * DAY, 28 * DAY]
FEATURE_TABLES = [f"features.{name}" for name in VIEWS] + ["features.video_popularity"]

# The oracle's own spelling of the definitions (deliberately not imported from the pipeline).
USER_WINDOWS = {"1h": HOUR, "24h": DAY, "7d": 7 * DAY, "28d": 28 * DAY}
COUNTED = {
    "impressions": "e.event_type = 'impression'",
    "views": "e.event_type = 'view'",
    "long_views": "e.event_type = 'view' AND e.watch_fraction >= 0.75",
    "likes": "e.event_type = 'like'",
    "shares": "e.event_type = 'share'",
    "saves": "e.event_type = 'save'",
    "comments": "e.event_type = 'comment'",
    "follows": "e.event_type = 'follow'",
    "skips": "e.event_type = 'skip'",
}
WATCHED = "e.event_type = 'view' AND e.watch_fraction IS NOT NULL"


def lit(span: timedelta) -> str:
    return f"interval '{int(span.total_seconds())} seconds'"


def ceil_grain(t: datetime) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    rest = (t - epoch) % GRAIN
    return t if not rest else t + (GRAIN - rest)


def smoothed(k: int, n: int, prior: str, entity: str) -> float:
    m = STRENGTH[entity]
    return (min(k, n) + PRIORS[prior] * m) / (n + m)


# ---------------------------------------------------------------------------------------------- worlds


@dataclass(frozen=True)
class World:
    events: list[tuple]  # event_id, user_id, video_id, event_type, ts, watch_fraction, session_id
    follows: list[tuple]  # user_id, creator_id, ts
    user2_signup: datetime
    creator2_joined: datetime
    video11_uploaded: datetime
    video12_uploaded: datetime

    def statements(self) -> list[tuple[str, dict]]:
        return [
            (
                "INSERT INTO users (user_id, region, signup_at) VALUES (1, 'us', :a), (2, 'us', :b)",
                {"a": BASE - DAY, "b": self.user2_signup},
            ),
            (
                "INSERT INTO creators (creator_id, joined_at) VALUES (1, :a), (2, :b)",
                {"a": BASE - 40 * DAY, "b": self.creator2_joined},
            ),
            (
                "INSERT INTO videos (video_id, creator_id, uploaded_at, duration_s) VALUES "
                "(10, 1, :a, 20), (11, 2, :b, NULL), (12, NULL, :c, 7)",
                {"a": BASE - 3 * DAY, "b": self.video11_uploaded, "c": self.video12_uploaded},
            ),
        ]


moments = st.builds(
    lambda anchor, shift, jitter: BASE + anchor + shift + jitter,
    st.sampled_from([timedelta(0), 10 * HOUR, 2 * DAY + 3 * HOUR + 17 * MINUTE, 23 * HOUR + 58 * MINUTE]),
    st.sampled_from(SHIFTS),
    st.one_of(
        st.sampled_from([timedelta(0), timedelta(microseconds=1), -timedelta(microseconds=1), -GRAIN, GRAIN]),
        st.integers(-900, 900).map(lambda s: timedelta(seconds=s)),
    ),
)
events = st.lists(
    st.tuples(
        st.sampled_from([1, 2]),
        st.sampled_from([10, 11, 12]),
        st.sampled_from(EVENT_TYPES),
        moments,
        st.sampled_from([None, 0.2, 0.74, 0.75, 1.3]),
        st.sampled_from([None, "s1", "s2", "s3"]),
    ),
    max_size=24,
)
worlds = st.builds(
    lambda evs, follows, u2, c2, v11, v12: World(
        events=[
            (f"e{i}", u, v, kind, ts, wf if kind == "view" else None, session)
            for i, (u, v, kind, ts, wf, session) in enumerate(evs)
        ],
        follows=[(u, c, ts) for (u, c), ts in follows.items()],
        user2_signup=u2,
        creator2_joined=c2,
        video11_uploaded=v11,
        video12_uploaded=v12,
    ),
    events,
    st.dictionaries(st.sampled_from([(1, 1), (1, 2), (2, 1), (2, 2)]), moments, max_size=4),
    moments,
    moments,
    moments,
    moments,
)


def load(engine: sa.Engine, world: World) -> None:
    """Replace everything in the database by `world` (no feature rows, no watermarks)."""
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE events, follows, blocks, videos, creators, users CASCADE"))
        for statement, params in world.statements():
            conn.execute(sa.text(statement), params)
        if world.events:
            columns = "event_id, user_id, video_id, event_type, ts, watch_fraction, session_id"
            conn.execute(
                sa.text(f"INSERT INTO events ({columns}) VALUES (:id, :u, :v, :k, :ts, :wf, :s)"),
                [dict(zip(("id", "u", "v", "k", "ts", "wf", "s"), e, strict=True)) for e in world.events],
            )
        if world.follows:
            conn.execute(
                sa.text("INSERT INTO follows (user_id, creator_id, ts) VALUES (:u, :c, :ts)"),
                [{"u": u, "c": c, "ts": ts} for u, c, ts in world.follows],
            )
    reset_features(engine)


def reset_features(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {', '.join(FEATURE_TABLES)}"))
        conn.execute(sa.text("DELETE FROM features.build_state"))


def snapshot(engine: sa.Engine, up_to: datetime | None = None) -> dict[str, set[tuple]]:
    """Every feature row (without `created`), per table; optionally only rows at or before `up_to`."""
    result = {}
    with engine.connect() as conn:
        for table in FEATURE_TABLES:
            time_column = "snapshot_at" if table.endswith("popularity") else "event_timestamp"
            where = f"WHERE {time_column} <= :t" if up_to else ""
            rows = conn.execute(sa.text(f"SELECT * FROM {table} {where}"), {"t": up_to}).mappings().all()
            result[table] = {tuple(v for k, v in row.items() if k != "created") for row in rows}
    return result


# ---------------------------------------------------------------------------------------------- oracle


def _points(ids: list[int], times: list[datetime]) -> str:
    return "unnest(CAST(:ids AS bigint[]), CAST(:times AS timestamptz[])) AS p(entity, t)"


def oracle_user(conn: sa.Connection, ids: list[int], times: list[datetime]) -> list[dict]:
    cols = []
    for w, span in USER_WINDOWS.items():
        inside = f"e.ts > p.t - {lit(span)}"
        cols += [
            f"count(*) FILTER (WHERE {cond} AND {inside}) AS {name}_{w}" for name, cond in COUNTED.items()
        ]
        cols += [
            f"count(*) FILTER (WHERE {WATCHED} AND {inside}) AS watched_{w}",
            f"sum(e.watch_fraction::float8) FILTER (WHERE {WATCHED} AND {inside}) AS watch_sum_{w}",
            f"count(DISTINCT (e.ts AT TIME ZONE 'UTC')::date) FILTER (WHERE {inside}) AS days_{w}",
        ]
    sessions = ", ".join(
        f"count(*) FILTER (WHERE started > p.t - {lit(span)}) AS sessions_{w}"
        for w, span in USER_WINDOWS.items()
    )
    sql = f"""
SELECT p.entity, p.t, extract(epoch FROM p.t - u.signup_at)::float8 / 86400 AS days_since_signup, c.*, s.*
FROM {_points(ids, times)}
JOIN users u ON u.user_id = p.entity
CROSS JOIN LATERAL (SELECT {", ".join(cols)} FROM events e WHERE e.user_id = p.entity AND e.ts <= p.t) c
CROSS JOIN LATERAL (
    SELECT {sessions} FROM (
        SELECT min(ts) AS started FROM events
        WHERE user_id = p.entity AND session_id IS NOT NULL AND ts <= p.t GROUP BY session_id
    ) x
) s"""
    out = []
    for r in conn.execute(sa.text(sql), {"ids": ids, "times": times}).mappings():
        row = {"user_id": r["entity"], "event_timestamp": r["t"]}
        for w in USER_WINDOWS:
            for name in (*COUNTED, "sessions"):
                row[f"{name}_{w}"] = r[f"{name}_{w}"]
            views = r[f"views_{w}"]
            row[f"like_rate_{w}"] = smoothed(r[f"likes_{w}"], views, "like", "user")
            row[f"long_view_rate_{w}"] = smoothed(r[f"long_views_{w}"], views, "long_view", "user")
            row[f"share_rate_{w}"] = smoothed(r[f"shares_{w}"], views, "share", "user")
            watched = r[f"watched_{w}"]
            row[f"mean_watch_fraction_{w}"] = r[f"watch_sum_{w}"] / watched if watched else 0.0
        row["active_days_7d"], row["active_days_28d"] = r["days_7d"], r["days_28d"]
        row["days_since_signup"] = r["days_since_signup"]
        out.append(row)
    return out


def oracle_creator(conn: sa.Connection, ids: list[int], times: list[datetime]) -> list[dict]:
    windows = {"7d": 7 * DAY, "28d": 28 * DAY}
    counted = {k: COUNTED[k] for k in ("views", "long_views", "likes", "shares", "follows")}
    cols = [
        f"count(*) FILTER (WHERE {cond} AND e.ts > p.t - {lit(span)}) AS {name}_{w}"
        for w, span in windows.items()
        for name, cond in counted.items()
    ]
    uploads = ", ".join(
        f"count(*) FILTER (WHERE uploaded_at > p.t - {lit(span)}) AS uploads_{w}"
        for w, span in windows.items()
    )
    sql = f"""
SELECT p.entity, p.t, c.joined_at > p.t - interval '28 days' AS is_new, ev.*, up.*,
    (SELECT count(*) FROM follows f WHERE f.creator_id = p.entity AND f.ts <= p.t) AS followers
FROM {_points(ids, times)}
JOIN creators c ON c.creator_id = p.entity
CROSS JOIN LATERAL (
    SELECT {", ".join(cols)} FROM events e JOIN videos v ON v.video_id = e.video_id
    WHERE v.creator_id = p.entity AND e.ts <= p.t
) ev
CROSS JOIN LATERAL (SELECT {uploads} FROM videos WHERE creator_id = p.entity AND uploaded_at <= p.t) up"""
    out = []
    for r in conn.execute(sa.text(sql), {"ids": ids, "times": times}).mappings():
        row = {"creator_id": r["entity"], "event_timestamp": r["t"]}
        for w in windows:
            views = r[f"views_{w}"]
            row[f"uploads_{w}"], row[f"views_{w}"] = r[f"uploads_{w}"], views
            row[f"like_rate_{w}"] = smoothed(r[f"likes_{w}"], views, "like", "creator")
            row[f"long_view_rate_{w}"] = smoothed(r[f"long_views_{w}"], views, "long_view", "creator")
            row[f"share_rate_{w}"] = smoothed(r[f"shares_{w}"], views, "share", "creator")
            row[f"follow_rate_{w}"] = smoothed(r[f"follows_{w}"], views, "follow", "creator")
        row["followers"], row["is_new_creator"] = r["followers"], int(r["is_new"])
        out.append(row)
    return out


def oracle_video(conn: sa.Connection, ids: list[int], times: list[datetime]) -> list[dict]:
    counted = {
        k: COUNTED[k] for k in ("impressions", "views", "long_views", "likes", "shares", "saves", "comments")
    }
    cols = [f"count(*) FILTER (WHERE {cond}) AS {name}" for name, cond in counted.items()]
    cols += [f"count(*) FILTER (WHERE {WATCHED}) AS watched", "sum(e.watch_fraction::float8) AS watch_sum"]
    views_by = (
        "(SELECT count(*) FROM events x WHERE x.video_id = {v} AND x.event_type = 'view' AND x.ts <= {d})"
    )
    other, this = views_by.format(v="o.video_id", d="p.d"), views_by.format(v="p.entity", d="p.d")
    sql = f"""
WITH pts AS (
    SELECT p.entity, p.t, date_trunc('day', p.t AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS d
    FROM {_points(ids, times)}
)
SELECT p.entity, p.t, v.creator_id, v.duration_s, v.uploaded_at, c.*,
    CASE WHEN v.uploaded_at <= p.d THEN
        (SELECT count(*) FILTER (WHERE {other} < {this})::float8 / count(*)
         FROM videos o WHERE o.uploaded_at <= p.d)
    ELSE 0 END AS pct
FROM pts p JOIN videos v ON v.video_id = p.entity
CROSS JOIN LATERAL (SELECT {", ".join(cols)} FROM events e WHERE e.video_id = p.entity AND e.ts <= p.t) c"""
    out = []
    for r in conn.execute(sa.text(sql), {"ids": ids, "times": times}).mappings():
        views = r["views"]
        out.append(
            {
                "video_id": r["entity"],
                "event_timestamp": r["t"],
                "creator_id": r["creator_id"] if r["creator_id"] is not None else -1,
                "duration_s": r["duration_s"] if r["duration_s"] is not None else -1.0,
                "uploaded_at_epoch_s": r["uploaded_at"].timestamp(),
                **{f"{name}_total": r[name] for name in counted},
                "like_rate": smoothed(r["likes"], views, "like", "video"),
                "long_view_rate": smoothed(r["long_views"], views, "long_view", "video"),
                "share_rate": smoothed(r["shares"], views, "share", "video"),
                "save_rate": smoothed(r["saves"], views, "save", "video"),
                "mean_watch_fraction": r["watch_sum"] / r["watched"] if r["watched"] else 0.0,
                "popularity_pct": r["pct"],
                "watch_fraction_count_total": r["watched"],
            }
        )
    return out


def oracle_velocity(conn: sa.Connection, ids: list[int], times: list[datetime]) -> list[dict]:
    sql = f"""
SELECT p.entity, p.t,
    count(*) FILTER (WHERE e.event_type = 'view' AND e.ts > p.t - interval '15 minutes') AS views_15m,
    count(*) FILTER (WHERE e.event_type = 'like' AND e.ts > p.t - interval '15 minutes') AS likes_15m,
    count(*) FILTER (WHERE e.event_type = 'view' AND e.ts > p.t - interval '1 hour') AS views_1h,
    count(*) FILTER (WHERE e.event_type = 'like' AND e.ts > p.t - interval '1 hour') AS likes_1h,
    count(*) FILTER (WHERE e.event_type = 'view' AND e.ts > p.t - interval '30 minutes'
                     AND e.ts <= p.t - interval '15 minutes') AS views_before
FROM {_points(ids, times)} LEFT JOIN events e ON e.video_id = p.entity AND e.ts <= p.t
GROUP BY p.entity, p.t"""
    out = []
    for r in conn.execute(sa.text(sql), {"ids": ids, "times": times}).mappings():
        out.append(
            {
                "video_id": r["entity"],
                "event_timestamp": r["t"],
                "views_15m": r["views_15m"],
                "likes_15m": r["likes_15m"],
                "views_1h": r["views_1h"],
                "likes_1h": r["likes_1h"],
                "velocity": 4.0 * r["views_15m"],
                "acceleration": 4.0 * (r["views_15m"] - r["views_before"]),
            }
        )
    return out


ORACLES = {
    "user_stats": ("user_id", [1, 2], oracle_user),
    "creator_stats": ("creator_id", [1, 2], oracle_creator),
    "video_stats": ("video_id", [10, 11, 12], oracle_video),
    "video_velocity": ("video_id", [10, 11, 12], oracle_velocity),
}
# Values that are right at the row's own time only (not carried to later read times until the next row).
NOT_WINDOWED = {"days_since_signup", "popularity_pct"}


def assert_rows_match(got: dict, want: dict, label: str) -> None:
    for column, expected in want.items():
        value = got[column]
        if isinstance(expected, float) and not isinstance(expected, bool):
            # watch fractions are summed in whole millionths
            assert math.isclose(value, expected, rel_tol=1e-9, abs_tol=2e-6), (
                label,
                column,
                value,
                expected,
                got,
            )
        else:
            assert value == expected, (label, column, value, expected, got)


def check_rows_against_oracle(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        for view, (entity, _, oracle) in ORACLES.items():
            built = [dict(r) for r in conn.execute(sa.text(f"SELECT * FROM features.{view}")).mappings()]
            if not built:
                continue
            want = oracle(conn, [r[entity] for r in built], [r["event_timestamp"] for r in built])
            expected = {(w[entity], w["event_timestamp"]): w for w in want}
            for row in built:
                assert_rows_match(row, expected[(row[entity], row["event_timestamp"])], f"{view} row")


def interesting_times(world: World) -> list[datetime]:
    """Grid times where some window's contents change, one grain before them, and the midnights."""
    moments = [e[4] for e in world.events] + [f[2] for f in world.follows]
    moments += [world.user2_signup, world.creator2_joined, world.video11_uploaded, world.video12_uploaded]
    times = set()
    for m in moments:
        for shift in SHIFTS:
            t = ceil_grain(m) + shift
            times |= {t, t - GRAIN}
    times |= {BASE + i * DAY for i in range(0, 64)}
    return sorted(t for t in times if t <= UNTIL)


def check_read_times(engine: sa.Engine, world: World) -> None:
    times = interesting_times(world)
    with engine.connect() as conn:
        for view, (entity, ids, oracle) in ORACLES.items():
            pairs = [(i, t) for i in ids for t in times]
            want = oracle(conn, [p[0] for p in pairs], [p[1] for p in pairs])
            latest_row = (
                f"SELECT * FROM features.{view} x WHERE x.{entity} = p.entity AND x.event_timestamp <= p.t "
                "ORDER BY x.event_timestamp DESC LIMIT 1"
            )
            read_at = (
                f"SELECT p.entity, p.t, r.* FROM {_points([], [])} LEFT JOIN LATERAL ({latest_row}) r ON true"
            )
            latest = (
                conn.execute(
                    sa.text(read_at),
                    {"ids": [p[0] for p in pairs], "times": [p[1] for p in pairs]},
                )
                .mappings()
                .all()
            )
            seen = {(r["entity"], r["t"]): r for r in latest}
            for w in want:
                row = seen[(w[entity], w["event_timestamp"])]
                windowed = {k: v for k, v in w.items() if k not in NOT_WINDOWED | {entity, "event_timestamp"}}
                if row["event_timestamp"] is None:  # nothing ever happened to it up to t: all counts zero
                    counts = {k: v for k, v in windowed.items() if isinstance(v, int) and "rate" not in k}
                    nonzero = {
                        k: v for k, v in counts.items() if v and k not in ("creator_id", "is_new_creator")
                    }
                    assert not nonzero, (view, "no row", w)
                    continue
                assert_rows_match(dict(row), windowed, f"{view} read at {w['event_timestamp']}")


# ---------------------------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def engine_for_worlds(server_urls, template_database: str) -> Iterator[sa.Engine]:  # type: ignore[no-untyped-def]
    with scratch_database(server_urls.database_url, "foryou_t", template=template_database) as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


def build_all(engine: sa.Engine, until: datetime = UNTIL) -> None:
    build(engine, until, now=UNTIL)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    world=worlds,
    cuts=st.lists(st.integers(1, 64 * 288 - 1), min_size=1, max_size=3),
    pit=st.integers(0, 64 * 288),
)
def test_features_match_the_oracle_incremental_and_point_in_time(
    engine_for_worlds: sa.Engine, world: World, cuts: list[int], pit: int
) -> None:
    engine = engine_for_worlds
    load(engine, world)
    build_all(engine)
    one_build = snapshot(engine)
    check_rows_against_oracle(engine)
    check_read_times(engine, world)

    # Several steps (any grid-aligned cut points) write exactly the rows of one build.
    reset_features(engine)
    for cut in sorted(set(cuts)):
        build_all(engine, BASE + cut * GRAIN)
    build_all(engine)
    assert snapshot(engine) == one_build

    # Point in time: without the events after T, every row at or before T is the same.
    t = BASE + pit * GRAIN
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM events WHERE ts > :t"), {"t": t})
        conn.execute(sa.text("DELETE FROM follows WHERE ts > :t"), {"t": t})
    reset_features(engine)
    build_all(engine)
    assert snapshot(engine, up_to=t) == snapshot_up_to(one_build, t)


def snapshot_up_to(rows: dict[str, set[tuple]], t: datetime) -> dict[str, set[tuple]]:
    # the time column is the second one of every feature table (event_timestamp / views_total is 2nd for
    # popularity, whose time column is the first)
    return {
        table: {r for r in table_rows if (r[0] if table.endswith("popularity") else r[1]) <= t}
        for table, table_rows in rows.items()
    }
