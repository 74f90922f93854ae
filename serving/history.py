"""What the rankers know about a user besides the feature store: their positives and their follows.

    history = read_history(engine, until=now, user_ids=[user])   # one request: one user
    x_extra = affinity_inputs(two_tower, names, ..., history=history, at_s=...)

Training and evaluation read every user's history up to the end of their window once; each row then only
counts what happened strictly before its own time (serving/recent.py, serving/follows.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from serving.follows import Follows, read_follows
from serving.recent import Positives, read_positives


@dataclass(frozen=True)
class UserHistory:
    positives: Positives
    follows: Follows


def read_history(engine: Engine, until: datetime, *, user_ids: Sequence[int] | None = None) -> UserHistory:
    """Positives and follows with ts <= until (optionally of some users only)."""
    return UserHistory(
        read_positives(engine, until, user_ids=user_ids), read_follows(engine, until, user_ids=user_ids)
    )
