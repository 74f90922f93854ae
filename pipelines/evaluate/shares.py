"""The union of candidate sources at a fixed budget K, each source's share of K learned from data.

Round-robin gives every source ~K / n slots, so a weak source (fresh uploads, trending) takes as many slots
as the best one and the union falls below the best source alone. Here the budget is split by what each
source adds: a greedy allocation hands out K in steps, each round to the source whose next run of
candidates adds the most *new* targets to the union so far per step (a target two sources both find counts
once, so a source that only repeats another's candidates gets nothing).

Shares are fitted on one half of the queries and applied to the other (two-fold cross-fitting, folds by a
seeded shuffle of the queries), so the union's recall@K is measured on queries its shares never saw.
`learned_union` returns the merged lists and the shares of each fold; serving's candidate quotas are the
mean shares (`mean_shares`).

    merged, shares = learned_union(lists, targets, k=300, seed=0)
    recall_at(merged, targets, 300)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.evaluate.retrieval import interleave

STEPS = 30  # the budget is handed out in this many steps (granularity of a share: K / STEPS)


@dataclass(frozen=True)
class TargetRanks:
    """Per target (a (query, target video) pair), its rank in each source's list (inf: not in the list)."""

    rank: np.ndarray  # float64 [targets, sources]
    weight: np.ndarray  # 1 / |targets of its query| / |queries|: recall = Σ weight over found targets

    @classmethod
    def of(cls, lists: list[list[np.ndarray]], targets: list[np.ndarray], queries: np.ndarray) -> TargetRanks:
        """`lists[s][q]`: source s's ranked corpus rows for query q; only the queries in `queries` count."""
        ranks, weights = [], []
        for q in queries.tolist():
            wanted = np.asarray(targets[q])
            if not len(wanted):
                continue
            per_source = np.full((len(wanted), len(lists)), np.inf)
            sorter = np.argsort(wanted)
            for s, source in enumerate(lists):
                ranked = np.asarray(source[q])
                hit = np.flatnonzero(np.isin(ranked, wanted))  # ranks of the targets this source found
                per_source[sorter[np.searchsorted(wanted, ranked[hit], sorter=sorter)], s] = hit
            ranks.append(per_source)
            weights.append(np.full(len(wanted), 1.0 / len(wanted)))
        if not ranks:
            return cls(np.zeros((0, len(lists))), np.zeros(0))
        return cls(np.vstack(ranks), np.concatenate(weights) / len(ranks))

    def recall(self, quotas: np.ndarray) -> float:
        """Recall of the union of each source's first `quotas[s]` candidates."""
        return float(self.weight[(self.rank < quotas).any(axis=1)].sum())


def fit_quotas(ranks: TargetRanks, k: int, steps: int = STEPS) -> np.ndarray:
    """Split the budget k into integer quotas (summing to k), handed out in units of k / steps.

    Each round gives the source the run of units with the largest gain in union recall *per unit* (looking
    ahead, so a source whose targets sit at rank 40 is not starved by a myopic one-unit step); ties go to
    the source listed first and to the shorter run. Units that add nothing anywhere are shared in proportion
    to the quotas so far (merge fills such slots round-robin in any case)."""
    n_sources = ranks.rank.shape[1]
    units = np.zeros(n_sources, dtype=np.int64)

    def quotas_of(u: np.ndarray) -> np.ndarray:
        return np.floor(u * k / steps).astype(np.int64)

    current = ranks.recall(quotas_of(units))
    while units.sum() < steps:
        left = steps - int(units.sum())
        best, best_rate = None, 0.0
        for s in range(n_sources):
            for run in range(1, left + 1):
                trial = units.copy()
                trial[s] += run
                rate = (ranks.recall(quotas_of(trial)) - current) / run
                if rate > best_rate + 1e-12:
                    best, best_rate = (s, run), rate
        if best is None:
            weights = units if units.sum() else np.ones(n_sources, dtype=np.int64)
            units += np.floor(left * weights / weights.sum()).astype(np.int64)
            units[int(np.argmax(weights))] += steps - int(units.sum())
            break
        units[best[0]] += best[1]
        current = ranks.recall(quotas_of(units))
    quotas = quotas_of(units)
    quotas[int(np.argmax(units))] += k - int(quotas.sum())  # rounding remainder
    return quotas


def merge(per_source: list[np.ndarray], quotas: np.ndarray, k: int) -> np.ndarray:
    """One query's union at budget k: each source's first `quotas[s]` candidates interleaved, deduplicated;
    slots a duplicate or a short list left empty are filled by continuing the sources round-robin, each
    from where its quota stopped."""
    heads = [np.asarray(r)[: int(q)] for r, q in zip(per_source, quotas, strict=True)]
    tails = [np.asarray(r)[int(q) :] for r, q in zip(per_source, quotas, strict=True)]
    merged = pd.unique(np.concatenate([interleave(heads), interleave(tails)]))
    return merged[:k]


def learned_union(
    lists: list[list[np.ndarray]], targets: list[np.ndarray], k: int, *, seed: int = 0, folds: int = 2
) -> tuple[list[np.ndarray], np.ndarray]:
    """Per query, the union at budget k with shares fitted on the other folds' queries.

    Returns (merged lists, quotas [folds, sources]). With fewer than 2 × folds queries the shares are
    fitted on all queries (and the figure is in-sample: too few queries to hold any out)."""
    n = len(targets)
    order = np.random.default_rng(seed).permutation(n)
    parts = np.array_split(order, folds) if n >= 2 * folds else [order]
    merged: list[np.ndarray] = [np.array([], dtype=np.int64)] * n
    quotas = []
    for part in parts:
        fit_on = np.setdiff1d(order, part) if len(parts) > 1 else part
        fold_quotas = fit_quotas(TargetRanks.of(lists, targets, fit_on), k)
        quotas.append(fold_quotas)
        for q in part.tolist():
            merged[q] = merge([source[q] for source in lists], fold_quotas, k)
    return merged, np.array(quotas)


def mean_shares(quotas: np.ndarray, k: int) -> np.ndarray:
    """Each source's mean share of the budget over the folds (sums to 1)."""
    return quotas.mean(axis=0) / k
