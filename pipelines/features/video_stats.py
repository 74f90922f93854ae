"""video_stats: a video's lifetime counts, smoothed rates and its popularity percentile.

Lifetime counts are running sums over per-(video, 5-minute bucket) partial sums, on top of the video's last
row before the batch (so an incremental build never re-reads a video's whole history). A video gets a row
at upload (all zeros), at every bucket with events, and at the next UTC midnight after them.

popularity_pct at T is the share of videos uploaded by D = the last UTC midnight <= T whose lifetime views at
D were strictly fewer than this video's views at D (0 for a video uploaded after D). The distribution at
each midnight is kept in features.video_popularity (count of videos per views_total); the build carries it
from one midnight to the next with the changes of the day (-1 at a video's old total, +1 at its new one,
+1 for each newly uploaded video), so only the videos with events that day are touched.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipelines.features.checks import FeatureBatchError
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
    DAY,
    EMIT,
    ROWS_RUNNING,
    bucket_end,
    day_of_bucket,
    day_start,
    floor_to,
    mean_or_default,
    running_sum,
    running_window,
    smoothed_rate,
    union_of_contributions,
    watch_fraction_micros,
)

EVENT_COUNTS: dict[str, str] = {
    "impressions": "event_type = 'impression'",
    "views": "event_type = 'view'",
    "long_views": f"event_type = 'view' AND watch_fraction >= {LONG_VIEW_FRACTION!r}",
    "likes": "event_type = 'like'",
    "shares": "event_type = 'share'",
    "saves": "event_type = 'save'",
    "comments": "event_type = 'comment'",
}
RATES: dict[str, tuple[str, str]] = {  # rate → (count over views, prior)
    "like_rate": ("likes", "like"),
    "long_view_rate": ("long_views", "long_view"),
    "share_rate": ("shares", "share"),
    "save_rate": ("saves", "save"),
}
# Partial sums per bucket → lifetime column.
TOTALS: dict[str, str] = {
    **{name: f"{name}_total" for name in EVENT_COUNTS},
    "wf_n": "watch_fraction_count_total",
    "wf_micros": "watch_fraction_micros_total",
}

COLUMNS: tuple[Column, ...] = (
    Column("creator_id", "BIGINT", "ref"),
    Column("duration_s", "DOUBLE PRECISION", "real"),
    Column("uploaded_at_epoch_s", "DOUBLE PRECISION", "real"),
    *(Column(f"{name}_total", "BIGINT", "count") for name in EVENT_COUNTS),
    *(Column(rate, "DOUBLE PRECISION", "rate") for rate in RATES),
    Column("mean_watch_fraction", "DOUBLE PRECISION", "nonneg"),
    Column("popularity_pct", "DOUBLE PRECISION", "rate"),
    Column("watch_fraction_count_total", "BIGINT", "count"),
    Column("watch_fraction_micros_total", "BIGINT", "count"),
)


def _batch_videos() -> str:
    """Videos with an emission point in (start, end]: events or an upload there, or a midnight after them."""
    return """SELECT video_id FROM events WHERE ts > :start AND ts <= :end
    UNION SELECT video_id FROM events WHERE ts > :read_from AND ts <= :last_midnight
    UNION SELECT video_id FROM videos WHERE uploaded_at > :read_from AND uploaded_at <= :end"""


def _rows_sql(rows: str, incremental: bool) -> str:
    """Lifetime totals per emitted (video, t), plus what the popularity snapshot needs."""
    after_start = " AND {t} > :start" if incremental else ""
    in_range = " AND {c} > :read_from" if incremental else ""
    in_batch = " AND video_id IN (SELECT video_id FROM batch_videos)" if incremental else ""
    batch = f"batch_videos AS MATERIALIZED (\n    {_batch_videos()}\n)," if incremental else ""
    counts = ",\n        ".join(
        f"count(*) FILTER (WHERE {cond})::int AS {n}" for n, cond in EVENT_COUNTS.items()
    )
    summed = list(TOTALS)
    columns = ["video_id", "t", "kind", *summed]
    upload, upload_midnight = bucket_end("uploaded_at"), bucket_end("uploaded_at", DAY)
    next_midnight = "day + interval '1 day'"
    emit = {"video_id": "video_id", "kind": str(EMIT)}
    window_rows = union_of_contributions(
        columns,
        [
            (
                {"video_id": "video_id", "t": "t", "kind": str(ACTIVE), **{c: c for c in summed}},
                "FROM active WHERE t IS NOT NULL",
            ),
            # The midnight after a day with events (one per video and day: the ROLLUP rows of `active`):
            # the day's popularity snapshot reaches the video's row.
            (
                {**emit, "t": next_midnight},
                "FROM active WHERE t IS NULL "
                f"AND {next_midnight} <= :end{after_start.format(t=next_midnight)}",
            ),
            ({**emit, "t": upload}, f"FROM uploaded WHERE {upload} <= :end{after_start.format(t=upload)}"),
            (
                {**emit, "t": upload_midnight},
                f"FROM uploaded WHERE {upload_midnight} <= :end{after_start.format(t=upload_midnight)}",
            ),
        ],
    )
    base_columns = ", ".join(f"s.{column}" for column in TOTALS.values())
    base = (
        f"""SELECT b.video_id, {base_columns}
    FROM batch_videos b
    CROSS JOIN LATERAL (
        SELECT {base_columns} FROM features.video_stats s
        WHERE s.video_id = b.video_id AND s.event_timestamp <= :read_from
        ORDER BY s.event_timestamp DESC LIMIT 1
    ) s"""
        if incremental
        else "SELECT NULL::bigint AS video_id, "
        + ", ".join(f"NULL::bigint AS {c}" for c in TOTALS.values())
        + " WHERE false"
    )
    running = ",\n        ".join(f"{running_sum(c)} AS {c}" for c in summed)
    totals = ",\n    ".join(f"COALESCE(base.{column}, 0) + w.{c} AS {column}" for c, column in TOTALS.items())
    emitted = "WHERE t > :start" if incremental else ""
    return f"""
CREATE TEMP TABLE {rows} ON COMMIT DROP AS
WITH {batch}
active AS (
    -- Per (video, bucket), plus one row per (video, day of its buckets) with t NULL (the ROLLUP): one sort
    -- gives both.
    SELECT video_id, day, t,
        {counts},
        count(*) FILTER (WHERE event_type = 'view' AND watch_fraction IS NOT NULL)::int AS wf_n,
        COALESCE(sum({watch_fraction_micros()}) FILTER (WHERE event_type = 'view'), 0)::bigint AS wf_micros
    FROM (
        SELECT video_id, {day_of_bucket(bucket_end("ts"))} AS day, {bucket_end("ts")} AS t,
            event_type, watch_fraction
        FROM events
        WHERE ts <= :end{in_range.format(c="ts")}{in_batch}
    ) e
    GROUP BY video_id, day, ROLLUP (t)
),
uploaded AS (
    SELECT video_id, uploaded_at FROM videos WHERE uploaded_at <= :end{in_range.format(c="uploaded_at")}
),
window_rows AS (
    SELECT r.*, {day_of_bucket("t")} AS day FROM (
    {window_rows}
    ) r
),
windowed AS (
    -- Both windows sort by (video, day, t), so one sort serves them.
    SELECT video_id, day, t,
        {running},
        sum(views) OVER in_day AS views_in_day
    FROM window_rows
    WINDOW {running_window("video_id", "day, t")},
        in_day AS (PARTITION BY video_id, day ORDER BY t)
),
emitted AS (
    SELECT DISTINCT ON (video_id, day, t) * FROM windowed {emitted} ORDER BY video_id, day, t
),
base AS (
    {base}
)
SELECT w.video_id, w.t, v.creator_id, v.duration_s, v.uploaded_at,
    {totals},
    -- views_in_day: views in (day start, t] of the day t's bucket belongs to; at a midnight, the day before.
    w.views_in_day::bigint AS views_in_day
FROM emitted w JOIN videos v ON v.video_id = w.video_id
LEFT JOIN base ON base.video_id = w.video_id
"""


def _popularity_sql(rows: str, incremental: bool) -> str:
    """Write the views distribution at every midnight in the batch, carried on from the previous one."""
    midnight = f"t = {day_start('t')}"
    first_day = f"{day_start(':start')} + interval '1 day'" if incremental else "(SELECT min(d) FROM deltas)"
    base = (
        """SELECT views_total AS v, videos FROM features.video_popularity
    WHERE snapshot_at = (
        SELECT max(snapshot_at) FROM features.video_popularity WHERE snapshot_at <= :start
    )"""
        if incremental
        else "SELECT NULL::bigint AS v, NULL::bigint AS videos WHERE false"
    )
    return f"""
INSERT INTO features.video_popularity (snapshot_at, views_total, videos, videos_below, videos_total)
WITH deltas AS (
    SELECT t AS d, views_total AS v, 1 AS delta FROM {rows} WHERE {midnight} AND uploaded_at <= t
    UNION ALL
    SELECT t, views_total - views_in_day, -1 FROM {rows}
    WHERE {midnight} AND {bucket_end("uploaded_at", DAY)} < t
),
changes AS (
    SELECT d, v, sum(delta)::bigint AS delta FROM deltas GROUP BY d, v HAVING sum(delta) <> 0
),
base AS (
    {base}
),
days AS (
    SELECT generate_series({first_day}, {day_start(":end")}, interval '1 day') AS d
),
vals AS (SELECT v FROM base UNION SELECT v FROM changes),
counts AS (
    SELECT days.d, vals.v,
        COALESCE(base.videos, 0)
        + COALESCE(sum(changes.delta) OVER (PARTITION BY vals.v ORDER BY days.d {ROWS_RUNNING}), 0) AS videos
    FROM days CROSS JOIN vals
    LEFT JOIN changes ON changes.d = days.d AND changes.v = vals.v
    LEFT JOIN base ON base.v = vals.v
)
SELECT d, v, videos,
    sum(videos) OVER (PARTITION BY d ORDER BY v {ROWS_RUNNING}) - videos,
    sum(videos) OVER (PARTITION BY d)
FROM counts WHERE videos <> 0
ON CONFLICT DO NOTHING
"""


def _staging_sql(staging: str, rows: str) -> str:
    strength = STRENGTH["video"]
    snapshot = day_start("r.t")
    outputs: dict[str, str] = {
        "creator_id": "COALESCE(r.creator_id, -1)",
        "duration_s": "COALESCE(r.duration_s::float8, -1.0)",
        "uploaded_at_epoch_s": "extract(epoch FROM r.uploaded_at)::float8",
        **{f"{name}_total": f"r.{name}_total" for name in EVENT_COUNTS},
        **{
            rate: smoothed_rate(f"r.{count}_total", "r.views_total", PRIORS[prior], strength)
            for rate, (count, prior) in RATES.items()
        },
        "mean_watch_fraction": mean_or_default(
            "r.watch_fraction_micros_total", "r.watch_fraction_count_total", 1e6, EMPTY_MEAN_WATCH_FRACTION
        ),
        "popularity_pct": f"""CASE WHEN r.uploaded_at <= {snapshot}
            THEN COALESCE(p.videos_below::float8 / p.videos_total, 0) ELSE 0 END""",
        "watch_fraction_count_total": "r.watch_fraction_count_total",
        "watch_fraction_micros_total": "r.watch_fraction_micros_total",
    }
    assert list(outputs) == [c.name for c in COLUMNS]
    selected = ",\n    ".join(f"{expr} AS {name}" for name, expr in outputs.items())
    return f"""
CREATE TEMP TABLE {staging} ON COMMIT DROP AS
SELECT r.video_id, r.t AS event_timestamp,
    {selected}
FROM {rows} r
LEFT JOIN features.video_popularity p
    ON p.snapshot_at = {snapshot}
   AND p.views_total = CASE WHEN r.t = {snapshot} THEN r.views_total ELSE r.views_total - r.views_in_day END
"""


def _check_popularity(conn: Connection, window: BuildWindow) -> None:
    after = " AND snapshot_at > :start" if window.start is not None else ""
    bad = conn.execute(
        sa.text(
            f"SELECT count(*) FROM features.video_popularity WHERE snapshot_at <= :end{after} "
            "AND NOT (videos > 0 AND videos_below >= 0 AND videos_below + videos <= videos_total)"
        ),
        window.params(),
    ).scalar_one()
    if bad:
        raise FeatureBatchError(
            f"features.video_popularity: {bad} snapshot row(s) in ({window.start}, {window.end}] are "
            "inconsistent (a video counted below zero times or beyond the total); nothing was written. "
            "This is a bug in the popularity SQL, or video_stats rows were deleted without their "
            "build_state: rebuild the view."
        )


def stage(conn: Connection, window: BuildWindow, staging: str) -> None:
    """Stage the window's video_stats rows into `staging`, after writing its popularity snapshots."""
    incremental = window.start is not None
    params = window.params()
    if window.start is not None:
        # Whole UTC days, so the day's views (for the midnight snapshot) are complete in every row.
        params["read_from"] = floor_to(window.start, DAY)
        params["last_midnight"] = floor_to(window.end, DAY)
    rows = f"{staging}_rows"
    conn.execute(sa.text(_rows_sql(rows, incremental)), params)
    conn.execute(sa.text(_popularity_sql(rows, incremental)), params)
    _check_popularity(conn, window)
    conn.execute(sa.text(_staging_sql(staging, rows)))


VIEW = FeatureView(
    name="video_stats",
    entity="video_id",
    grain=GRAIN,
    columns=COLUMNS,
    stage=stage,
    description="per-video lifetime counts, smoothed rates, mean watch fraction, daily popularity percentile",
)
