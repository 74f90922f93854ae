"""Whether the user followed the candidate's creator before the request: a user × creator ranker input.

    follows = read_follows(engine, until=now, user_ids=[user])
    flags = follows.followed_before(user_ids, creator_ids, at_s)     # float32: 1 followed, 0 not

`retrieval__follows_creator` (`FOLLOWS_CREATOR`) of a (user, time, candidate) row is 1 when the user
followed the candidate's creator **strictly before** the row's time, else 0 (the `follows` table holds one
row per (user, creator) with the time of the follow; there are no unfollows). No FeatureService view holds
a user × creator pair, and on the demo world it matters: impressions of followed creators are engaged
positively at 0.43 against 0.23, and a follow of an already followed creator cannot happen.
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

FOLLOWS_CREATOR = "retrieval__follows_creator"


@dataclass(frozen=True)
class Follows:
    """One row per (user, creator) follow: ids and the follow's unix seconds."""

    user_id: np.ndarray
    creator_id: np.ndarray
    ts_s: np.ndarray

    @classmethod
    def of(cls, user_id: Any, creator_id: Any, ts_s: Any) -> Follows:
        return cls(
            np.asarray(user_id, dtype=np.int64),
            np.asarray(creator_id, dtype=np.int64),
            np.asarray(ts_s, dtype=np.float64),
        )

    def __len__(self) -> int:
        return len(self.user_id)

    def followed_before(self, user_ids: Any, creator_ids: Any, at_s: Any) -> np.ndarray:
        """float32 per row: 1 when the user followed the creator before `at_s` (the first follow), else 0."""
        pairs = pd.DataFrame({"u": self.user_id, "c": self.creator_id, "t": self.ts_s})
        first = pairs.groupby(["u", "c"], sort=False)["t"].min()
        rows = pd.MultiIndex.from_arrays(
            [np.asarray(user_ids, dtype=np.int64), np.asarray(creator_ids, dtype=np.int64)]
        )
        if not len(first):
            return np.zeros(len(rows), dtype=np.float32)
        position = first.index.get_indexer(rows)
        since = np.where(position >= 0, first.to_numpy()[np.maximum(position, 0)], np.inf)
        return (since < np.asarray(at_s, dtype=np.float64)).astype(np.float32)


def read_follows(engine: Engine, until: datetime, *, user_ids: Sequence[int] | None = None) -> Follows:
    """Follows with ts <= until, optionally of some users."""
    sql = "SELECT user_id, creator_id, extract(epoch FROM ts)::float8 FROM follows WHERE ts <= :until"
    args: dict[str, Any] = {"until": until}
    if user_ids is not None:
        sql += " AND user_id = ANY(:users)"
        args["users"] = [int(u) for u in user_ids]
    with engine.connect() as conn:
        rows = np.array(conn.execute(sa.text(sql), args).all(), dtype=np.float64).reshape(-1, 3)
    return Follows.of(rows[:, 0], rows[:, 1], rows[:, 2])
