"""Candidate sources as the evaluation sees them: baselines, heuristics serving also runs, and the oracle.

Each factory returns a `Source` (see retrieval.py): per query, corpus rows ranked best first, computed only
from what was known at the query time.
"""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipelines.evaluate.retrieval import DAY_S, Corpus, Queries, Source, rank, top_k


class TimedEvents:
    """(time, corpus row) pairs sorted by time, counted per window quickly."""

    def __init__(self, times_s: np.ndarray, rows: np.ndarray, n_rows: int) -> None:
        order = np.argsort(times_s, kind="stable")
        self.times, self.rows, self.n = times_s[order], rows[order], n_rows

    def counts(self, start_s: float, end_s: float) -> np.ndarray:
        """Events with start < time <= end, per corpus row."""
        lo = np.searchsorted(self.times, start_s, side="right")
        hi = np.searchsorted(self.times, end_s, side="right")
        return np.bincount(self.rows[lo:hi], minlength=self.n).astype(np.float64)


def popularity(positives: TimedEvents, until_s: float) -> Source:
    """Most engaged videos of the whole training window (one list for everyone)."""
    scores = positives.counts(-np.inf, until_s)
    return lambda q, c, k: rank(q, c, lambda _i: scores, k)


def recent_popularity(positives: TimedEvents, window_s: float = DAY_S) -> Source:
    """Most engaged videos in the window before each query (a moving 24 h by default)."""
    return lambda q, c, k: rank(q, c, lambda i: positives.counts(q.query_s[i] - window_s, q.query_s[i]), k)


def trending(views: TimedEvents, window_s: float = 3600.0) -> Source:
    """Velocity: most viewed in the last hour before the query (what the trending list holds)."""
    return recent_popularity(views, window_s)


def fresh(window_s: float = DAY_S) -> Source:
    """Newest uploads first, among those of the last day."""

    def source(q: Queries, c: Corpus, k: int) -> list[np.ndarray]:
        def score(i: int) -> np.ndarray:
            age = q.query_s[i] - c.uploaded_s
            return np.where(age <= window_s, c.uploaded_s, -np.inf)

        return rank(q, c, score, k)

    return source


def follow_graph(engine: Engine, queries: Queries) -> Source:
    """Newest uploads of the creators the user followed before the query time."""
    with engine.connect() as conn:
        edges = conn.execute(
            sa.text(
                "SELECT user_id, creator_id, extract(epoch FROM ts)::float8 FROM follows "
                "WHERE user_id = ANY(:u)"
            ),
            {"u": queries.user_id.tolist()},
        ).all()
    followed: dict[int, list[tuple[int, float]]] = {}
    for user, creator, ts in edges:
        followed.setdefault(int(user), []).append((int(creator), float(ts)))

    def source(q: Queries, c: Corpus, k: int) -> list[np.ndarray]:
        def score(i: int) -> np.ndarray:
            creators = [cr for cr, ts in followed.get(int(q.user_id[i]), []) if ts <= q.query_s[i]]
            return np.where(np.isin(c.creator_id, creators), c.uploaded_s, -np.inf)

        return rank(q, c, score, k)

    return source


def oracle(response_model) -> Source:  # type: ignore[no-untyped-def]
    """The simulated world's ground truth: expected utility of each video for the user (long-term taste)."""

    def source(q: Queries, c: Corpus, k: int) -> list[np.ndarray]:
        def score(i: int) -> np.ndarray:
            users = np.full(len(c), int(q.user_id[i]), dtype=np.int64)
            return response_model.expected_utility(users, c.video_id)

        return rank(q, c, score, k)

    return source


def scored(user_vectors: np.ndarray, video_vectors: np.ndarray) -> Source:
    """A dot-product source (two-tower, session encoder): exact search over the corpus, batched."""

    def source(q: Queries, c: Corpus, k: int) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        for start in range(0, len(q), 256):
            block = user_vectors[start : start + 256] @ video_vectors.T
            for j, scores in enumerate(block):
                i = start + j
                out.append(top_k(scores, c, q.query_s[i], q.seen[i], k))
        return out

    return source
