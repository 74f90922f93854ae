"""The learned-shares union: greedy budget split, merge at budget K, cross-fitted shares."""

from __future__ import annotations

import numpy as np

from pipelines.evaluate.retrieval import recall_at
from pipelines.evaluate.shares import TargetRanks, fit_quotas, learned_union, mean_shares, merge


def _world(n_queries: int = 40) -> tuple[list[list[np.ndarray]], list[np.ndarray]]:
    """Source 0 finds target 1000+q at rank 0; source 1 finds 2000+q at rank 3; source 2 repeats source 0;
    source 3 finds nothing. Lists hold 10 candidates each."""
    strong, second, copy, empty, targets = [], [], [], [], []
    for q in range(n_queries):
        a = np.array([1000 + q, *range(100, 109)])
        b = np.array([200, 201, 202, 2000 + q, *range(203, 209)])
        strong.append(a)
        second.append(b)
        copy.append(a.copy())
        empty.append(np.arange(300, 310))
        targets.append(np.array([1000 + q, 2000 + q]))
    return [strong, second, copy, empty], targets


def test_target_ranks_and_recall_of_quotas() -> None:
    lists, targets = _world(4)
    ranks = TargetRanks.of(lists, targets, np.arange(4))
    assert ranks.rank.shape == (8, 4)
    assert ranks.rank[0].tolist() == [0.0, np.inf, 0.0, np.inf]
    assert ranks.rank[1].tolist() == [np.inf, 3.0, np.inf, np.inf]
    assert ranks.recall(np.array([1, 0, 0, 0])) == 0.5
    assert ranks.recall(np.array([1, 3, 0, 0])) == 0.5  # rank 3 needs a quota of 4
    assert ranks.recall(np.array([0, 4, 1, 0])) == 1.0


def test_greedy_split_rewards_new_targets_not_repeats() -> None:
    lists, targets = _world()
    quotas = fit_quotas(TargetRanks.of(lists, targets, np.arange(40)), k=10, steps=10)
    assert quotas.sum() == 10
    assert quotas[0] >= 1 and quotas[1] >= 4  # both useful sources reach their targets
    assert quotas[2] == 0  # a copy of source 0 adds nothing


def test_merge_keeps_quotas_dedupes_and_fills_the_budget() -> None:
    a, b = np.array([1, 2, 3, 4]), np.array([2, 5, 6])
    assert merge([a, b], np.array([2, 2]), k=4).tolist() == [1, 2, 5, 3]
    # quota 0 for b: a's first 3, then each source continued round-robin (a's 4th, b's 1st (a repeat), …)
    assert merge([a, b], np.array([3, 0]), k=5).tolist() == [1, 2, 3, 4, 5]
    assert len(merge([a, b], np.array([4, 3]), k=3)) == 3


def test_learned_union_beats_each_source_at_equal_budget() -> None:
    lists, targets = _world()
    k = 5
    merged, quotas = learned_union(lists, targets, k, seed=0)
    assert quotas.shape == (2, 4) and (quotas.sum(axis=1) == k).all()
    assert all(len(m) <= k for m in merged)
    best_single = max(recall_at(source, targets, k) for source in lists)
    assert best_single == 0.5
    assert recall_at(merged, targets, k) == 1.0
    assert np.isclose(mean_shares(quotas, k).sum(), 1.0)
