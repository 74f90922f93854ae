"""The world's latent truth survives a save and reload, response model included."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from foryou.errors import ConfigError
from worldsim import ResponseContext, WorldConfig, generate_world, load_world, world_dir
from worldsim.truth import publish, write_truth

CONFIG = WorldConfig(seed=4, n_users=200, n_creators=20, n_videos=500, days=1)


def test_truth_round_trips_and_rebuilds_the_same_oracle(tmp_path: Path) -> None:
    world = generate_world(CONFIG)
    staging = tmp_path / "worlds" / ".demo.staging"
    write_truth(world, staging, {"rows": {"events": 123}})
    publish(staging, world_dir(tmp_path, "demo"))
    loaded = load_world(tmp_path, "demo")
    assert loaded.config == world.config and loaded.topics.names == world.topics.names
    assert loaded.response_params == world.response_params and loaded.policy_params == world.policy_params
    for group in ("users", "creators", "videos", "projections"):
        for f in dataclasses.fields(getattr(world, group)):
            np.testing.assert_array_equal(
                getattr(getattr(loaded, group), f.name), getattr(getattr(world, group), f.name)
            )
    for kind in ("follows", "blocks"):
        np.testing.assert_array_equal(getattr(loaded.graph, kind).ms, getattr(world.graph, kind).ms)
    users, videos = np.arange(50), np.arange(50) * 7
    ctx = ResponseContext(intent=np.eye(CONFIG.n_topics)[np.arange(50) % CONFIG.n_topics])
    np.testing.assert_array_equal(
        loaded.response_model().expected_utility(users, videos, ctx),
        world.response_model().expected_utility(users, videos, ctx),
    )
    assert loaded.titles_and_tags() == world.titles_and_tags()


def test_publishing_again_replaces_the_old_world(tmp_path: Path) -> None:
    target = world_dir(tmp_path)
    for seed in (1, 2):
        staging = tmp_path / "worlds" / ".default.staging"
        write_truth(generate_world(dataclasses.replace(CONFIG, seed=seed)), staging)
        publish(staging, target)
    assert load_world(tmp_path).config.seed == 2
    assert sorted(p.name for p in (tmp_path / "worlds").iterdir()) == ["default"]


def test_missing_world_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="run `foryou simulate` first"):
        load_world(tmp_path, "nope")
