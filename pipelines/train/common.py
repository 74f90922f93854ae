"""What every trainer shares: its options, its result, seeding, progress, and writing the artifact.

A trainer is a module in pipelines/train with `MODEL = "<artifact model name>"` and
`train(runtime, options, progress) -> TrainResult`; `TRAINERS` below maps CLI names to modules, in the
order `foryou train all` runs them (later models may use earlier ones: first-stage distils the re-ranker).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from foryou.artifacts import (
    Artifact,
    ArtifactStore,
    Manifest,
    Promotion,
    Window,
    feature_list_hash,
    new_version,
)
from foryou.runtime import Runtime
from pipelines.train.data import TrainingSets

# CLI name → module (pipelines.train.<module>), in `train all` order.
TRAINERS: dict[str, str] = {
    "two-tower": "two_tower",
    "session": "session_encoder",
    "reranker": "reranker",
    "first-stage": "first_stage",
}

Progress = Callable[..., Any]  # a rich Progress-like object or None; see `progress_iter`


@dataclass(frozen=True)
class TrainOptions:
    until: datetime | None = None
    since: datetime | None = None
    holdout_days: float = 1.0
    seed: int = 0
    epochs: int | None = None  # None: the trainer's default
    promote: bool = True
    params: dict[str, Any] = field(
        default_factory=dict
    )  # trainer-specific overrides (tests use small models)


@dataclass(frozen=True)
class TrainResult:
    artifact: Artifact
    promotion: Promotion

    @property
    def metrics(self) -> dict[str, float]:
        return self.artifact.manifest.metrics


class Trainer(Protocol):
    MODEL: str

    def train(self, runtime: Runtime, options: TrainOptions, progress: Any = None) -> TrainResult: ...


def trainer(name: str) -> Trainer:
    from foryou.errors import ConfigError

    if name not in TRAINERS:
        raise ConfigError(f"Unknown model {name!r}; choose one of: {', '.join(TRAINERS)} or all.")
    return importlib.import_module(f"pipelines.train.{TRAINERS[name]}")  # type: ignore[return-value]


def seed_everything(seed: int) -> None:
    """Python, NumPy, TensorFlow and torch (whichever are imported) start from `seed`; ops deterministic."""
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    import sys

    if "tensorflow" in sys.modules:
        import tensorflow as tf

        tf.keras.utils.set_random_seed(seed)
        tf.config.experimental.enable_op_determinism()
    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)


def artifact_store(runtime: Runtime) -> ArtifactStore:
    return ArtifactStore(runtime.settings.artifacts_dir)


def save_artifact(
    runtime: Runtime,
    *,
    model: str,
    write_files: Callable[[Path], None],
    sets: TrainingSets,
    feature_service: str | None,
    features: list[str],
    metrics: dict[str, float],
    primary_metric: str,
    options: TrainOptions,
    params: dict[str, Any],
    higher_is_better: bool = True,
    score_current: Callable[[Artifact], dict[str, float]] | None = None,
) -> TrainResult:
    """Write the files into a staged version, commit it with its manifest, and promote it if it is as good."""
    store = artifact_store(runtime)
    with store.staging(model) as folder:
        write_files(folder)
        manifest = Manifest(
            model=model,
            version=new_version(),
            created_at=datetime.now(UTC),
            feature_service=feature_service,
            features=features,
            feature_list_hash=feature_list_hash(features),
            training_window=Window(since=sets.since, until=sets.holdout_start),
            holdout_window=Window(since=sets.holdout_start, until=sets.until),
            holdout_id=sets.holdout_id,
            data_sizes={"train_rows": len(sets.train), "holdout_rows": len(sets.holdout)},
            metrics={k: float(v) for k, v in metrics.items()},
            primary_metric=primary_metric,
            higher_is_better=higher_is_better,
            seed=options.seed,
            params=params,
        )
        artifact = store.commit(folder, manifest)
    promotion = (
        store.promote(artifact, score_current=score_current)
        if options.promote
        else Promotion(False, "--no-promote")
    )
    return TrainResult(artifact, promotion)


def progress_task(progress: Any, description: str, total: int) -> Callable[[int], None]:
    """A callable advancing a rich Progress task (a no-op without a progress object)."""
    if progress is None:
        return lambda n=1: None
    task = progress.add_task(description, total=total)

    def advance(n: int = 1) -> None:
        progress.update(task, advance=n)

    return advance


def tensorflow(threads: int) -> Any:
    """TensorFlow limited to `threads` intra-op threads (the first call in a process sets it)."""
    import tensorflow as tf

    with contextlib.suppress(RuntimeError):  # already initialised in this process: keep its settings
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    return tf


@contextlib.contextmanager
def warnings_off() -> Iterator[None]:
    """Silence RuntimeWarnings (NaN-aware statistics over all-missing columns) inside the block."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
