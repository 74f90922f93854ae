"""Within-session sequences from the event log, in SQL: one row per (target, prefix step).

A **target** is a video the user engaged positively in a session (a `view` with watch_fraction ≥ 0.75, a
like, a save or a share; the first such event per session and video gives `target_ts`). Its **cut** is the
moment the video was shown: the latest impression of it in that session at or before `target_ts` (the feed
had chosen it by then), or `target_ts` itself without one. Its **prefix** is the last `max_len` watched
videos of the same session (`view` and `skip` events, each logged when the watch ends, with dwell_ms and
watch_fraction) with `ts < cut` — strictly before the cut, so nothing at or after the target is in it.
Targets with an empty prefix, and targets the user had already been shown before the cut (serving never
retrieves a video already shown), are dropped.

Per step the model reads (serving/session_encoder.py `STEP_FEATURES`): dwell_ms, watch_fraction, skipped
(a `skip` rather than a `view`), engaged (a like, save or share of that video in the session at or before
the step's own ts, so already logged when the step was) and age_s (seconds from the step to the cut).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipelines.datasets.build import DatasetError
from serving.session_encoder import STEP_FEATURES

POSITIVE = (
    "(p.event_type IN ('like', 'save', 'share') OR (p.event_type = 'view' AND p.watch_fraction >= 0.75))"
)

TARGETS_SQL = f"""
WITH positives AS (
    SELECT p.session_id, p.user_id, p.video_id, min(p.ts) AS target_ts
    FROM events AS p
    WHERE p.session_id IS NOT NULL AND {POSITIVE}
      AND p.ts <= :until AND (CAST(:since AS timestamptz) IS NULL OR p.ts > :since)
    GROUP BY p.session_id, p.user_id, p.video_id
), cuts AS (
    SELECT p.*, coalesce(
        (SELECT max(i.ts) FROM events AS i
         WHERE i.user_id = p.user_id AND i.session_id = p.session_id AND i.video_id = p.video_id
           AND i.event_type = 'impression' AND i.ts <= p.target_ts),
        p.target_ts) AS cut
    FROM positives AS p
)
SELECT c.session_id, c.user_id, c.video_id, c.target_ts, c.cut
FROM cuts AS c
WHERE EXISTS (
        SELECT 1 FROM events AS s
        WHERE s.user_id = c.user_id AND s.session_id = c.session_id AND s.ts < c.cut
          AND s.event_type IN ('view', 'skip')
          AND (CAST(:since AS timestamptz) IS NULL OR s.ts > :since))
  AND NOT EXISTS (
        SELECT 1 FROM events AS shown
        WHERE shown.user_id = c.user_id AND shown.video_id = c.video_id
          AND shown.event_type = 'impression' AND shown.ts < c.cut)
"""

# The prefix of a row `n` (user_id, session_id, cut): its session's last :max_len watched videos before the
# cut, newest first (also the evaluation's session source, pipelines/evaluate/session_source.py).
PREFIX_STEPS_SQL = """
    SELECT e.event_id AS step_event_id, e.video_id AS step_video_id, e.ts AS step_ts,
           e.dwell_ms, e.watch_fraction,
           (e.event_type = 'skip') AS skipped,
           EXISTS (
               SELECT 1 FROM events AS p
               WHERE p.user_id = e.user_id AND p.session_id = e.session_id AND p.video_id = e.video_id
                 AND p.event_type IN ('like', 'save', 'share') AND p.ts <= e.ts) AS engaged
    FROM events AS e
    WHERE e.user_id = n.user_id AND e.session_id = n.session_id AND e.ts < n.cut
      AND e.event_type IN ('view', 'skip')
      AND (CAST(:since AS timestamptz) IS NULL OR e.ts > :since)
    ORDER BY e.ts DESC, e.event_id DESC
    LIMIT :max_len
"""

STEPS_SQL = f"""
WITH targets AS ({TARGETS_SQL}),
numbered AS (
    SELECT row_number() OVER (ORDER BY t.cut, t.user_id, t.video_id, t.session_id) - 1 AS target, t.*
    FROM targets AS t
)
SELECT n.target, n.session_id, n.user_id, n.video_id, n.target_ts, n.cut,
       s.step_video_id, s.step_ts, s.dwell_ms, s.watch_fraction, s.skipped, s.engaged
FROM numbered AS n
CROSS JOIN LATERAL (
{PREFIX_STEPS_SQL}
) AS s
ORDER BY n.target, s.step_ts, s.step_event_id
"""


@dataclass(frozen=True)
class Sequences:
    """Targets (one row each, ordered by cut) and their prefixes as left-aligned arrays, oldest step first."""

    targets: pd.DataFrame  # target, session_id, user_id, video_id, target_ts, cut (UTC)
    step_video_id: np.ndarray  # int64 [T, max_len], -1 = padding
    steps: np.ndarray  # float32 [T, max_len, len(STEP_FEATURES)], 0 = padding
    step_ts: np.ndarray  # float64 [T, max_len] unix seconds, NaN = padding (for checks)
    lengths: np.ndarray  # int64 [T], 1 … max_len

    def __len__(self) -> int:
        return len(self.targets)

    def subset(self, mask: np.ndarray) -> Sequences:
        return Sequences(
            self.targets[mask].reset_index(drop=True),
            self.step_video_id[mask],
            self.steps[mask],
            self.step_ts[mask],
            self.lengths[mask],
        )


def read_sequences(
    engine: Engine, *, until: datetime, since: datetime | None = None, max_len: int = 20
) -> Sequences:
    """Every target with target_ts in (since, until] and its prefix (see the module docstring)."""
    if not 1 <= max_len <= 200:
        raise ValueError(f"max_len must be in [1, 200] (got {max_len}).")
    with engine.connect() as conn:
        result = conn.execute(sa.text(STEPS_SQL), {"until": until, "since": since, "max_len": max_len})
        rows = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    return pack(rows, max_len)


def pack(rows: pd.DataFrame, max_len: int) -> Sequences:
    """Long (target, step) rows → per-target arrays, steps left-aligned oldest first."""
    width = len(STEP_FEATURES)
    if rows.empty:
        empty = pd.DataFrame(columns=["target", "session_id", "user_id", "video_id", "target_ts", "cut"])
        return Sequences(
            empty,
            np.zeros((0, max_len), np.int64),
            np.zeros((0, max_len, width), np.float32),
            np.zeros((0, max_len), np.float64),
            np.zeros(0, np.int64),
        )
    for column in ("target_ts", "cut", "step_ts"):
        rows[column] = pd.to_datetime(rows[column], utc=True)
    target = rows["target"].to_numpy(np.int64)
    n = int(target.max()) + 1
    first = np.searchsorted(target, np.arange(n), side="left")
    lengths = np.bincount(target, minlength=n).astype(np.int64)
    column = np.arange(len(rows)) - first[target]
    step_video_id = np.full((n, max_len), -1, np.int64)
    step_video_id[target, column] = rows["step_video_id"].to_numpy(np.int64)
    epoch = pd.Timestamp(0, tz="UTC")
    step_s = (rows["step_ts"] - epoch).dt.total_seconds().to_numpy(np.float64)
    cut_s = (rows["cut"] - epoch).dt.total_seconds().to_numpy(np.float64)
    step_ts = np.full((n, max_len), np.nan)
    step_ts[target, column] = step_s
    values = {
        "dwell_ms": pd.to_numeric(rows["dwell_ms"]).fillna(0).to_numpy(np.float64),
        "watch_fraction": pd.to_numeric(rows["watch_fraction"]).fillna(0).to_numpy(np.float64),
        "skipped": rows["skipped"].astype(bool).to_numpy(np.float64),
        "engaged": rows["engaged"].astype(bool).to_numpy(np.float64),
        "age_s": cut_s - step_s,
    }
    steps = np.zeros((n, max_len, width), np.float32)
    for j, name in enumerate(STEP_FEATURES):
        steps[target, column, j] = values[name]
    targets = rows.drop_duplicates("target")[
        ["target", "session_id", "user_id", "video_id", "target_ts", "cut"]
    ]
    return Sequences(targets.reset_index(drop=True), step_video_id, steps, step_ts, lengths)


def empty_window_error(engine: Engine, what: str, since: datetime | None, until: datetime) -> DatasetError:
    """A DatasetError naming the window and the event log's span."""
    with engine.connect() as conn:
        span = conn.execute(sa.text("SELECT min(ts), max(ts), count(*) FROM events")).one()
    known = (
        f"the event log spans {span[0].isoformat()} … {span[1].isoformat()} ({span[2]:,} events)"
        if span[2]
        else "the event log is empty (run `foryou simulate` or `foryou ingest` first)"
    )
    start = since.isoformat() if since else "the first event"
    return DatasetError(
        f"The session {what} window ({start}, {until.isoformat()}] has no within-session targets (a long "
        f"watch, like, save or share after at least one watched video of the same session); {known}. "
        "Move --until later, --since earlier, or change --holdout-days."
    )
