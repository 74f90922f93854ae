"""user_stats: what a user did over the last hour, day, week and four weeks (one row per user per change).

The formulation, in one statement: events become per-(user, 5-minute bucket) partial sums; each bucket
appears again, as a row of kind i, at bucket + W_i where it leaves window i, so a count falls back to 0 on
time and that instant gets a row. One running-sum pass then gives every window over (T - W, T]:
Σ active rows up to T minus Σ kind-i rows up to T (see pipelines.features.sql.ACTIVE).

Distinct active days are exact: a window sums "first active bucket of its UTC day" indicators, which misses
only the day the window starts in when that day's first bucket lies before the window. That happens exactly
for T in [first_d + W, last_d + W) (first/last bucket holding events of day d), so each day with more than
one active bucket adds +1 at first_d + W and -1 at last_d + W, and a running sum of those is the correction.
Days are calendar days of the events (an event at 00:00:00 starts its day), so the unit is (day, bucket).
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipelines.features.definitions import (
    EMPTY_MEAN_WATCH_FRACTION,
    GRAIN,
    LONG_VIEW_FRACTION,
    PRIORS,
    STRENGTH,
)
from pipelines.features.spec import BuildWindow, Column, FeatureView
from pipelines.features.sql import (
    ACTIVE,
    EMIT,
    bucket_end,
    day_start,
    floor_to,
    interval,
    mean_or_default,
    running_window,
    smoothed_rate,
    union_of_contributions,
    watch_fraction_micros,
    windowed_sum,
)

WINDOWS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "28d": timedelta(days=28),
}
DAY_WINDOWS: dict[str, timedelta] = {"7d": WINDOWS["7d"], "28d": WINDOWS["28d"]}
LOOKBACK = max(WINDOWS.values())

EVENT_COUNTS: dict[str, str] = {
    "impressions": "event_type = 'impression'",
    "views": "event_type = 'view'",
    "long_views": f"event_type = 'view' AND watch_fraction >= {LONG_VIEW_FRACTION!r}",
    "likes": "event_type = 'like'",
    "shares": "event_type = 'share'",
    "saves": "event_type = 'save'",
    "comments": "event_type = 'comment'",
    "follows": "event_type = 'follow'",
    "skips": "event_type = 'skip'",
}
COUNTS: tuple[str, ...] = (*EVENT_COUNTS, "sessions")
RATES: dict[str, tuple[str, str]] = {  # rate → (count over views, prior)
    "like_rate": ("likes", "like"),
    "long_view_rate": ("long_views", "long_view"),
    "share_rate": ("shares", "share"),
}
SUMMED = (*COUNTS, "wf_n", "wf_micros")  # partial sums carried per bucket and summed per window


def _columns() -> tuple[Column, ...]:
    columns: list[Column] = []
    for w in WINDOWS:
        columns += [Column(f"{name}_{w}", "BIGINT", "count") for name in COUNTS]
        columns += [Column(f"{name}_{w}", "DOUBLE PRECISION", "rate") for name in RATES]
        columns.append(Column(f"mean_watch_fraction_{w}", "DOUBLE PRECISION", "nonneg"))
    columns += [Column(f"active_days_{w}", "BIGINT", "count") for w in DAY_WINDOWS]
    columns.append(Column("days_since_signup", "DOUBLE PRECISION", "real"))
    return tuple(columns)


COLUMNS = _columns()


def _batch_users() -> str:
    """Users with an emission point in (start, end]: events there or one window earlier, or a signup."""
    slices = ["SELECT user_id FROM events WHERE ts > :start AND ts <= :end"] + [
        f"SELECT user_id FROM events WHERE ts > :start - {interval(span)} AND ts <= :end - {interval(span)}"
        for span in WINDOWS.values()
    ]
    slices.append("SELECT user_id FROM users WHERE signup_at > :start AND signup_at <= :end")
    return "\n    UNION ".join(slices)


def _rows(incremental: bool) -> str:
    """Window input: each active bucket, again where it leaves each window, and the signup point."""
    measures = [*SUMMED, "day_first"]
    columns = ["user_id", "t", "kind", *measures, "day_edge"]
    same = {c: c for c in ["user_id", *measures]}
    parts: list[tuple[dict[str, str], str]] = [({**same, "t": "t", "kind": str(ACTIVE)}, "FROM flagged")]
    for kind, span in enumerate(WINDOWS.values(), start=1):
        t = f"t + {interval(span)}"
        parts.append(
            ({**same, "t": t, "kind": str(kind), "day_edge": "day_edge"}, f"FROM flagged WHERE {t} <= :end")
        )
    signup_after = " AND signup_at > :start" if incremental else ""
    parts.append(
        (
            {"user_id": "user_id", "t": bucket_end("signup_at"), "kind": str(EMIT)},
            f"FROM users WHERE signup_at <= :end{signup_after}",
        )
    )
    return union_of_contributions(columns, parts)


def _events(incremental: bool) -> str:
    """The events the batch reads: all up to the end, or (incremental) the batch users' in the read range,
    fetched user by user through the (user_id, ts) index."""
    if not incremental:
        return (
            "ev AS NOT MATERIALIZED (\n    SELECT user_id, ts, event_type, watch_fraction, session_id "
            "FROM events "
            "WHERE ts <= :end\n)"
        )
    return """ev AS MATERIALIZED (
    SELECT b.user_id, e.ts, e.event_type, e.watch_fraction, e.session_id
    FROM batch_users b CROSS JOIN LATERAL (
        SELECT ts, event_type, watch_fraction, session_id FROM events
        WHERE user_id = b.user_id AND ts > :read_from AND ts <= :end
        OFFSET 0  -- keeps this a per-user index scan (else the planner turns it into a scan of the range)
    ) e
)"""


def _sql(staging: str, incremental: bool) -> str:
    batch = f"batch_users AS MATERIALIZED (\n    {_batch_users()}\n)," if incremental else ""
    # A session that already had events before the read range started before every window we emit.
    started_before = (
        "WHERE NOT EXISTS (SELECT 1 FROM events p WHERE p.user_id = s.user_id "
        "AND p.session_id = s.session_id AND p.ts <= :read_from)"
        if incremental
        else ""
    )
    counts = ",\n        ".join(
        f"count(*) FILTER (WHERE {cond})::int AS {n}" for n, cond in EVENT_COUNTS.items()
    )
    kinds = {w: kind for kind, w in enumerate(WINDOWS, start=1)}
    sums = [f"{windowed_sum(c, kinds[w])} AS {c}_{w}" for w in WINDOWS for c in SUMMED]
    sums += [
        f"{windowed_sum('day_first', kinds[w])} + sum(CASE kind WHEN {kinds[w]} THEN day_edge ELSE 0 END) "
        f"OVER running AS active_days_{w}"
        for w in DAY_WINDOWS
    ]
    window_sums = ",\n        ".join(sums)
    strength = STRENGTH["user"]
    outputs: dict[str, str] = {}
    for w in WINDOWS:
        for name in COUNTS:
            outputs[f"{name}_{w}"] = f"w.{name}_{w}::int"
        for rate, (count, prior) in RATES.items():
            outputs[f"{rate}_{w}"] = smoothed_rate(f"w.{count}_{w}", f"w.views_{w}", PRIORS[prior], strength)
        outputs[f"mean_watch_fraction_{w}"] = mean_or_default(
            f"w.wf_micros_{w}", f"w.wf_n_{w}", 1e6, EMPTY_MEAN_WATCH_FRACTION
        )
    for w in DAY_WINDOWS:
        outputs[f"active_days_{w}"] = f"w.active_days_{w}::int"
    outputs["days_since_signup"] = "extract(epoch FROM w.t - u.signup_at)::float8 / 86400.0"
    assert list(outputs) == [c.name for c in COLUMNS]
    selected = ",\n    ".join(f"{expr} AS {name}" for name, expr in outputs.items())
    emitted = "WHERE t > :start" if incremental else ""
    return f"""
CREATE TEMP TABLE {staging} ON COMMIT DROP AS
WITH {batch}
{_events(incremental)},
sessions AS (
    SELECT user_id, session_id, min(ts) AS started FROM ev WHERE session_id IS NOT NULL
    GROUP BY user_id, session_id
),
marks AS (
    SELECT user_id, {day_start("ts")} AS day, {bucket_end("ts")} AS t, event_type, watch_fraction,
        0 AS session_start
    FROM ev
    UNION ALL
    SELECT user_id, {day_start("started")}, {bucket_end("started")}, NULL, NULL, 1
    FROM sessions s {started_before}
),
active AS (
    -- Keyed by (user, UTC day of the events, bucket): a bucket ending at midnight holds the day before's
    -- events and, exactly at midnight, the new day's, so it can be two rows here (summed alike below).
    SELECT user_id, day, t,
        {counts},
        sum(session_start)::int AS sessions,
        count(*) FILTER (WHERE event_type = 'view' AND watch_fraction IS NOT NULL)::int AS wf_n,
        COALESCE(sum({watch_fraction_micros()}) FILTER (WHERE event_type = 'view'), 0)::bigint AS wf_micros
    FROM marks
    GROUP BY 1, 2, 3
),
flagged AS (
    -- day_first: the first active bucket of its UTC day; day_edge: +1 on the first and -1 on the last
    -- bucket of a day with several (where the distinct-day correction starts and stops, one window later).
    SELECT a.*, (t = min(t) OVER d)::int AS day_first,
        CASE WHEN min(t) OVER d = max(t) OVER d THEN 0
             WHEN t = min(t) OVER d THEN 1 WHEN t = max(t) OVER d THEN -1 ELSE 0 END AS day_edge
    FROM active a
    WINDOW d AS (PARTITION BY user_id, day)
),
window_rows AS (
    {_rows(incremental)}
),
windowed AS (
    SELECT user_id, t,
        {window_sums}
    FROM window_rows
    WINDOW {running_window("user_id")}
),
emitted AS (
    SELECT DISTINCT ON (user_id, t) * FROM windowed {emitted} ORDER BY user_id, t
)
SELECT w.user_id, w.t AS event_timestamp,
    {selected}
FROM emitted w JOIN users u ON u.user_id = w.user_id
"""


def stage(conn: Connection, window: BuildWindow, staging: str) -> None:
    """Stage the user_stats rows with event_timestamp in the window into temporary table `staging`."""
    incremental = window.start is not None
    params = window.params()
    if window.start is not None:
        # Whole UTC days (and one more, as the first is cut at its midnight instant), so the first and last
        # active bucket of every day a window touches are known.
        params["read_from"] = floor_to(window.start - LOOKBACK, timedelta(days=1)) - timedelta(days=1)
    conn.execute(sa.text(_sql(staging, incremental)), params)


VIEW = FeatureView(
    name="user_stats",
    entity="user_id",
    grain=GRAIN,
    columns=COLUMNS,
    stage=stage,
    description="per-user activity counts, smoothed rates and active days over 1h/24h/7d/28d",
)
