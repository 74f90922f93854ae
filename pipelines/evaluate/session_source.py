"""The session encoder as a candidate source: each query's session so far → a query in the video space.

For a retrieval query (a user at the moment just before their first holdout positive, retrieval.py), the
session is the one that positive belongs to, and the prefix is its watched videos (`view` and `skip`)
strictly before the query time — the same prefix steps the session encoder trains on
(pipelines/train/sessions.py `PREFIX_STEPS_SQL`), cut at the query instead of at a target's impression. The
encoder turns the prefix into a query; the source ranks the corpus by query · video-tower vector like the
two-tower source. A query whose session has no watched video yet gets no candidates (serving would fall back
to the other sources): the note under the table says how many.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipelines.evaluate.retrieval import Corpus, Queries, Source, top_k
from pipelines.train.sessions import PREFIX_STEPS_SQL, pack

QUERY_PREFIX_SQL = f"""
WITH q AS (
    SELECT (q.n - 1)::int8 AS target, q.user_id, q.cut
    FROM unnest(CAST(:users AS int8[]), CAST(:cuts AS timestamptz[])) WITH ORDINALITY AS q(user_id, cut, n)
), n AS (
    SELECT q.target, q.user_id, NULL::int8 AS video_id, q.cut AS target_ts, q.cut,
           (SELECT e.session_id FROM events AS e
            WHERE e.user_id = q.user_id AND e.ts >= q.cut AND e.session_id IS NOT NULL
            ORDER BY e.ts LIMIT 1) AS session_id
    FROM q
)
SELECT n.target, n.session_id, n.user_id, n.video_id, n.target_ts, n.cut,
       s.step_video_id, s.step_ts, s.dwell_ms, s.watch_fraction, s.skipped, s.engaged
FROM n
CROSS JOIN LATERAL ({PREFIX_STEPS_SQL}) AS s
ORDER BY n.target, s.step_ts, s.step_event_id
"""


def query_prefixes(engine: Engine, queries: Queries, max_len: int) -> Any:
    """`Sequences` (pipelines/train/sessions.py) indexed by query: lengths 0 where the session had no step."""
    cuts = pd.to_datetime(np.round(queries.query_s * 1e6).astype(np.int64), unit="us", utc=True)
    with engine.connect() as conn:
        result = conn.execute(
            sa.text(QUERY_PREFIX_SQL),
            {
                "users": queries.user_id.tolist(),
                "cuts": [c.to_pydatetime() for c in cuts],
                "since": None,
                "max_len": max_len,
            },
        )
        rows = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    packed = pack(rows, max_len)
    missing = len(queries) - len(packed.lengths)  # queries after the last one with a prefix
    if missing > 0:
        packed = type(packed)(
            packed.targets,
            np.vstack([packed.step_video_id, np.full((missing, max_len), -1, np.int64)]),
            np.concatenate([packed.steps, np.zeros((missing, *packed.steps.shape[1:]), np.float32)]),
            np.vstack([packed.step_ts, np.full((missing, max_len), np.nan)]),
            np.concatenate([packed.lengths, np.zeros(missing, np.int64)]),
        )
    return packed


def session_source(engine: Engine, encoder: Any, vectors: np.ndarray, notes: list[str]) -> Source:
    """A Source: per query, the corpus ranked by session query · video vector (`vectors` in corpus order)."""

    def source(q: Queries, c: Corpus, k: int) -> list[np.ndarray]:
        prefixes = query_prefixes(engine, q, encoder.max_len)
        lengths = prefixes.lengths
        has = np.flatnonzero(lengths > 0)
        found = np.zeros_like(prefixes.step_video_id)
        known = prefixes.step_video_id >= 0
        found[known] = c.rows(prefixes.step_video_id[known])
        embeddings = np.where(known[..., None], vectors[found], 0.0).astype(np.float32)
        out = [np.array([], dtype=np.int64)] * len(q)
        for start in range(0, len(has), 512):
            rows = has[start : start + 512]
            width = int(lengths[rows].max())
            queries = encoder.encode_batch(
                embeddings[rows, :width], prefixes.steps[rows, :width], lengths[rows]
            )
            scores = queries.astype(np.float64) @ vectors.T.astype(np.float64)
            for j, i in enumerate(rows.tolist()):
                out[i] = top_k(scores[j], c, q.query_s[i], q.seen[i], k)
        notes.append(
            f"session: {len(has):,} of {len(q):,} queries had watched videos earlier in their session "
            f"(the rest get no session candidates); prefixes of at most {encoder.max_len} steps"
        )
        return out

    return source
