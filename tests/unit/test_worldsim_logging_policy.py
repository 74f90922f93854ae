"""The logging policy: exact propensities (they sum to one), no repeats, no blocked creators."""

from __future__ import annotations

import numpy as np
import pytest

from worldsim.config import DAY_MS, WorldConfig
from worldsim.logging_policy import LoggingPolicy, SessionSlates
from worldsim.sessions import Simulator
from worldsim.world import generate_world


def _slates(config: WorldConfig) -> tuple[Simulator, LoggingPolicy, SessionSlates]:
    """A simulator after its window (follows grew) and fresh sessions for every user at noon of day 1."""
    simulator = Simulator(generate_world(config))
    for _ in simulator.days():
        pass
    world, policy = simulator.world, simulator.policy
    users = np.flatnonzero(world.users.signup_ms < config.start_ms)
    t0 = np.full(len(users), config.start_ms + DAY_MS + DAY_MS // 2)
    slates = policy.start_sessions(
        users,
        world.users.region[users].astype(np.int64),
        t0,
        world.users.estimated_interest[users],
        simulator.follow_keys,
        simulator.all_block_keys,
        200,
    )
    return simulator, policy, slates


def _full_distribution_sums(simulator: Simulator, policy: LoggingPolicy, slates: SessionSlates) -> np.ndarray:
    """For each session with candidates left: Σ propensity over every candidate the policy could show now."""
    sums = []
    for row in np.flatnonzero(slates.remaining > 0):
        candidates = simulator.index.by_region.video[slates.region_lo[row] : slates.region_hi[row]]
        candidates = candidates[~policy.is_excluded(slates, np.full(len(candidates), row), candidates)]
        assert len(candidates) == slates.remaining[row]
        sums.append(policy.propensity(slates, np.full(len(candidates), row), candidates).sum())
    return np.array(sums)


@pytest.mark.parametrize("n_videos", [1_500, 60])  # 60 videos: sessions exhaust sources (exact fallback path)
def test_propensities_are_a_probability_distribution_at_every_step(n_videos: int) -> None:
    config = WorldConfig(seed=3, n_users=300, n_creators=12, n_videos=n_videos, days=2, block_user_share=0.3)
    simulator, policy, slates = _slates(config)
    rng = np.random.default_rng(1)
    assert (slates.excl_count > 0).any()  # some sessions start with blocked creators' videos excluded
    for step in range(40):
        rows = np.flatnonzero(slates.remaining > 0)
        video, propensity = policy.sample_slot(slates, rows, rng)
        assert np.all((propensity > 0) & (propensity <= 1))
        assert not policy.is_excluded(slates, rows, video).any()
        policy.record(slates, rows, video, (rng.random(len(rows)) < 0.5).astype(float))
        if step in (0, 9, 39):
            np.testing.assert_allclose(_full_distribution_sums(simulator, policy, slates), 1.0, atol=1e-6)


def test_sessions_never_repeat_a_video_and_never_show_blocked_creators() -> None:
    config = WorldConfig(seed=5, n_users=300, n_creators=12, n_videos=200, days=1, block_user_share=0.5)
    simulator, policy, slates = _slates(config)
    rng = np.random.default_rng(2)
    for _ in range(60):
        rows = np.flatnonzero(slates.remaining > 0)
        video, _ = policy.sample_slot(slates, rows, rng)
        policy.record(slates, rows, video, np.zeros(len(rows)))
    for row in range(len(slates.user)):
        shown = slates.seen[row, : slates.n_seen[row]]
        assert len(np.unique(shown)) == len(shown)
    keys = slates.creator_key_base[:, None] + simulator.index.creator[np.maximum(slates.seen, 0)]
    blocked = np.isin(keys, slates.block_keys) & (slates.seen >= 0)
    assert slates.block_keys.size > 0 and not blocked.any()


def test_follow_source_reaches_followed_creators() -> None:
    """Followed creators' recent uploads get a large share of impressions relative to their catalog share."""
    config = WorldConfig(seed=9, n_users=400, n_creators=60, n_videos=3_000, days=2)
    simulator, policy, slates = _slates(config)
    rng = np.random.default_rng(3)
    rows = np.arange(len(slates.user))
    video, _ = policy.sample_slot(slates, rows, rng)
    in_follow = policy.in_follow_support(slates, rows, video)
    has_follow = slates.follow_total > 0
    share_shown = in_follow[has_follow].mean()
    share_catalog = (
        slates.follow_total[has_follow] / (slates.region_hi - slates.region_lo)[has_follow]
    ).mean()
    assert share_shown > 0.2 + share_catalog
