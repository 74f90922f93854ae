"""World generation: config validation, determinism, and the properties that make the world believable."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from foryou.errors import ConfigError
from worldsim.config import DAY_MS, WorldConfig
from worldsim.content import latent_features
from worldsim.world import World, generate_world

SMALL = WorldConfig(seed=11, n_users=1_500, n_creators=150, n_videos=4_000, days=2)


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(SMALL)


def _arrays(world: World) -> dict[str, np.ndarray]:
    out = {}
    for group in ("users", "creators", "videos", "projections"):
        obj = getattr(world, group)
        for f in dataclasses.fields(obj):
            out[f"{group}.{f.name}"] = getattr(obj, f.name)
    for kind in ("follows", "blocks"):
        for f in ("user", "creator", "ms"):
            out[f"{kind}.{f}"] = getattr(getattr(world.graph, kind), f)
    out.update({f"content.{k}": v for k, v in world.content.items()})
    return out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"n_users": 0}, "--users"),
        ({"days": 0}, "--days"),
        ({"seed": -1}, "--seed"),
        ({"start": dt.datetime(2026, 1, 5)}, "timezone-aware"),
        ({"flagged_share": 1.5}, "flagged_share"),
    ],
)
def test_config_rejects_bad_values_with_a_fix(change: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        WorldConfig(**change)  # type: ignore[arg-type]


def test_config_round_trips_through_json() -> None:
    config = WorldConfig(seed=3, start=dt.datetime(2026, 2, 1, 6, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    again = WorldConfig.from_json(config.to_json())
    assert again == config and again.start_ms == config.start_ms
    assert config.to_json()["start"] == "2026-02-01T04:00:00Z"


def test_same_seed_same_world_and_other_seed_differs(world: World) -> None:
    again, other = (
        _arrays(generate_world(SMALL)),
        _arrays(generate_world(dataclasses.replace(SMALL, seed=12))),
    )
    mine = _arrays(world)
    for key, value in mine.items():
        np.testing.assert_array_equal(value, again[key], err_msg=key)
    differing = [
        key
        for key in mine
        if mine[key].shape != other[key].shape or not np.array_equal(mine[key], other[key])
    ]
    assert len(differing) > 0.8 * len(mine)
    assert world.titles_and_tags() == generate_world(SMALL).titles_and_tags()


def test_ids_follow_time_and_creators_upload_only_after_joining(world: World) -> None:
    videos, creators = world.videos, world.creators
    assert np.all(np.diff(videos.uploaded_ms) >= 0)  # video ids in upload order
    assert np.all(np.diff(creators.joined_ms) >= 0)  # creator ids in joining order
    assert np.all(videos.uploaded_ms >= creators.joined_ms[videos.creator])
    assert np.all(videos.uploaded_ms < SMALL.end_ms)
    in_window = videos.uploaded_ms >= SMALL.start_ms
    assert 0.6 < in_window.mean() < 0.8  # backlog_share = 0.3
    new_creators = creators.joined_ms >= SMALL.start_ms
    assert 0.08 < new_creators.mean() < 0.25 and new_creators.any()
    new_users = world.users.signup_ms >= SMALL.start_ms
    assert 0.05 < new_users.mean() < 0.15


def test_interests_are_sparse_mixtures(world: World) -> None:
    interest = world.users.interest
    np.testing.assert_allclose(interest.sum(axis=1), 1.0, rtol=1e-5)
    active = (interest > 0).sum(axis=1)
    assert active.min() >= 1 and active.max() <= 6
    assert 2.0 < active.mean() < 3.2  # 1 + Poisson(1.5), capped


def test_creator_fame_is_heavy_tailed(world: World) -> None:
    fame = np.sort(world.creators.fame)[::-1]
    assert fame[: len(fame) // 10].sum() / fame.sum() > 0.4


def test_flagged_share_is_exact_and_small(world: World) -> None:
    assert world.videos.flagged.sum() == round(SMALL.flagged_share * SMALL.n_videos) == 60
    # Moderation mostly catches low-quality videos.
    assert world.videos.quality[world.videos.flagged].mean() < world.videos.quality.mean() - 0.5


def test_restricted_videos_always_allow_their_creators_home_region(world: World) -> None:
    videos = world.videos
    restricted = np.flatnonzero(videos.allowed_mask)
    assert 0.04 < len(restricted) / len(videos) < 0.1
    home = world.creators.home_region[videos.creator[restricted]]
    assert videos.allowed_in(restricted, home).all()


def test_follow_graph_has_topic_and_region_homophily(world: World) -> None:
    users, creators, follows = world.users, world.creators, world.graph.follows
    assert len(follows) > 0 and np.all(follows.ms < SMALL.start_ms)
    keys = follows.keys(len(creators))
    assert len(np.unique(keys)) == len(keys)
    match = np.einsum("ij,ij->i", users.interest[follows.user], creators.topics[follows.creator])
    rng = np.random.default_rng(0)
    random_creator = rng.integers(0, len(creators), len(follows))
    baseline = np.einsum("ij,ij->i", users.interest[follows.user], creators.topics[random_creator])
    assert match.mean() > 3 * baseline.mean()
    same_region = users.region[follows.user] == creators.home_region[follows.creator]
    assert (
        same_region.mean() > 2 * (users.region[follows.user] == creators.home_region[random_creator]).mean()
    )


def test_blocks_exist_and_never_overlap_follows(world: World) -> None:
    blocks = world.graph.blocks
    n_c = len(world.creators)
    assert 0 < len(blocks) < 0.1 * SMALL.n_users
    assert not np.isin(blocks.keys(n_c), world.graph.follows.keys(n_c)).any()
    assert np.all(blocks.ms < SMALL.end_ms)


def test_content_vectors_encode_topics_for_a_linear_probe(world: World) -> None:
    """A ridge probe on visual+text vectors recovers each video's main topic far above chance (1/24)."""
    x = np.hstack([world.content["visual"], world.content["text"], np.ones((len(world.videos), 1))])
    y = world.videos.primary_topic
    targets = np.eye(SMALL.n_topics)[y]
    train, test = slice(0, 3_000), slice(3_000, None)
    weights = np.linalg.solve(x[train].T @ x[train] + 1.0 * np.eye(x.shape[1]), x[train].T @ targets[train])
    accuracy = (np.argmax(x[test] @ weights, axis=1) == y[test]).mean()
    assert accuracy > 0.75
    # Quality is also linearly readable (so a content encoder can learn it).
    q = world.videos.quality
    w_q = np.linalg.lstsq(x[train], q[train], rcond=None)[0]
    assert np.corrcoef(x[test] @ w_q, q[test])[0, 1] > 0.5
    assert latent_features(world.videos).shape[1] == SMALL.n_topics + 1 + SMALL.style_dim + 1


def test_start_date_moves_every_timestamp() -> None:
    later = dataclasses.replace(SMALL, start=SMALL.start + dt.timedelta(days=3))
    a, b = generate_world(SMALL), generate_world(later)
    np.testing.assert_array_equal(b.videos.uploaded_ms - a.videos.uploaded_ms, 3 * DAY_MS)
