"""creator_stats: how a creator's videos do over 7 and 28 days, followers, and whether the creator is new.

Same formulation as user_stats: per-(creator, 5-minute bucket) partial sums of the events on the creator's
videos and of uploads, each bucket again where it leaves a window, one running-sum pass over (T - W, T].
`followers` is cumulative (a running sum of follows rows, on top of the creator's last row before the
batch); `is_new_creator` flips at joined_at + 28 days, so that instant gets a row of its own.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipelines.features.definitions import GRAIN, LONG_VIEW_FRACTION, PRIORS, STRENGTH
from pipelines.features.spec import BuildWindow, Column, FeatureView
from pipelines.features.sql import (
    ACTIVE,
    EMIT,
    bucket_end,
    interval,
    running_window,
    smoothed_rate,
    union_of_contributions,
    windowed_sum,
)

WINDOWS: dict[str, timedelta] = {"7d": timedelta(days=7), "28d": timedelta(days=28)}
LOOKBACK = max(WINDOWS.values())
NEW_CREATOR_PERIOD = timedelta(days=28)

EVENT_COUNTS: dict[str, str] = {
    "views": "event_type = 'view'",
    "long_views": f"event_type = 'view' AND watch_fraction >= {LONG_VIEW_FRACTION!r}",
    "likes": "event_type = 'like'",
    "shares": "event_type = 'share'",
    "follow_events": "event_type = 'follow'",
}
RATES: dict[str, tuple[str, str]] = {  # rate → (count over views, prior)
    "like_rate": ("likes", "like"),
    "long_view_rate": ("long_views", "long_view"),
    "share_rate": ("shares", "share"),
    "follow_rate": ("follow_events", "follow"),
}
SUMMED = (*EVENT_COUNTS, "uploads")


def _columns() -> tuple[Column, ...]:
    columns: list[Column] = []
    for w in WINDOWS:
        columns += [Column(f"uploads_{w}", "BIGINT", "count"), Column(f"views_{w}", "BIGINT", "count")]
        columns += [Column(f"{rate}_{w}", "DOUBLE PRECISION", "rate") for rate in RATES]
    return (*columns, Column("followers", "BIGINT", "count"), Column("is_new_creator", "BIGINT", "flag"))


COLUMNS = _columns()


def _batch_creators() -> str:
    """Creators with an emission point in (start, end]: activity there or one window earlier, follows,
    joining, or the end of the new-creator period."""
    slices = [(":start", ":end")] + [
        (f":start - {interval(span)}", f":end - {interval(span)}") for span in WINDOWS.values()
    ]
    in_slices = " OR ".join(f"({{c}} > {a} AND {{c}} <= {b})" for a, b in slices)
    new = interval(NEW_CREATOR_PERIOD)
    return f"""SELECT v.creator_id FROM events e JOIN videos v ON v.video_id = e.video_id
        WHERE {in_slices.format(c="e.ts")}
    UNION SELECT creator_id FROM videos WHERE {in_slices.format(c="uploaded_at")}
    UNION SELECT creator_id FROM follows WHERE ts > :start AND ts <= :end
    UNION SELECT creator_id FROM creators WHERE (joined_at > :start AND joined_at <= :end)
        OR (joined_at > :start - {new} AND joined_at <= :end - {new})"""


def _rows(incremental: bool) -> str:
    """Window input: each active bucket, again where it leaves each window, joining and the flag's end."""
    columns = ["creator_id", "t", "kind", *SUMMED, "new_followers"]
    same = {c: c for c in ["creator_id", *SUMMED]}
    parts: list[tuple[dict[str, str], str]] = [
        ({**same, "t": "t", "kind": str(ACTIVE), "new_followers": "new_followers"}, "FROM active")
    ]
    # Only buckets with something windowed leave a window (a bucket of follows alone does not).
    windowed = " + ".join(SUMMED) + " > 0"
    for kind, span in enumerate(WINDOWS.values(), start=1):
        t = f"t + {interval(span)}"
        parts.append(({**same, "t": t, "kind": str(kind)}, f"FROM active WHERE {t} <= :end AND {windowed}"))
    after_start = " AND {t} > :start" if incremental else ""
    joined = bucket_end("joined_at")
    flips = f"{joined} + {interval(NEW_CREATOR_PERIOD)}"
    in_batch = " AND creator_id IN (SELECT creator_id FROM batch_creators)" if incremental else ""
    for t in (joined, flips):
        parts.append(
            (
                {"creator_id": "creator_id", "t": t, "kind": str(EMIT)},
                f"FROM creators WHERE {t} <= :end{after_start.format(t=t)}{in_batch}",
            )
        )
    return union_of_contributions(columns, parts)


def _creator_events(incremental: bool) -> str:
    """Events on creators' videos: all up to the end, or (incremental) those of the batch creators in the read
    range, fetched video by video through the (video_id, ts) index."""
    kinds = "event_type IN ('view', 'like', 'share', 'follow')"
    if not incremental:
        return f"events e JOIN videos v ON v.video_id = e.video_id WHERE e.ts <= :end AND e.{kinds}"
    return f"""batch_creators b JOIN videos v ON v.creator_id = b.creator_id
    CROSS JOIN LATERAL (
        SELECT ts, event_type, watch_fraction FROM events
        WHERE video_id = v.video_id AND ts > :read_from AND ts <= :end AND {kinds}
        OFFSET 0  -- keeps this a per-video index scan
    ) e"""


def _sql(staging: str, incremental: bool) -> str:
    in_range = " AND {c} > :read_from" if incremental else ""
    in_batch = " AND {c} IN (SELECT creator_id FROM batch_creators)" if incremental else ""
    batch = f"batch_creators AS MATERIALIZED (\n    {_batch_creators()}\n)," if incremental else ""
    follows_from = " AND ts > :start" if incremental else ""
    counts = ",\n        ".join(
        f"count(*) FILTER (WHERE {cond})::int AS {n}" for n, cond in EVENT_COUNTS.items()
    )
    kinds = {w: kind for kind, w in enumerate(WINDOWS, start=1)}
    window_sums = ",\n        ".join(
        f"{windowed_sum(c, kinds[w])} AS {c}_{w}" for w in WINDOWS for c in SUMMED
    )
    # The creator's followers before this batch: its last row, looked up once per creator.
    base = (
        """SELECT b.creator_id, s.followers
    FROM batch_creators b
    CROSS JOIN LATERAL (
        SELECT s.followers FROM features.creator_stats s
        WHERE s.creator_id = b.creator_id AND s.event_timestamp <= :start
        ORDER BY s.event_timestamp DESC LIMIT 1
    ) s"""
        if incremental
        else "SELECT NULL::bigint AS creator_id, NULL::bigint AS followers WHERE false"
    )
    outputs: dict[str, str] = {}
    for w in WINDOWS:
        outputs[f"uploads_{w}"] = f"w.uploads_{w}::int"
        outputs[f"views_{w}"] = f"w.views_{w}::int"
        for rate, (count, prior) in RATES.items():
            outputs[f"{rate}_{w}"] = smoothed_rate(
                f"w.{count}_{w}", f"w.views_{w}", PRIORS[prior], STRENGTH["creator"]
            )
    outputs["followers"] = "(COALESCE(base.followers, 0) + w.followers_since)::bigint"
    outputs["is_new_creator"] = f"(c.joined_at > w.t - {interval(NEW_CREATOR_PERIOD)})::int"
    assert list(outputs) == [c.name for c in COLUMNS]
    selected = ",\n    ".join(f"{expr} AS {name}" for name, expr in outputs.items())
    emitted = "WHERE t > :start" if incremental else ""
    return f"""
CREATE TEMP TABLE {staging} ON COMMIT DROP AS
WITH {batch}
marks AS (
    SELECT v.creator_id, {bucket_end("e.ts")} AS t, e.event_type, e.watch_fraction, 0 AS upload, 0 AS follow
    FROM {_creator_events(incremental)}
    UNION ALL
    SELECT creator_id, {bucket_end("uploaded_at")}, NULL, NULL, 1, 0 FROM videos
    WHERE creator_id IS NOT NULL
      AND uploaded_at <= :end{in_range.format(c="uploaded_at")}{in_batch.format(c="creator_id")}
    UNION ALL
    SELECT creator_id, {bucket_end("ts")}, NULL, NULL, 0, 1 FROM follows
    WHERE ts <= :end{follows_from}{in_batch.format(c="creator_id")}
),
active AS (
    SELECT creator_id, t,
        {counts},
        sum(upload)::int AS uploads,
        sum(follow)::int AS new_followers
    FROM marks
    WHERE creator_id IS NOT NULL
    GROUP BY 1, 2
),
window_rows AS (
    {_rows(incremental)}
),
windowed AS (
    SELECT creator_id, t,
        {window_sums},
        sum(CASE kind WHEN {ACTIVE} THEN new_followers ELSE 0 END) OVER running AS followers_since
    FROM window_rows
    WINDOW {running_window("creator_id")}
),
emitted AS (
    SELECT DISTINCT ON (creator_id, t) * FROM windowed {emitted} ORDER BY creator_id, t
),
base AS (
    {base}
)
SELECT w.creator_id, w.t AS event_timestamp,
    {selected}
FROM emitted w JOIN creators c ON c.creator_id = w.creator_id
LEFT JOIN base ON base.creator_id = w.creator_id
"""


def stage(conn: Connection, window: BuildWindow, staging: str) -> None:
    """Stage the creator_stats rows with event_timestamp in the window into temporary table `staging`."""
    conn.execute(sa.text(_sql(staging, window.start is not None)), window.params(LOOKBACK))


VIEW = FeatureView(
    name="creator_stats",
    entity="creator_id",
    grain=GRAIN,
    columns=COLUMNS,
    stage=stage,
    description="per-creator uploads, views and engagement rates over 7d/28d, followers, new-creator flag",
)
