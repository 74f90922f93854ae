"""Persist and reload a world's latent truth: `<home>/worlds/<name>/world.json` + `truth.npz`."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from foryou.errors import ConfigError
from worldsim.catalog import Creators, Videos
from worldsim.config import WorldConfig
from worldsim.content import ContentProjections
from worldsim.graph import Edges, SocialGraph
from worldsim.logging_policy import PolicyParams
from worldsim.population import Users
from worldsim.response_model import ResponseParams
from worldsim.topics import TopicSpace
from worldsim.world import World

FORMAT_VERSION = 1
ARRAY_GROUPS: dict[str, type] = {
    "users": Users,
    "creators": Creators,
    "videos": Videos,
    "projections": ContentProjections,
}


def world_dir(home: Path, name: str = "default") -> Path:
    """Where a named world's truth lives under the foryou home folder."""
    return Path(home) / "worlds" / name


def _arrays(world: World) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for group in ARRAY_GROUPS:
        obj = getattr(world, group)
        for f in dataclasses.fields(obj):
            out[f"{group}.{f.name}"] = getattr(obj, f.name)
    for kind in ("follows", "blocks"):
        edges = getattr(world.graph, kind)
        for f in dataclasses.fields(edges):
            out[f"graph.{kind}.{f.name}"] = getattr(edges, f.name)
    for name, matrix in world.content.items():
        out[f"content.{name}"] = matrix
    for key in ("prior", "region_prior", "saveability", "duration_shift"):
        out[f"topics.{key}"] = getattr(world.topics, key)
    return out


def write_truth(world: World, directory: Path, summary: dict[str, Any] | None = None) -> Path:
    """Write world.json (config, parameters, seed, summary) and truth.npz (every latent array)."""
    directory.mkdir(parents=True, exist_ok=True)
    np.savez(directory / "truth.npz", **_arrays(world))  # type: ignore[arg-type]  # numpy stubs mistype **kwds
    meta = {
        "format_version": FORMAT_VERSION,
        "seed": world.config.seed,
        "config": world.config.to_json(),
        "response_params": world.response_params.to_json(),
        "policy_params": world.policy_params.to_json(),
        "topics": {"names": list(world.topics.names), "words": [list(w) for w in world.topics.words]},
        "summary": summary or {},
    }
    (directory / "world.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return directory


def publish(staging: Path, target: Path) -> None:
    """Move a fully written staging folder into place, replacing an older world of the same name."""
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def load_world(home: Path, name: str = "default") -> World:
    """The world saved under `home` by `foryou simulate` (its truth, response model and parameters)."""
    directory = world_dir(home, name)
    meta_path, npz_path = directory / "world.json", directory / "truth.npz"
    if not meta_path.exists() or not npz_path.exists():
        raise ConfigError(
            f"No simulated world named {name!r} under {directory.parent}; run `foryou simulate` first."
        )
    meta = json.loads(meta_path.read_text())
    if meta.get("format_version") != FORMAT_VERSION:
        raise ConfigError(
            f"{meta_path} has format {meta.get('format_version')}, expected {FORMAT_VERSION}; "
            "re-run `foryou simulate --replace` to regenerate it."
        )
    with np.load(npz_path) as npz:
        arrays = {key: npz[key] for key in npz.files}

    def group(prefix: str, cls: type) -> Any:
        return cls(**{f.name: arrays[f"{prefix}.{f.name}"] for f in dataclasses.fields(cls)})

    topics_meta = meta["topics"]
    topics = TopicSpace(
        names=tuple(topics_meta["names"]),
        words=tuple(tuple(w) for w in topics_meta["words"]),
        **{f: arrays[f"topics.{f}"] for f in ("prior", "region_prior", "saveability", "duration_shift")},
    )
    return World(
        config=WorldConfig.from_json(meta["config"]),
        topics=topics,
        users=group("users", Users),
        creators=group("creators", Creators),
        videos=group("videos", Videos),
        graph=SocialGraph(follows=group("graph.follows", Edges), blocks=group("graph.blocks", Edges)),
        projections=group("projections", ContentProjections),
        content={k: arrays[f"content.{k}"] for k in ("visual", "text", "audio")},
        response_params=ResponseParams.from_json(meta["response_params"]),
        policy_params=PolicyParams.from_json(meta["policy_params"]),
    )
