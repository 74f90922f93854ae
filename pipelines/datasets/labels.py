"""Label SQL: the entity rows (with their labels) of each training task, computed set-based in Postgres.

Each function returns one SELECT whose columns are the entity set Feast joins features to:
`user_id, video_id, creator_id, event_timestamp, request_ts_s` plus the label columns. Parameters are bound
by name (`:since`, `:until`, `:horizon_s`). Definitions in docs/datasets.md.

Ranking: one row per impression. Its labels are the events by the same user on the same video with
`ts` in (impression ts, impression ts + horizon], stopping early at that user's next impression of the same
video (a re-impression starts its own row). Impressions whose horizon would end after `until` are dropped,
so no label reads an event after the cut.

Retrieval: one row per (user, video, request) with a positive engagement (long watch, like, save, share);
`event_timestamp` is the first positive event's ts minus 1 microsecond, so the user features never contain
the positive itself (a feature row at exactly the event's ts would count it).
"""

from __future__ import annotations

LONG_WATCH_FRACTION = 0.75
DEFAULT_HORIZON_S = 3600

RANKING_LABELS = ("like", "long_watch", "share", "save", "comment", "follow", "watch_time_s")
RETRIEVAL_LABELS = ("long_watch", "like", "save", "share")
ENTITY_COLUMNS = ("user_id", "video_id", "creator_id", "event_timestamp", "request_ts_s")


def ranking_sql(*, with_since: bool) -> str:
    """Impressions in (since, until − horizon] with labels from the horizon after each one."""
    since = "AND imp.ts > :since" if with_since else ""
    return f"""
WITH imp AS (
    SELECT i.event_id, i.user_id, i.video_id, i.ts, i.request_id, i.session_id, i.position,
           LEAD(i.ts) OVER (PARTITION BY i.user_id, i.video_id ORDER BY i.ts, i.event_id) AS next_ts
    FROM events i
    WHERE i.event_type = 'impression' AND i.ts <= :until {since.replace("imp.", "i.")}
),
rows AS (
    SELECT imp.*,
           LEAST(imp.ts + make_interval(secs => :horizon_s), COALESCE(imp.next_ts, 'infinity')) AS horizon_end
    FROM imp
    WHERE imp.ts + make_interval(secs => :horizon_s) <= :until {since}
)
SELECT r.user_id,
       r.video_id,
       v.creator_id,
       r.ts AS event_timestamp,
       EXTRACT(EPOCH FROM r.ts)::double precision AS request_ts_s,
       r.event_id AS impression_id,
       r.request_id,
       r.session_id,
       r.position,
       COALESCE(bool_or(e.event_type = 'like'), false)::int AS "like",
       COALESCE(bool_or(e.event_type = 'view' AND e.watch_fraction >= {LONG_WATCH_FRACTION}), false)::int
           AS long_watch,
       COALESCE(bool_or(e.event_type = 'share'), false)::int AS share,
       COALESCE(bool_or(e.event_type = 'save'), false)::int AS save,
       COALESCE(bool_or(e.event_type = 'comment'), false)::int AS comment,
       COALESCE(bool_or(e.event_type = 'follow'), false)::int AS follow,
       COALESCE(SUM(e.dwell_ms) FILTER (WHERE e.event_type = 'view'), 0)::double precision / 1000.0
           AS watch_time_s
FROM rows r
JOIN videos v ON v.video_id = r.video_id
LEFT JOIN events e
       ON e.user_id = r.user_id AND e.video_id = r.video_id
      AND e.ts > r.ts AND e.ts <= r.horizon_end AND e.ts < COALESCE(r.next_ts, 'infinity')
      AND e.event_type <> 'impression'
GROUP BY r.event_id, r.user_id, r.video_id, v.creator_id, r.ts, r.request_id, r.session_id, r.position
"""


def retrieval_sql(*, with_since: bool) -> str:
    """Positive (user, video, request) pairs in (since, until] with the kinds of engagement seen."""
    since = "AND e.ts > :since" if with_since else ""
    return f"""
WITH pos AS (
    SELECT e.user_id, e.video_id, e.request_id, e.ts, e.event_type, e.watch_fraction
    FROM events e
    WHERE e.ts <= :until {since}
      AND (e.event_type IN ('like', 'save', 'share')
           OR (e.event_type = 'view' AND e.watch_fraction >= {LONG_WATCH_FRACTION}))
)
SELECT p.user_id,
       p.video_id,
       v.creator_id,
       MIN(p.ts) - interval '1 microsecond' AS event_timestamp,
       EXTRACT(EPOCH FROM MIN(p.ts) - interval '1 microsecond')::double precision AS request_ts_s,
       p.request_id,
       bool_or(p.event_type = 'view')::int AS long_watch,
       bool_or(p.event_type = 'like')::int AS "like",
       bool_or(p.event_type = 'save')::int AS save,
       bool_or(p.event_type = 'share')::int AS share
FROM pos p
JOIN videos v ON v.video_id = p.video_id
GROUP BY p.user_id, p.video_id, v.creator_id, p.request_id
"""
