"""User × video affinity from the two-tower model: the rankers' extra inputs, one function for every caller.

    two_tower = TwoTowerModel.load(store)
    x_extra = affinity_inputs(two_tower, names, user_ids, user_features, video_ids, videos)

Training (pipelines/train/reranker.py, first_stage.py), the offline evaluation (pipelines/evaluate/models.py)
and serving compute the rankers' two-tower inputs here, so the three cannot drift apart. Inputs per row: the
user id and the user's `two_tower_user` features at the row's time (float32 [n, F] in `two_tower.features`
order, NaN = missing), the candidate's video id, and rows of the `videos` table holding every candidate
(`serving.two_tower.read_videos`). Names (columns of the result, in the order asked for):

- `retrieval__two_tower_score` (`TWO_TOWER_SCORE`): user · video, the retrieval score itself;
- `retrieval__two_tower_score_std` (`TWO_TOWER_SCORE_STD`): the same score standardised by the version's
  background: (score − μ) / σ, μ and σ over every (user, video) pair of the version's reference sample
  (`reference.npz`: 64 users × 64 videos, nearly all never engaged). Ranking by it equals ranking by the
  score; unlike the raw score it is comparable across two-tower fits of the same recipe (their cosines and
  recency terms sit at different levels), which is what lets a ranker learn on one fit's scores and be
  served another's (the rankers' out-of-time training, pipelines/train/ranking_features.out_of_time_rows);
- `retrieval__recent_similarity` (`RECENT_SIMILARITY`, serving/recent.py): cosine between the candidate and
  the mean of the user's last positives before the row's time — short-term interest (needs `history`);
- `retrieval__follows_creator` (`FOLLOWS_CREATOR`, serving/follows.py): 1 when the user followed the
  candidate's creator before the row's time (needs `history`; the creator comes from `videos`);
- `retrieval__two_tower_uv_<i>` (`product_names(dim)`): component i of the element-wise product
  user ⊙ video (their sum is the score) — richer than the single score, but tied to one vector space:
  another fit's dimensions mean something else unless its space is first rotated onto this one (the
  re-ranker's out-of-time training does that, orthogonal Procrustes over the catalogue's video vectors).

A candidate missing from `videos` gets NaN (the rankers treat NaN as missing). A ranker trained on these
inputs records the two-tower version it was trained against (manifest param `two_tower_version`); the ranker
loaders in serving/rankers.py refuse a different two-tower (the vectors would live in another space).
Serving never imports training code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from serving.follows import FOLLOWS_CREATOR
from serving.history import UserHistory
from serving.recent import RECENT_SIMILARITY, recent_similarity

TWO_TOWER_SCORE = "retrieval__two_tower_score"
TWO_TOWER_SCORE_STD = "retrieval__two_tower_score_std"
PRODUCT_PREFIX = "retrieval__two_tower_uv_"


def product_names(dim: int) -> list[str]:
    """Names of the element-wise product's components, `retrieval__two_tower_uv_00` …"""
    return [f"{PRODUCT_PREFIX}{i:02d}" for i in range(dim)]


def pair_vectors(
    model: Any,
    user_ids: Sequence[int] | np.ndarray,
    user_features: Any,
    video_ids: Sequence[int] | np.ndarray,
    videos: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray]:
    """(user vectors, video vectors), float32 [n, dim] each, one row per (user, video) pair.

    Each distinct video is embedded once; a video absent from `videos` gets a NaN vector."""
    ids = np.asarray(video_ids, dtype=np.int64).reshape(-1)
    users = model.embed_users(user_ids, user_features)
    if len(users) != len(ids):
        raise ValueError(
            f"score_pairs takes one video per user row; got {len(users)} users, {len(ids)} videos."
        )
    wanted = np.unique(ids)
    known = videos[videos["video_id"].isin(wanted)].drop_duplicates("video_id")
    table = model.embed_videos(known.reset_index(drop=True)) if len(known) else np.zeros((0, model.dim))
    position = pd.Index(known["video_id"].to_numpy(dtype=np.int64)).get_indexer(ids)
    vectors = np.full((len(ids), model.dim), np.nan, dtype=np.float32)
    found = position >= 0
    vectors[found] = table[position[found]]
    return users, vectors


def score_scale(model: Any, reference: Any = None) -> tuple[float, float]:
    """(μ, σ) of user · video over all pairs of a reference sample (default: the model's `reference.npz`).

    `reference` = (user ids, user features, video input dict); pass another version's to put two fits on
    the same background. Cached on the model per reference."""
    cache = getattr(model, "_affinity_scale", None)
    if reference is None and cache is not None:
        return cache
    ref = reference if reference is not None else model.reference_inputs()
    if ref is None:
        raise ValueError(
            f"two-tower {model.version} has no reference sample; {TWO_TOWER_SCORE_STD} cannot be computed. "
            "Retrain the two-tower (`foryou train two-tower`) or use the raw score."
        )
    users = np.asarray(model.embed_users(ref[0], ref[1]), dtype=np.float64)
    videos = np.asarray(model.embed_video_inputs(ref[2]), dtype=np.float64)
    scores = users @ videos.T
    scale = (float(scores.mean()), float(max(scores.std(), 1e-6)))
    if reference is None:
        model._affinity_scale = scale
    return scale


def score_pairs(
    model: Any,
    user_ids: Sequence[int] | np.ndarray,
    user_features: Any,
    video_ids: Sequence[int] | np.ndarray,
    videos: pd.DataFrame,
) -> np.ndarray:
    """float32 [n]: user tower(user row) · video tower(video row) per pair (NaN for an unknown video)."""
    users, vectors = pair_vectors(model, user_ids, user_features, video_ids, videos)
    return np.sum(users * vectors, axis=1, dtype=np.float32)


def affinity_inputs(
    model: Any,
    names: Sequence[str],
    user_ids: Sequence[int] | np.ndarray,
    user_features: Any,
    video_ids: Sequence[int] | np.ndarray,
    videos: pd.DataFrame,
    *,
    history: UserHistory | None = None,
    at_s: Any = None,
) -> np.ndarray:
    """float32 [n, len(names)]: the named two-tower inputs (see the module doc) per (user, video) pair.

    `RECENT_SIMILARITY` (serving/recent.py) and `FOLLOWS_CREATOR` (serving/follows.py) also need the users'
    history (`serving.history.read_history`) and each row's time (`at_s`, unix seconds): only what happened
    strictly before it counts."""
    names = list(names)
    products = set(product_names(model.dim))
    timed = (RECENT_SIMILARITY, FOLLOWS_CREATOR)
    known = (TWO_TOWER_SCORE, TWO_TOWER_SCORE_STD, *timed)
    unknown = [n for n in names if n not in known and n not in products]
    if unknown:
        raise ValueError(
            f"Unknown two-tower inputs {unknown[:5]}; known: {', '.join(known)} and "
            f"{PRODUCT_PREFIX}00 … {PRODUCT_PREFIX}{model.dim - 1:02d} (two-tower {model.version}, "
            f"dim {model.dim}). The ranker was trained against a two-tower of another shape: retrain it."
        )
    if any(n in timed for n in names) and (history is None or at_s is None):
        raise ValueError(f"{', '.join(timed)} need the users' history and the rows' times (at_s).")
    users, vectors = pair_vectors(model, user_ids, user_features, video_ids, videos)
    product = users * vectors
    out = np.empty((len(product), len(names)), dtype=np.float32)
    for j, name in enumerate(names):
        if name == RECENT_SIMILARITY:
            positives = history.positives  # type: ignore[union-attr]
            out[:, j] = recent_similarity(model, positives, user_ids, at_s, video_ids, videos)
        elif name == FOLLOWS_CREATOR:
            creators = creators_of(video_ids, videos)
            out[:, j] = history.follows.followed_before(user_ids, creators, at_s)  # type: ignore[union-attr]
        elif name == TWO_TOWER_SCORE:
            out[:, j] = product.sum(axis=1)
        elif name == TWO_TOWER_SCORE_STD:
            mu, sigma = score_scale(model)
            out[:, j] = (product.sum(axis=1, dtype=np.float64) - mu) / sigma
        else:
            out[:, j] = product[:, int(name.removeprefix(PRODUCT_PREFIX))]
    return out


def creators_of(video_ids: Any, videos: pd.DataFrame) -> np.ndarray:
    """int64 creator id per video id from `videos` rows (-1: a video not in them, or without a creator)."""
    known = videos.drop_duplicates("video_id")
    ids = np.asarray(video_ids, dtype=np.int64)
    position = pd.Index(known["video_id"].to_numpy(dtype=np.int64)).get_indexer(ids)
    creators = known["creator_id"].fillna(-1).to_numpy(dtype=np.int64)
    return np.where(position >= 0, creators[np.maximum(position, 0)], -1)


def frame_affinity_inputs(
    model: Any,
    frame: pd.DataFrame,
    names: Sequence[str],
    videos: pd.DataFrame,
    history: UserHistory | None = None,
) -> np.ndarray:
    """`affinity_inputs` for rows holding `user_id`, `video_id`, the two-tower's user feature columns and
    (for `RECENT_SIMILARITY`, `FOLLOWS_CREATOR`) `event_timestamp`."""
    timed = RECENT_SIMILARITY in names or FOLLOWS_CREATOR in names
    wanted = ("user_id", "video_id", *model.features, *(["event_timestamp"] if timed else []))
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise ValueError(
            f"The two-tower inputs need columns user_id, video_id and the {len(model.features)} "
            f"two_tower_user features; missing {missing[:5]}."
        )
    x = frame[list(model.features)].to_numpy(dtype=np.float32, na_value=np.nan)
    return affinity_inputs(
        model,
        names,
        frame["user_id"].to_numpy(dtype=np.int64),
        x,
        frame["video_id"].to_numpy(dtype=np.int64),
        videos,
        history=history,
        at_s=frame["event_timestamp"].map(pd.Timestamp.timestamp).to_numpy(np.float64) if timed else None,
    )
