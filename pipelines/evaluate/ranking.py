"""Ranking evaluation: NDCG@K of each ranking stage on holdout pools, AUC and calibration per head.

A pool is what one user was shown on one holdout day (their impressions, ~10–100 videos): each stage orders
the pool by its score, and the gain of a video is the utility the user actually gave it (the value model's
weights applied to the labels of that impression). NDCG@K averages over pools with at least two items and
a positive gain. The oracle orders by the simulated world's expected utility (the truth behind the labels).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

MIN_POOL = 2


def pools(frame: pd.DataFrame) -> np.ndarray:
    """Pool id per row: (user, UTC day of the impression)."""
    day = frame["event_timestamp"].dt.floor("D")
    return frame.groupby(["user_id", day], sort=False).ngroup().to_numpy()


def realised_utility(frame: pd.DataFrame, weights: Mapping[str, float]) -> np.ndarray:
    """Σ weight × label over the labels the weights name (watch_time_s in seconds)."""
    gain = np.zeros(len(frame), dtype=np.float64)
    for label, weight in weights.items():
        gain += weight * frame[label].to_numpy(dtype=np.float64)
    return gain


def ndcg_at(scores: np.ndarray, gains: np.ndarray, pool: np.ndarray, k: int) -> float:
    """Mean NDCG@k over pools (ties in score broken by row order, the same for every stage)."""
    _pools, values = ndcg_per_pool(scores, gains, pool, k)
    return float(np.mean(values)) if len(values) else float("nan")


def ndcg_per_pool(
    scores: np.ndarray, gains: np.ndarray, pool: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """(pool ids, NDCG@k) of every pool with at least `MIN_POOL` items and a positive gain, by pool id."""
    order = np.lexsort((np.arange(len(pool)), -scores, pool))
    ids, values = [], []
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    boundaries = np.flatnonzero(np.diff(pool[order])) + 1
    for rows in np.split(order, boundaries):
        g = np.clip(gains[rows], 0.0, None)
        if len(rows) < MIN_POOL or g.sum() <= 0:
            continue
        dcg = (g[:k] * discounts[: min(k, len(g))]).sum()
        ideal = np.sort(g)[::-1][:k]
        ids.append(pool[rows[0]])
        values.append(dcg / (ideal * discounts[: len(ideal)]).sum())
    return np.asarray(ids), np.asarray(values, dtype=np.float64)


def paired_bootstrap(
    a: np.ndarray, b: np.ndarray, resamples: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """(mean of a − b, 2.5 % and 97.5 % quantiles of the mean over resamples of the pairs): a 95 % interval
    for the difference of two stages measured on the same pools."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if not len(diff):
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // len(diff))  # resamples per draw: bounded memory on large holdouts
    means = np.concatenate(
        [
            diff[rng.integers(0, len(diff), (min(chunk, resamples - done), len(diff)))].mean(axis=1)
            for done in range(0, resamples, chunk)
        ]
    )
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(diff.mean()), float(lo), float(hi)


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC; NaN when the labels hold one class only (undefined)."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels)
    if labels.min() == labels.max():
        return float("nan")
    return float(roc_auc_score(labels, scores))


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int = 10) -> float:
    """ECE over equal-count bins of the prediction (equal-width bins are empty for rare heads)."""
    labels, probabilities = np.asarray(labels, dtype=np.float64), np.asarray(probabilities, dtype=np.float64)
    order = np.argsort(probabilities, kind="stable")
    ece = 0.0
    for chunk in np.array_split(order, bins):
        if len(chunk):
            ece += len(chunk) / len(order) * abs(probabilities[chunk].mean() - labels[chunk].mean())
    return float(ece)


def calibration_ratio(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Σ predicted / Σ observed (1 = calibrated on average); NaN without positives."""
    observed = float(np.sum(labels))
    return float(np.sum(probabilities)) / observed if observed > 0 else float("nan")


def calibration(labels: np.ndarray, probabilities: np.ndarray, bins: int = 10) -> dict[str, float]:
    """Expected calibration error and mean predicted / observed rate."""
    return {
        "ece": expected_calibration_error(labels, probabilities, bins),
        "calibration_ratio": calibration_ratio(labels, probabilities),
    }


def reliability(
    labels: np.ndarray, probabilities: np.ndarray, bins: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """(mean predicted, observed rate) per equal-count bin, for the reliability plot."""
    order = np.argsort(probabilities, kind="stable")
    chunks = [c for c in np.array_split(order, bins) if len(c)]
    return (
        np.array([probabilities[c].mean() for c in chunks]),
        np.array([np.asarray(labels, dtype=np.float64)[c].mean() for c in chunks]),
    )
