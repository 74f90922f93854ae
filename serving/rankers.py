"""Scoring with trained rankers: verified artifacts in, float32 feature matrices in, scores out.

    two_tower = TwoTowerModel.load(store)                                     # serving/two_tower.py
    first = FirstStageScorer.load(store, expected_features=first_stage_names,
                                  two_tower_version=two_tower.version)        # XGBoost JSON
    x = np.hstack([features, affinity_inputs(two_tower, first.extra_inputs, …)])  # serving/affinity
    scores = first.score(x)                                                   # inplace_predict
    rerank = RerankerScorer.load(store, expected_features=reranker_names,
                                 two_tower_version=two_tower.version)         # TF SavedModel
    heads = rerank.heads(x50); value = utility(heads, rerank.weights)

Both load through `ArtifactStore.load`, which re-hashes every file and refuses a feature list other than
the one the model was trained on, so a tampered file or a changed FeatureService fails at load, not as
silently wrong scores. The manifest's feature list is the FeatureService (the contract); a model may also
read **extra inputs** computed from the two-tower (manifest params `extra_inputs`, e.g.
`retrieval__two_tower_score`), appended after the service's features in that order (`.inputs` is the full
column list `score`/`heads` take). Such a model records the two-tower version it was trained against
(params `two_tower_version`) and `load` refuses any other two-tower version (or none): user and video
vectors of another version live in another space, so its scores would be silently wrong. Load once per
process; the SavedModel's `score` is a tf.function with a fixed input signature, called directly
(repeated `model.predict` grows memory). Serving never imports training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import foryou  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
from foryou.artifacts import Artifact, ArtifactError, ArtifactStore
from foryou.value_model import HEADS, load_value_model
from foryou.value_model import utility as _utility

FIRST_STAGE_FILE = "model.json"
SAVED_MODEL = "saved_model"
VALUE_MODEL_FILE = "value_model.toml"


def utility(heads: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """Σ weights[h] · heads[h]: the re-ranker's value of each candidate (float64)."""
    return _utility(heads, weights)


def _two_tower_inputs(artifact: Artifact, two_tower_version: str | None) -> list[str]:
    """The artifact's extra two-tower inputs, after checking it was trained against `two_tower_version`."""
    manifest = artifact.manifest
    extra = [str(n) for n in manifest.params.get("extra_inputs") or []]
    if not extra:
        return extra
    trained_on = manifest.params.get("two_tower_version")
    if two_tower_version is None:
        raise ArtifactError(
            f"{manifest.model} {manifest.version} reads {len(extra)} two-tower input(s) ({extra[0]} …) "
            f"computed by two-tower {trained_on}; load it with two_tower_version= the version of the "
            "two-tower serving loaded (TwoTowerModel.load(store).version)."
        )
    if trained_on != two_tower_version:
        raise ArtifactError(
            f"{manifest.model} {manifest.version} was trained against two-tower {trained_on}, but serving "
            f"loaded two-tower {two_tower_version}: its user × video inputs would come from another vector "
            f"space. Retrain it with `foryou train {manifest.model}` (after the two-tower is promoted), or "
            f"load two-tower {trained_on}."
        )
    return extra


def _as_matrix(x: Any, n_features: int, model: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != n_features:
        raise ValueError(f"{model} scores a float32 [rows, {n_features}] matrix; got shape {x.shape}.")
    return x


class FirstStageScorer:
    """The first-stage XGBoost ranker: one score per candidate, higher is better."""

    def __init__(self, artifact: Artifact, threads: int = 1, two_tower_version: str | None = None) -> None:
        import xgboost as xgb

        self.artifact = artifact
        self.features: list[str] = list(artifact.manifest.features)
        self.extra_inputs: list[str] = _two_tower_inputs(artifact, two_tower_version)
        self.inputs: list[str] = [*self.features, *self.extra_inputs]
        self.two_tower_version: str | None = artifact.manifest.params.get("two_tower_version")
        self.booster = xgb.Booster(
            params={"nthread": threads}, model_file=str(artifact.file(FIRST_STAGE_FILE))
        )

    @classmethod
    def load(
        cls,
        store: ArtifactStore,
        *,
        expected_features: Sequence[str],
        version: str | None = None,
        threads: int = 1,
        two_tower_version: str | None = None,
    ) -> FirstStageScorer:
        """The current (or given) first-stage version, verified against the features serving will send and,
        when it reads two-tower inputs, against the two-tower version serving loaded."""
        artifact = store.load("first-stage", version, expected_features=expected_features)
        return cls(artifact, threads, two_tower_version)

    def score(self, x: np.ndarray) -> np.ndarray:
        """Scores for the rows of x (float32, NaN = missing): the manifest's features, then `extra_inputs`."""
        matrix = _as_matrix(x, len(self.inputs), "first-stage")
        return np.asarray(self.booster.inplace_predict(matrix, validate_features=False), dtype=np.float64)


class RerankerScorer:
    """The multi-task re-ranker: every head per candidate, and their utility under the value model."""

    def __init__(
        self,
        artifact: Artifact,
        weights: Mapping[str, float] | None = None,
        two_tower_version: str | None = None,
    ) -> None:
        import tensorflow as tf

        self.artifact = artifact
        self.features: list[str] = list(artifact.manifest.features)
        self.extra_inputs: list[str] = _two_tower_inputs(artifact, two_tower_version)
        self.inputs: list[str] = [*self.features, *self.extra_inputs]
        self.two_tower_version: str | None = artifact.manifest.params.get("two_tower_version")
        self._module = tf.saved_model.load(str(artifact.file(SAVED_MODEL)))
        self._tf = tf
        if weights is None:
            # The value model the version was measured with, else the shipped file.
            own = artifact.file(VALUE_MODEL_FILE)
            weights = load_value_model(own if Path(own).is_file() else None).weights
        self.weights = dict(weights)

    @classmethod
    def load(
        cls,
        store: ArtifactStore,
        *,
        expected_features: Sequence[str],
        version: str | None = None,
        weights: Mapping[str, float] | None = None,
        two_tower_version: str | None = None,
    ) -> RerankerScorer:
        """The current (or given) re-ranker version, verified against the features serving will send and,
        when it reads two-tower inputs, against the two-tower version serving loaded."""
        artifact = store.load("reranker", version, expected_features=expected_features)
        return cls(artifact, weights, two_tower_version)

    def heads(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """P(like), …, P(follow) and E[watch time s] for the rows of x (features, then `extra_inputs`)."""
        matrix = _as_matrix(x, len(self.inputs), "reranker")
        out = self._module.score(self._tf.constant(matrix))
        missing = [h for h in HEADS if h not in out]
        if missing:
            raise ArtifactError(f"reranker {self.artifact.manifest.version} does not return heads {missing}.")
        return {h: out[h].numpy().astype(np.float64) for h in HEADS}

    def utility(self, x: np.ndarray, weights: Mapping[str, float] | None = None) -> np.ndarray:
        """Utility of each row under `weights` (default: this scorer's value model)."""
        return utility(self.heads(x), weights or self.weights)

    def utility_batched(self, x: np.ndarray, batch: int = 8192) -> np.ndarray:
        """`utility` over a large matrix in batches (offline use: distillation, evaluation)."""
        parts = [self.utility(x[start : start + batch]) for start in range(0, len(x), batch)]
        return np.concatenate(parts) if parts else np.zeros(0)
