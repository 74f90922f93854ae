"""Vectorised sampling helpers shared by the generators."""

from __future__ import annotations

import numpy as np


def categorical(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of an (n, k) matrix of non-negative weights (rows need not sum to 1)."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cdf[:, -1]
    return np.minimum((cdf <= u[:, None]).sum(axis=1), probs.shape[1] - 1)


def top_k_without_replacement(log_weights: np.ndarray, k: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, m) mask of k[i] columns per row, drawn without replacement ∝ exp(log_weights) (Gumbel top-k)."""
    keys = log_weights + rng.gumbel(size=log_weights.shape)
    order = np.argsort(-keys, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(log_weights.shape[1])[None, :].repeat(len(order), 0), axis=1)
    return ranks < np.asarray(k)[:, None]


def sparse_mixture(
    base: np.ndarray, n_active: np.ndarray, rng: np.random.Generator, concentration: float = 1.0
) -> np.ndarray:
    """Rows summing to 1 with n_active[i] non-zero entries, chosen ∝ base[i], Dirichlet weights."""
    mask = top_k_without_replacement(np.log(base + 1e-12), n_active, rng)
    weights = rng.gamma(concentration, size=base.shape) * mask
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def ragged_ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expand ranges [lo_i, hi_i) into (row index, position) pairs without a Python loop."""
    counts = np.maximum(hi - lo, 0)
    rows = np.repeat(np.arange(len(lo)), counts)
    starts = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return rows, starts + np.arange(counts.sum())
