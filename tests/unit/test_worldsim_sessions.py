"""Simulated days: event structure, determinism, power-law attention, restrictions, drift, diurnal rhythm."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from foryou.schema import EVENT_TYPES
from worldsim.config import HOUR_MS, REGION_UTC_OFFSET, WorldConfig
from worldsim.events import Impressions
from worldsim.graph import pair_keys
from worldsim.sessions import DayBatch, Simulator
from worldsim.world import World, generate_world

CONFIG = WorldConfig(seed=21, n_users=2_000, n_creators=200, n_videos=5_000, days=3)


def _run(config: WorldConfig) -> tuple[World, list[DayBatch]]:
    world = generate_world(config)
    return world, list(Simulator(world).days())


@pytest.fixture(scope="module")
def simulated() -> tuple[World, list[DayBatch]]:
    return _run(CONFIG)


def _impressions(batches: list[DayBatch]) -> Impressions:
    return Impressions(
        **{
            f.name: np.concatenate([getattr(b.impressions, f.name) for b in batches])
            for f in dataclasses.fields(Impressions)
        }
    )


def test_volume_and_event_mix_are_plausible(simulated: tuple[World, list[DayBatch]]) -> None:
    _, batches = simulated
    types = np.bincount(np.concatenate([b.events.event_type for b in batches]), minlength=len(EVENT_TYPES))
    counts = dict(zip(EVENT_TYPES, types.tolist(), strict=True))
    n_imp = counts["impression"]
    assert 10_000 < n_imp < 60_000
    assert counts["view"] + counts["skip"] == n_imp  # every impression is either watched or skipped
    assert 0.4 < counts["view"] / n_imp < 0.75
    views = counts["view"]
    assert 0.04 < counts["like"] / views < 0.2
    assert counts["like"] > counts["save"] > counts["comment"] > 0 and counts["follow"] > 0


def test_same_seed_same_events_other_seed_differs(simulated: tuple[World, list[DayBatch]]) -> None:
    _, batches = simulated
    _, again = _run(CONFIG)
    for a, b in zip(batches, again, strict=True):
        for f in dataclasses.fields(a.events):
            np.testing.assert_array_equal(
                getattr(a.events, f.name), getattr(b.events, f.name), err_msg=f.name
            )
        np.testing.assert_array_equal(a.impressions.propensity, b.impressions.propensity)
    _, other = _run(dataclasses.replace(CONFIG, seed=22))
    assert len(other[0].events) != len(batches[0].events) or not np.array_equal(
        other[0].impressions.video, batches[0].impressions.video
    )


def test_event_numbers_sessions_pages_and_positions(simulated: tuple[World, list[DayBatch]]) -> None:
    _, batches = simulated
    numbers = np.concatenate([b.events.event_no for b in batches])
    np.testing.assert_array_equal(numbers, np.arange(len(numbers)))  # ids sim-{seed}-{n} are dense and unique
    imps = _impressions(batches)
    assert imps.position.min() == 0 and imps.position.max() == CONFIG.page_size - 1
    # Within a session impressions are in time order, page by page, slot by slot.
    order = np.lexsort((imps.position, imps.page, imps.session))
    same_session = imps.session[order][1:] == imps.session[order][:-1]
    assert np.all(np.diff(imps.ms[order])[same_session] > 0)
    # A session belongs to one user on one device.
    first = np.unique(imps.session, return_index=True)[1]
    per_session_user = dict(zip(imps.session[first].tolist(), imps.user[first].tolist(), strict=True))
    assert all(
        per_session_user[s] == u for s, u in zip(imps.session.tolist(), imps.user.tolist(), strict=True)
    )


def test_propensities_in_unit_interval_and_only_on_impressions(
    simulated: tuple[World, list[DayBatch]],
) -> None:
    _, batches = simulated
    for b in batches:
        is_imp = b.events.event_type == EVENT_TYPES.index("impression")
        assert np.all((b.events.propensity[is_imp] > 0) & (b.events.propensity[is_imp] <= 1))
        assert np.isnan(b.events.propensity[~is_imp]).all()
        watched = np.isin(b.events.event_type, [EVENT_TYPES.index("view"), EVENT_TYPES.index("skip")])
        assert (b.events.dwell_ms[watched] >= 0).all() and (b.events.dwell_ms[~watched] == -1).all()


def test_top_tenth_of_creators_gets_most_impressions(simulated: tuple[World, list[DayBatch]]) -> None:
    world, batches = simulated
    per_creator = np.sort(np.bincount(_impressions(batches).creator, minlength=len(world.creators)))[::-1]
    assert per_creator[: len(per_creator) // 10].sum() > 0.5 * per_creator.sum()


def test_restrictions_flags_blocks_and_availability_hold(simulated: tuple[World, list[DayBatch]]) -> None:
    world, batches = simulated
    imps = _impressions(batches)
    assert (world.videos.allowed_mask[imps.video] != 0).any()  # restricted videos do get shown …
    assert world.videos.allowed_in(imps.video, imps.region).all()  # … but only where allowed
    assert not world.videos.flagged[imps.video].any()
    assert np.all(world.videos.uploaded_ms[imps.video] <= imps.ms)
    assert np.all(world.users.signup_ms[imps.user] <= imps.ms)
    n_c = len(world.creators)
    blocks = world.graph.blocks
    block_day = dict(zip(blocks.keys(n_c).tolist(), (blocks.ms // 86_400_000).tolist(), strict=True))
    keys = pair_keys(imps.user, imps.creator, n_c)
    shown_day = imps.ms // 86_400_000
    assert not any(
        block_day.get(k, 1 << 60) <= d for k, d in zip(keys.tolist(), shown_day.tolist(), strict=True)
    )


def test_follow_events_become_follows_exactly_once(simulated: tuple[World, list[DayBatch]]) -> None:
    world, batches = simulated
    n_c = len(world.creators)
    follow = EVENT_TYPES.index("follow")
    initial = set(world.graph.follows.keys(n_c).tolist())
    blocked = set(world.graph.blocks.keys(n_c).tolist())
    seen: set[int] = set()
    for b in batches:
        is_follow = b.events.event_type == follow
        imp = b.events.impression[is_follow]
        keys = pair_keys(b.impressions.user[imp], b.impressions.creator[imp], n_c)
        np.testing.assert_array_equal(np.sort(keys), b.new_follows.keys(n_c))
        np.testing.assert_array_equal(np.sort(b.events.ms[is_follow]), np.sort(b.new_follows.ms))
        assert not (set(keys.tolist()) & (initial | blocked | seen))
        seen |= set(keys.tolist())
    assert seen


def test_sessions_stay_on_topic_more_than_the_users_taste(simulated: tuple[World, list[DayBatch]]) -> None:
    """Short-term intent: a user's consecutive views share a topic more within a session than across."""
    world, batches = simulated
    imps = _impressions(batches)
    views = np.flatnonzero(imps.view & (imps.watch_fraction > 0.5))
    views = views[np.lexsort((imps.ms[views], imps.user[views]))]
    same_user = imps.user[views][1:] == imps.user[views][:-1]
    same_session = imps.session[views][1:] == imps.session[views][:-1]
    topic = world.videos.primary_topic[imps.video[views]]
    agree = topic[1:] == topic[:-1]
    within, across = agree[same_session].mean(), agree[same_user & ~same_session].mean()
    assert (same_user & ~same_session).sum() > 200
    assert within > across + 0.07


def test_sessions_follow_local_diurnal_rhythm(simulated: tuple[World, list[DayBatch]]) -> None:
    _, batches = simulated
    imps = _impressions(batches)
    local_hour = ((imps.ms // HOUR_MS) + np.asarray(REGION_UTC_OFFSET)[imps.region]) % 24
    per_hour = np.bincount(local_hour, minlength=24)
    assert per_hour[19:23].sum() > 3 * per_hour[2:6].sum()
