"""What the two-tower trainer needs around the model: hard negatives, sampling probabilities, holdout recall.

Recall follows `foryou evaluate`'s protocol (pipelines/evaluate/retrieval.py, docs/evaluation.md): one query
per holdout user at their first holdout positive, targets = the videos they engaged in the holdout minus
those already shown to them, and every list ranks the corpus as it stood at the query time (no later
uploads, nothing already shown). So the trainer's figures and the evaluation's are the same measurement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from pipelines.datasets.build import DatasetError
from pipelines.evaluate.retrieval import Corpus, Queries, recall_at
from pipelines.evaluate.retrieval import rank as rank  # the trainer ranks exactly as `foryou evaluate`
from pipelines.train.data import require_columns

ENGAGEMENT = ("like", "long_watch", "share", "save", "comment", "follow")
KS = (100, 300)


def shown_not_engaged(ranking_train: pd.DataFrame, max_position: int) -> pd.DataFrame:
    """Impressions in the first `max_position` slots that got no engagement at all: user_id, video_id."""
    require_columns(ranking_train, ["user_id", "video_id", "position", *ENGAGEMENT], "ranking")
    engaged = ranking_train[list(ENGAGEMENT)].sum(axis=1) > 0
    high = ranking_train["position"] < max_position
    return ranking_train.loc[high & ~engaged, ["user_id", "video_id"]].reset_index(drop=True)


def reranker_scored_not_engaged(
    runtime: Any, ranking_train: pd.DataFrame, min_quantile: float, notes: list[str]
) -> tuple[pd.DataFrame, str] | None:
    """Impressions the current re-ranker scored high that got no engagement: user_id, video_id.

    "High": a utility at or above the `min_quantile` quantile of the re-ranker's utility over every training
    impression. Scored through the evaluation's path (the serving loaders, bound to the current two-tower).
    Returns (pool, re-ranker version), or None when no current re-ranker can score (a reason in `notes`)."""
    from foryou.artifacts import ArtifactError, ArtifactStore
    from pipelines.evaluate.models import ranking_stages

    require_columns(ranking_train, ["user_id", "video_id", *ENGAGEMENT], "ranking")
    store = ArtifactStore(runtime.settings.artifacts_dir)
    version = store.current_version("reranker")
    if version is None:
        notes.append("no current re-ranker: hard negatives by position instead")
        return None
    try:
        scored = ranking_stages(runtime, ranking_train, notes, stages=("re-ranker",))
    except ArtifactError as exc:  # e.g. trained against another two-tower than the current one
        notes.append(f"the current re-ranker cannot score ({exc}): hard negatives by position instead")
        return None
    utility = np.asarray(scored["re-ranker"], dtype=np.float64)
    engaged = (ranking_train[list(ENGAGEMENT)].sum(axis=1) > 0).to_numpy()
    high = utility >= np.quantile(utility, min_quantile)
    pool = ranking_train.loc[high & ~engaged, ["user_id", "video_id"]].reset_index(drop=True)
    return pool, version


def sample_hard_negatives(user_ids: np.ndarray, pool: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """One video id per row: a random shown-not-engaged video of the same user (else of anyone)."""
    if pool.empty:
        raise DatasetError(
            "No shown-but-not-engaged impressions in the training window to use as hard negatives; "
            "train with params hard_negatives=False or widen the window."
        )
    ordered = pool.sort_values(["user_id", "video_id"], kind="stable")
    users = ordered["user_id"].to_numpy(np.int64)
    videos = ordered["video_id"].to_numpy(np.int64)
    first = np.searchsorted(users, user_ids, side="left")
    count = np.searchsorted(users, user_ids, side="right") - first
    pick = first + np.floor(rng.random(len(user_ids)) * np.maximum(count, 1)).astype(np.int64)
    fallback = rng.integers(0, len(videos), len(user_ids))
    return np.where(count > 0, videos[np.minimum(pick, len(videos) - 1)], videos[fallback])


def sampling_probability(stream: np.ndarray) -> dict[int, float]:
    """Each id's share of the candidate stream (what in-batch sampling draws from): the log-Q correction."""
    ids, counts = np.unique(stream, return_counts=True)
    return dict(zip(ids.tolist(), (counts / counts.sum()).tolist(), strict=True))


@dataclass(frozen=True)
class HoldoutTargets:
    """Per query, the target corpus rows overall, on cold videos (no training positive), on new uploads."""

    all: list[np.ndarray]
    cold: list[np.ndarray]
    new_uploads: list[np.ndarray]


def targets(
    queries: Queries, corpus: Corpus, trained_rows: np.ndarray, holdout_start: datetime
) -> HoldoutTargets:
    cold_mask = np.ones(len(corpus), dtype=bool)
    cold_mask[trained_rows] = False
    new_mask = corpus.uploaded_s > holdout_start.timestamp()
    return HoldoutTargets(
        list(queries.targets),
        [t[cold_mask[t]] for t in queries.targets],
        [t[new_mask[t]] for t in queries.targets],
    )


def dot_product_ranker(user_vectors: np.ndarray, video_vectors: np.ndarray) -> Callable[[int], np.ndarray]:
    """Exact inner-product scores over the whole corpus for query i."""
    return lambda i: video_vectors @ user_vectors[i]


def popularity_scores(train: pd.DataFrame, corpus: Corpus, since: datetime | None = None) -> np.ndarray:
    """Training positives per corpus row (optionally only those after `since`)."""
    rows = train if since is None else train[train["event_timestamp"] > pd.Timestamp(since)]
    counts = np.zeros(len(corpus))
    np.add.at(counts, corpus.rows(rows["video_id"].to_numpy(np.int64)), 1.0)
    return counts


def recall_table(ranked: dict[str, list[np.ndarray]], goal: HoldoutTargets) -> dict[str, float]:
    """recall@K of each list on all targets, and @300 on cold-video and new-upload targets (where any)."""
    metrics: dict[str, float] = {}
    for name, lists in ranked.items():
        prefix = "" if name == "model" else f"{name}_"
        for k in KS:
            metrics[f"{prefix}recall_at_{k}"] = recall_at(lists, goal.all, k)
        for kind, per_query in (("cold", goal.cold), ("new_upload", goal.new_uploads)):
            keep = [i for i, t in enumerate(per_query) if len(t)]
            if keep:
                metrics[f"{prefix}{kind}_recall_at_300"] = recall_at(
                    [lists[i] for i in keep], [per_query[i] for i in keep], 300
                )
    return {k: round(float(v), 6) for k, v in metrics.items() if np.isfinite(v)}


def last_day(holdout_start: datetime) -> datetime:
    return holdout_start - timedelta(days=1)
