"""Short-term interest: how close a candidate is to what the user engaged with just before the request.

    history = read_positives(engine, until=now, user_ids=[user])
    similarity = recent_similarity(two_tower, history, user_ids, at_s, video_ids, videos)

`retrieval__recent_similarity` (`RECENT_SIMILARITY`) of a (user, time, candidate) row is the cosine between
the candidate's two-tower video vector and the mean of the video vectors of the user's last `RECENT_WINDOW`
positives (long watch, like, save, share) **strictly before** the row's time; NaN when the user had none
(or the candidate is unknown). The user tower sees long-term aggregates only; this sees the last few
videos themselves — the session's drift (the session encoder's signal, as one number a ranker can read).

Only the unit content part of the vectors is used (a trailing recency component is left out), and a cosine
between two videos of the same fit does not change under a rotation of the space, so the value is
comparable across two-tower fits of one recipe: the rankers train on an out-of-time fit's values
(pipelines/train/ranking_features.out_of_time_rows) and are served the current fit's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

RECENT_SIMILARITY = "retrieval__recent_similarity"
RECENT_WINDOW = 10  # positives
LONG_WATCH_FRACTION = 0.75  # = pipelines.datasets.labels.LONG_WATCH_FRACTION (a test keeps them equal)


@dataclass(frozen=True)
class Positives:
    """Positive engagements sorted by (user, time): user id, unix seconds, video id."""

    user_id: np.ndarray
    ts_s: np.ndarray
    video_id: np.ndarray

    @classmethod
    def of(cls, user_id: Any, ts_s: Any, video_id: Any) -> Positives:
        user_id = np.asarray(user_id, dtype=np.int64)
        ts_s = np.asarray(ts_s, dtype=np.float64)
        video_id = np.asarray(video_id, dtype=np.int64)
        order = np.lexsort((ts_s, user_id))
        return cls(user_id[order], ts_s[order], video_id[order])

    def __len__(self) -> int:
        return len(self.user_id)

    def windows(self, user_ids: Any, at_s: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Per row, [start, end) into these positives: the user's last ≤ n strictly before `at_s`."""
        user_ids = np.asarray(user_ids, dtype=np.int64)
        at_s = np.asarray(at_s, dtype=np.float64)
        first = np.searchsorted(self.user_id, user_ids, side="left")
        last = np.searchsorted(self.user_id, user_ids, side="right")
        end = first.copy()
        order = np.argsort(user_ids, kind="stable")
        for rows in np.split(order, np.flatnonzero(np.diff(user_ids[order])) + 1):  # one group per user
            if not len(rows):
                continue
            lo, hi = int(first[rows[0]]), int(last[rows[0]])
            end[rows] = lo + np.searchsorted(self.ts_s[lo:hi], at_s[rows], side="left")
        return np.maximum(first, end - n), end


def read_positives(
    engine: Engine,
    until: datetime,
    *,
    since: datetime | None = None,
    user_ids: Sequence[int] | None = None,
) -> Positives:
    """Positive events (long watch, like, save, share) with since < ts <= until, optionally for some users."""
    where = ["ts <= :until"]
    args: dict[str, Any] = {"until": until}
    if since is not None:
        where.append("ts > :since")
        args["since"] = since
    if user_ids is not None:
        where.append("user_id = ANY(:users)")
        args["users"] = [int(u) for u in user_ids]
    sql = (
        "SELECT user_id, extract(epoch FROM ts)::float8, video_id FROM events "
        "WHERE (event_type IN ('like', 'save', 'share') "
        f"OR (event_type = 'view' AND watch_fraction >= {LONG_WATCH_FRACTION})) AND " + " AND ".join(where)
    )
    with engine.connect() as conn:
        rows = np.array(conn.execute(sa.text(sql), args).all(), dtype=np.float64).reshape(-1, 3)
    return Positives.of(rows[:, 0], rows[:, 1], rows[:, 2])


def content_dims(model: Any) -> int:
    """Leading components of the two-tower's vectors that are the unit content part (all but recency)."""
    recency = getattr(model, "recency", None)
    if recency is None:
        recency = bool(model.artifact.manifest.params.get("recency"))
    return int(model.dim) - 1 if recency else int(model.dim)


def unit_video_vectors(model: Any, video_ids: np.ndarray, videos: pd.DataFrame) -> np.ndarray:
    """float32 [n, content dims]: unit content vectors per id (each distinct video embedded once; NaN rows
    for ids missing from `videos`)."""
    ids = np.asarray(video_ids, dtype=np.int64)
    known = videos[videos["video_id"].isin(np.unique(ids))].drop_duplicates("video_id")
    k = content_dims(model)
    table = (
        model.embed_videos(known.reset_index(drop=True))[:, :k]
        if len(known)
        else np.zeros((0, k), np.float32)
    )
    table = table / np.maximum(np.linalg.norm(table, axis=1, keepdims=True), 1e-12)
    position = pd.Index(known["video_id"].to_numpy(dtype=np.int64)).get_indexer(ids)
    out = np.full((len(ids), k), np.nan, dtype=np.float32)
    out[position >= 0] = table[position[position >= 0]]
    return out


def recent_similarity(
    model: Any,
    history: Positives,
    user_ids: Any,
    at_s: Any,
    video_ids: Any,
    videos: pd.DataFrame,
    n: int = RECENT_WINDOW,
) -> np.ndarray:
    """float32 [rows]: cosine(candidate, mean of the user's last n positives before `at_s`); NaN without."""
    video_ids = np.asarray(video_ids, dtype=np.int64)
    start, end = history.windows(user_ids, at_s, n)
    used = np.zeros(len(history), dtype=bool)
    for s, e in zip(start.tolist(), end.tolist(), strict=True):
        used[s:e] = True
    wanted = np.unique(np.concatenate([history.video_id[used], video_ids]))
    table = unit_video_vectors(model, wanted, videos)
    candidate = table[np.searchsorted(wanted, video_ids)]
    watched = np.nan_to_num(table[np.searchsorted(wanted, history.video_id[used])])
    cumulative = np.zeros((len(history) + 1, table.shape[1]), dtype=np.float64)
    cumulative[1:][used] = watched
    cumulative = np.cumsum(cumulative, axis=0)
    profile = cumulative[end] - cumulative[start]  # the window's sum (the mean's direction)
    norm = np.linalg.norm(profile, axis=1)
    cosine = np.sum(profile * candidate, axis=1) / np.maximum(norm * np.linalg.norm(candidate, axis=1), 1e-12)
    return np.where((end > start) & (norm > 0), cosine, np.nan).astype(np.float32)
