"""The social graph before the window: follows with homophily (topic and region) and a few blocks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from worldsim.catalog import Creators
from worldsim.config import WorldConfig
from worldsim.population import Users
from worldsim.seeding import rng_for


@dataclass(frozen=True)
class Edges:
    """(user, creator, ms) edges, sorted by (user, creator), no duplicate pairs."""

    user: np.ndarray  # int64
    creator: np.ndarray  # int64
    ms: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.user)

    def keys(self, n_creators: int) -> np.ndarray:
        """One int64 key per edge (user * n_creators + creator), sorted."""
        return self.user * n_creators + self.creator


@dataclass(frozen=True)
class SocialGraph:
    """Follows and blocks that exist at the start of the window (blocks may fall inside it)."""

    follows: Edges
    blocks: Edges


def pair_keys(user: np.ndarray, creator: np.ndarray, n_creators: int) -> np.ndarray:
    """int64 key of (user, creator) pairs, matching Edges.keys."""
    return np.asarray(user, dtype=np.int64) * n_creators + np.asarray(creator, dtype=np.int64)


def contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Membership of keys in a sorted int64 array (vectorised)."""
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[pos] == keys


def _dedupe(user: np.ndarray, creator: np.ndarray, n_creators: int) -> tuple[np.ndarray, np.ndarray]:
    keys = np.unique(pair_keys(user, creator, n_creators))
    return keys // n_creators, keys % n_creators


def _follow_candidates(
    config: WorldConfig, users: Users, creators: Creators, user: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """One creator per row: a topic from the user's taste, then a creator ∝ fame × topic (60% same region)."""
    n_c, k, r = len(creators), config.n_topics, config.n_regions
    established = creators.joined_ms < config.start_ms
    base = creators.fame.astype(np.float64) ** 0.8 * established
    # pools[p, t, c]: p = 0 any region, p = 1 + region; the small floor lets a few follows leave the topic.
    in_region = creators.home_region[None, :] == np.arange(r)[:, None]
    pool_mask = np.vstack([np.ones((1, n_c), dtype=bool), in_region])
    weights = pool_mask[:, None, :] * (creators.topics.T[None, :, :] + 0.02) * base[None, None, :]
    flat = weights.reshape(-1, n_c)
    totals = flat.sum(axis=1)
    cum = np.concatenate([[0.0], np.cumsum(flat.ravel())])
    cdf = np.cumsum(users.interest[user], axis=1)
    topic = np.minimum((cdf < rng.random(len(user))[:, None]).sum(axis=1), k - 1)
    pool = np.where(rng.random(len(user)) < 0.6, 1 + users.region[user].astype(np.int64), 0)
    row = pool * k + topic
    row = np.where(totals[row] > 0, row, topic)  # no such creator in the region: any region
    target = cum[row * n_c] + rng.random(len(user)) * totals[row]
    col = np.searchsorted(cum, target, side="right") - 1 - row * n_c
    return np.clip(col, 0, n_c - 1)


def make_graph(config: WorldConfig, users: Users, creators: Creators) -> SocialGraph:
    """Initial follows (before the window) and blocks (any time up to the window's end)."""
    rng = rng_for(config.seed, "graph")
    n_c = len(creators)
    existing = np.flatnonzero(users.signup_ms < config.start_ms)
    if not (creators.joined_ms < config.start_ms).any():
        existing = existing[:0]
    n_follow = rng.poisson(
        config.mean_follows * np.sqrt(users.activity[existing] / config.sessions_per_user_day)
    )
    draws = np.repeat(existing, np.minimum(n_follow, 60))
    f_user, f_creator = _dedupe(draws, _follow_candidates(config, users, creators, draws, rng), n_c)
    f_lo = np.maximum(users.signup_ms[f_user], creators.joined_ms[f_creator])
    f_ms = (f_lo + rng.random(len(f_user)) * (config.start_ms - f_lo)).astype(np.int64) // 1000 * 1000
    follows = Edges(f_user, f_creator, f_ms)

    # Blocks: disliked creators (low quality, controversial) the user does not follow.
    blockers = np.flatnonzero(rng.random(len(users)) < config.block_user_share)
    b_draws = np.repeat(blockers, 1 + rng.poisson(0.5, len(blockers)))
    dislike = np.sqrt(creators.fame) * np.exp(-1.5 * creators.quality)
    b_creator = rng.choice(n_c, size=len(b_draws), p=dislike / dislike.sum())
    b_user, b_creator = _dedupe(b_draws, b_creator, n_c)
    keep = ~contains(follows.keys(n_c), pair_keys(b_user, b_creator, n_c))
    b_user, b_creator = b_user[keep], b_creator[keep]
    b_lo = np.maximum(users.signup_ms[b_user], creators.joined_ms[b_creator])
    b_ms = (
        (b_lo + rng.random(len(b_user)) * np.maximum(config.end_ms - b_lo, 0)).astype(np.int64) // 1000 * 1000
    )
    return SocialGraph(follows=follows, blocks=Edges(b_user, b_creator, b_ms))
