"""Retrieval evaluation: recall@K of each candidate source, and of their union, on the holdout.

Protocol (docs/evaluation.md): a query is a holdout user at the moment just before their first holdout
positive (long watch, like, save or share); its targets are the videos that user engaged positively in the
holdout, minus those already shown to them before the query. Every source ranks the corpus as it stood at
the query time: videos uploaded later and videos the user was already shown are excluded (serving's
filters), so no source can profit from the future. "Shown" is an impression or a view (data without
impressions, e.g. MovieLens ratings, logs only views). recall@K = |top K ∩ targets| / |targets|, averaged
over queries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

DAY_S = 86_400.0


@dataclass
class Corpus:
    """Every video: id, creator, upload time (unix s); `row[video_id]` maps ids to positions."""

    video_id: np.ndarray
    creator_id: np.ndarray
    uploaded_s: np.ndarray
    row: dict[int, int] = field(init=False)

    def __post_init__(self) -> None:
        self.row = {int(v): i for i, v in enumerate(self.video_id)}

    def __len__(self) -> int:
        return len(self.video_id)

    def rows(self, video_ids: np.ndarray) -> np.ndarray:
        return np.fromiter((self.row[int(v)] for v in video_ids), dtype=np.int64, count=len(video_ids))


@dataclass
class Queries:
    """One query per holdout user; `seen` and `targets` hold corpus rows (not ids)."""

    user_id: np.ndarray
    query_s: np.ndarray
    targets: list[np.ndarray]
    seen: list[np.ndarray]
    features: pd.DataFrame  # the user's retrieval row at the query time (point-in-time features)

    def __len__(self) -> int:
        return len(self.user_id)


# A source: (queries, corpus, k) → per query, corpus rows ranked best first (already filtered).
Source = Callable[[Queries, Corpus, int], list[np.ndarray]]


def load_corpus(engine: Engine) -> Corpus:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT video_id, coalesce(creator_id, -1), extract(epoch FROM uploaded_at)::float8 "
                "FROM videos ORDER BY video_id"
            )
        ).all()
    array = np.array(rows, dtype=np.float64).reshape(-1, 3)
    return Corpus(array[:, 0].astype(np.int64), array[:, 1].astype(np.int64), array[:, 2])


def make_queries(
    engine: Engine, corpus: Corpus, holdout: pd.DataFrame, *, max_queries: int | None, seed: int
) -> Queries:
    """Queries from the retrieval holdout rows (sorted by time): the first positive per user."""
    frame = holdout.sort_values("event_timestamp", kind="stable")
    first = frame.groupby("user_id", sort=True).head(1).reset_index(drop=True)
    if max_queries is not None and len(first) > max_queries:
        first = first.sample(max_queries, random_state=seed).sort_values("user_id").reset_index(drop=True)
    query_s = first["event_timestamp"].map(pd.Timestamp.timestamp).to_numpy(dtype=np.float64)
    users = first["user_id"].to_numpy(dtype=np.int64)
    engaged = {u: np.unique(g.to_numpy()) for u, g in frame.groupby("user_id")["video_id"]}
    with engine.connect() as conn:
        shown = pd.DataFrame(
            conn.execute(
                sa.text(
                    "SELECT user_id, video_id, extract(epoch FROM ts)::float8 AS ts FROM events "
                    "WHERE event_type IN ('impression', 'view') AND user_id = ANY(:users) "
                    "AND ts <= to_timestamp(:last)"
                ),
                {"users": users.tolist(), "last": float(query_s.max()) if len(query_s) else 0.0},
            ).all(),
            columns=["user_id", "video_id", "ts"],
        )
    shown_by_user = {u: g for u, g in shown.groupby("user_id")}
    seen, targets = [], []
    for user, q in zip(users, query_s, strict=True):
        mine = shown_by_user.get(user)
        before = (
            np.unique(mine.loc[mine["ts"] < q, "video_id"].to_numpy()) if mine is not None else np.array([])
        )
        seen.append(corpus.rows(before.astype(np.int64)))
        fresh_targets = np.setdiff1d(engaged[user], before)
        targets.append(corpus.rows(fresh_targets.astype(np.int64)))
    keep = np.array([len(t) > 0 for t in targets], dtype=bool)
    return Queries(
        users[keep],
        query_s[keep],
        [t for t, k in zip(targets, keep, strict=True) if k],
        [s for s, k in zip(seen, keep, strict=True) if k],
        first[keep].reset_index(drop=True),
    )


def top_k(scores: np.ndarray, corpus: Corpus, query_s: float, seen: np.ndarray, k: int) -> np.ndarray:
    """Corpus rows of the k best scores among videos uploaded by the query time and not yet shown."""
    scores = np.asarray(scores, dtype=np.float64).copy()
    scores[corpus.uploaded_s > query_s] = -np.inf
    scores[seen] = -np.inf
    allowed = int(np.isfinite(scores).sum())
    k = min(k, allowed)
    if k == 0:
        return np.array([], dtype=np.int64)
    best = np.argpartition(-scores, k - 1)[:k]
    return best[np.argsort(-scores[best], kind="stable")]


def rank(queries: Queries, corpus: Corpus, score: Callable[[int], np.ndarray], k: int) -> list[np.ndarray]:
    """Per query, the best k corpus rows by `score(i)` among those uploaded by then and not yet shown."""
    return [top_k(score(i), corpus, queries.query_s[i], queries.seen[i], k) for i in range(len(queries))]


def recall_at(ranked: list[np.ndarray], targets: list[np.ndarray], k: int) -> float:
    """Mean over queries of |first k ∩ targets| / |targets|."""
    values = [
        len(np.intersect1d(r[:k], t, assume_unique=False)) / len(t)
        for r, t in zip(ranked, targets, strict=True)
    ]
    return float(np.mean(values)) if values else float("nan")


def union(lists: list[list[np.ndarray]]) -> list[np.ndarray]:
    """Per query, the sources' candidates interleaved round-robin (1st of each, 2nd of each, …), deduplicated.

    Its first K are a union at the same budget K as one source alone (each source gets ~K / n slots, more
    when another runs dry), so recall@K of the union compares fairly with each source's recall@K.
    """
    return [pd.unique(interleave(list(per_query))) for per_query in zip(*lists, strict=True)]


def interleave(lists: list[np.ndarray]) -> np.ndarray:
    """First of each list, then second of each, … (no deduplication)."""
    width = max((len(r) for r in lists), default=0)
    grid = np.full((width, len(lists)), -1, dtype=np.int64)
    for j, ranked in enumerate(lists):
        grid[: len(ranked), j] = ranked
    flat = grid.ravel()
    return flat[flat >= 0]
