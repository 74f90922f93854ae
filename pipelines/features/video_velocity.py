"""video_velocity: how fast a video is gaining views and likes right now (for trending).

Per-(video, 5-minute bucket) view and like counts; each bucket again where it leaves the 15-minute,
30-minute and 1-hour windows; one running-sum pass gives every window over (T - W, T].
velocity = views in the last 15 minutes
expressed per hour; acceleration = velocity now minus velocity over the 15 minutes before that.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipelines.features.definitions import GRAIN
from pipelines.features.spec import BuildWindow, Column, FeatureView
from pipelines.features.sql import (
    ACTIVE,
    bucket_end,
    interval,
    running_window,
    union_of_contributions,
    windowed_sum,
)

WINDOWS: dict[str, timedelta] = {
    "15m": timedelta(minutes=15),
    "30m": timedelta(minutes=30),  # only for acceleration: the previous 15 minutes = 30m - 15m
    "1h": timedelta(hours=1),
}
LOOKBACK = max(WINDOWS.values())
PER_HOUR = timedelta(hours=1) / WINDOWS["15m"]  # 4: a 15-minute count → a per-hour rate

COLUMNS: tuple[Column, ...] = (
    Column("views_15m", "BIGINT", "count"),
    Column("likes_15m", "BIGINT", "count"),
    Column("views_1h", "BIGINT", "count"),
    Column("likes_1h", "BIGINT", "count"),
    Column("velocity", "DOUBLE PRECISION", "nonneg"),
    Column("acceleration", "DOUBLE PRECISION", "real"),
)


def _sql(staging: str, incremental: bool) -> str:
    read_from = " AND ts > :read_from" if incremental else ""
    columns = ["video_id", "t", "kind", "views", "likes"]
    same = {c: c for c in ("video_id", "views", "likes")}
    parts: list[tuple[dict[str, str], str]] = [({**same, "t": "t", "kind": str(ACTIVE)}, "FROM active")]
    for kind, span in enumerate(WINDOWS.values(), start=1):
        t = f"t + {interval(span)}"
        parts.append(({**same, "t": t, "kind": str(kind)}, f"FROM active WHERE {t} <= :end"))
    kinds = {w: kind for kind, w in enumerate(WINDOWS, start=1)}
    emitted = "WHERE t > :start" if incremental else ""
    return f"""
CREATE TEMP TABLE {staging} ON COMMIT DROP AS
WITH active AS (
    SELECT video_id, {bucket_end("ts")} AS t,
        count(*) FILTER (WHERE event_type = 'view')::int AS views,
        count(*) FILTER (WHERE event_type = 'like')::int AS likes
    FROM events
    WHERE event_type IN ('view', 'like') AND ts <= :end{read_from}
    GROUP BY 1, 2
),
window_rows AS (
    {union_of_contributions(columns, parts)}
),
windowed AS (
    SELECT video_id, t,
        {windowed_sum("views", kinds["15m"])} AS views_15m,
        {windowed_sum("likes", kinds["15m"])} AS likes_15m,
        {windowed_sum("views", kinds["30m"])} AS views_30m,
        {windowed_sum("views", kinds["1h"])} AS views_1h,
        {windowed_sum("likes", kinds["1h"])} AS likes_1h
    FROM window_rows
    WINDOW {running_window("video_id")}
)
SELECT DISTINCT ON (video_id, t) video_id, t AS event_timestamp,
    views_15m::int AS views_15m,
    likes_15m::int AS likes_15m,
    views_1h::int AS views_1h,
    likes_1h::int AS likes_1h,
    (views_15m * {PER_HOUR!r})::float8 AS velocity,
    ((views_15m - (views_30m - views_15m)) * {PER_HOUR!r})::float8 AS acceleration
FROM windowed
{emitted}
ORDER BY video_id, t
"""


def stage(conn: Connection, window: BuildWindow, staging: str) -> None:
    """Stage the video_velocity rows with event_timestamp in the window into temporary table `staging`."""
    conn.execute(sa.text(_sql(staging, window.start is not None)), window.params(LOOKBACK))


VIEW = FeatureView(
    name="video_velocity",
    entity="video_id",
    grain=GRAIN,
    columns=COLUMNS,
    stage=stage,
    description="per-video views and likes over 15m/1h, velocity (views per hour) and acceleration",
)
