"""Evaluation metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pipelines.evaluate.ranking import (
    calibration,
    ndcg_at,
    ndcg_per_pool,
    paired_bootstrap,
    pools,
    realised_utility,
)
from pipelines.evaluate.retrieval import Corpus, recall_at, top_k, union


def test_ndcg_matches_a_hand_computation() -> None:
    gains = np.array([3.0, 0.0, 1.0, 0.0, 2.0, 0.0])
    pool = np.array([0, 0, 0, 1, 1, 1])
    perfect = ndcg_at(gains, gains, pool, k=2)
    assert perfect == 1.0
    # pool 0 ranked [row1 (0), row2 (1), row0 (3)]: DCG@2 = 0 + 1/log2(3); IDCG@2 = 3 + 1/log2(3)
    # pool 1 ranked [row3 (0), row4 (2), row5 (0)]: DCG@2 = 2/log2(3); IDCG@2 = 2
    scores = np.array([0.0, 2.0, 1.0, 3.0, 2.0, 1.0])
    expected = ((1 / math.log2(3)) / (3 + 1 / math.log2(3)) + (2 / math.log2(3)) / 2) / 2
    assert math.isclose(ndcg_at(scores, gains, pool, k=2), expected)
    # a pool without gain, and a pool of one item, are skipped
    assert math.isnan(ndcg_at(np.zeros(3), np.array([0.0, 0.0, 5.0]), np.array([0, 0, 1]), k=5))
    assert math.isnan(ndcg_at(np.zeros(2), np.zeros(2), np.array([0, 0]), k=5))


def test_pools_and_realised_utility() -> None:
    frame = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 1],
            "event_timestamp": pd.to_datetime(
                ["2026-01-01 10:00", "2026-01-01 23:00", "2026-01-01 10:00", "2026-01-02 01:00"], utc=True
            ),
            "like": [1, 0, 0, 1],
            "watch_time_s": [10.0, 0.0, 2.0, 0.0],
        }
    )
    p = pools(frame)
    assert p[0] == p[1] and len({p[0], p[2], p[3]}) == 3
    assert realised_utility(frame, {"like": 0.5, "watch_time_s": 0.1}).tolist() == [1.5, 0.0, 0.2, 0.5]


def test_top_k_never_returns_future_or_seen_videos() -> None:
    corpus = Corpus(np.array([10, 11, 12, 13]), np.array([1, 1, 2, 2]), np.array([0.0, 5.0, 10.0, 20.0]))
    scores = np.array([1.0, 4.0, 3.0, 9.0])
    assert top_k(scores, corpus, query_s=15.0, seen=np.array([1]), k=3).tolist() == [2, 0]
    assert top_k(scores, corpus, query_s=25.0, seen=np.array([], dtype=np.int64), k=2).tolist() == [3, 1]
    assert recall_at([np.array([2, 0])], [np.array([0, 3])], k=1) == 0.0
    assert recall_at([np.array([2, 0])], [np.array([0, 3])], k=2) == 0.5
    assert union([[np.array([2, 0, 5])], [np.array([0, 1])]])[0].tolist() == [2, 0, 1, 5]


def test_calibration_of_a_calibrated_and_a_doubled_predictor() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0.0, 0.5, 200_000)
    y = (rng.random(p.size) < p).astype(float)
    good = calibration(y, p)
    assert good["ece"] < 0.01 and abs(good["calibration_ratio"] - 1) < 0.02
    bad = calibration(y, np.clip(2 * p, 0, 1))
    assert bad["ece"] > 0.2 and bad["calibration_ratio"] > 1.9


def test_ndcg_per_pool_is_what_ndcg_at_averages() -> None:
    rng = np.random.default_rng(0)
    pool = np.repeat(np.arange(50), 8)
    gains = np.where(rng.random(400) < 0.3, rng.uniform(0.5, 3.0, 400), 0.0)
    scores = gains + rng.normal(0, 1, 400)
    ids, values = ndcg_per_pool(scores, gains, pool, k=5)
    assert len(ids) == len(values) and set(ids.tolist()) <= set(range(50))
    assert ((values >= 0) & (values <= 1)).all()
    assert math.isclose(values.mean(), ndcg_at(scores, gains, pool, k=5))
    perfect = ndcg_per_pool(gains, gains, pool, k=5)[1]
    assert np.allclose(perfect, 1.0)


def test_paired_bootstrap_interval() -> None:
    rng = np.random.default_rng(1)
    a = rng.uniform(0.4, 0.8, 800)
    same = paired_bootstrap(a, a)
    assert same == (0.0, 0.0, 0.0)
    diff, lo, hi = paired_bootstrap(a + 0.05 + rng.normal(0, 0.1, 800), a, seed=3)
    assert lo < diff < hi and lo > 0.03 and hi < 0.07  # the mean shift is 0.05 ± 2 × 0.1/√800
    assert paired_bootstrap(a, a + 0.02, resamples=500)[2] < 0
