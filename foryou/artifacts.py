"""Versioned model artifacts: the contract between training and serving.

    artifacts/<model>/<version>/            exported model files + manifest.json
    artifacts/<model>/current -> <version>  the promoted version (a symlink, swapped atomically)

A version is written into a staging folder beside its final place and renamed when complete, so a reader
never sees half an artifact. The manifest records what the model was trained on (FeatureService and a hash
of its feature list, training window, holdout, data sizes), its holdout metrics, its seed, the package
versions, and the sha256 of every file. `ArtifactStore.load` re-hashes every file and checks the feature-list
hash against the FeatureService serving will read; any mismatch is an ArtifactError naming what differs.
`promote` moves `current` only when the new version's primary metric is not worse than the current one's
on the same holdout. Serving imports this module, never the training code.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from foryou.errors import ForyouError

MANIFEST = "manifest.json"
CURRENT = "current"
MODELS = ("two-tower", "session", "first-stage", "reranker", "index")
PACKAGES = (
    "foryou",
    "feast",
    "tensorflow",
    "tf-keras",
    "tensorflow-recommenders",
    "torch",
    "xgboost",
    "faiss-cpu",
    "numpy",
    "pandas",
)


class ArtifactError(ForyouError):
    """An artifact is missing, corrupt, tampered with, or does not match what the caller needs."""

    exit_code = 7


def feature_list_hash(features: Sequence[str]) -> str:
    """sha256 of the ordered feature list (order matters: models read features by position)."""
    return hashlib.sha256("\n".join(features).encode()).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return versions


class Window(BaseModel):
    """A half-open time window (since, until] of the event log."""

    since: datetime | None = None
    until: datetime


class Manifest(BaseModel):
    """What a model version is, what it was trained on, how good it is, and how to check its files."""

    model: str
    version: str
    created_at: datetime
    feature_service: str | None = None
    features: list[str] = Field(default_factory=list)
    feature_list_hash: str
    training_window: Window
    holdout_window: Window
    holdout_id: str = Field(description="Identifies the holdout rows; metrics compare only on the same one.")
    data_sizes: dict[str, int]
    metrics: dict[str, float]
    primary_metric: str
    higher_is_better: bool = True
    seed: int
    params: dict[str, Any] = Field(default_factory=dict)
    packages: dict[str, str] = Field(default_factory=package_versions)
    files: dict[str, str] = Field(default_factory=dict, description="relative path → sha256")


@dataclass(frozen=True)
class Artifact:
    """A verified version on disk."""

    path: Path
    manifest: Manifest

    def file(self, name: str) -> Path:
        return self.path / name


@dataclass(frozen=True)
class Promotion:
    promoted: bool
    reason: str


def new_version(now: datetime | None = None) -> str:
    """Sortable and unique: UTC time to the second plus 6 random hex digits."""
    return f"{(now or datetime.now(UTC)).strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:6]}"


class ArtifactStore:
    """The artifacts folder of one installation (settings.home / "artifacts" by default)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # writing ---------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def staging(self, model: str) -> Iterator[Path]:
        """A private folder to write a version's files into; removed unless `commit` moved it."""
        _check_model(model)
        folder = self.root / model / f".staging-{uuid.uuid4().hex[:12]}"
        folder.mkdir(parents=True)
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def commit(self, staged: Path, manifest: Manifest) -> Artifact:
        """Hash every staged file into the manifest, write it, and rename the folder to its version."""
        files = sorted(p for p in staged.rglob("*") if p.is_file() and p.name != MANIFEST)
        if not files:
            raise ArtifactError(
                f"Refusing to commit {manifest.model} {manifest.version}: no files were written."
            )
        manifest = manifest.model_copy(
            update={"files": {str(p.relative_to(staged)): file_sha256(p) for p in files}}
        )
        (staged / MANIFEST).write_text(manifest.model_dump_json(indent=2))
        final = self.root / manifest.model / manifest.version
        if final.exists():
            raise ArtifactError(f"{final} already exists; versions are never overwritten.")
        os.rename(staged, final)
        return Artifact(final, manifest)

    # reading ---------------------------------------------------------------------------------------------

    def versions(self, model: str) -> list[str]:
        folder = self.root / _check_model(model)
        if not folder.is_dir():
            return []
        return sorted(
            p.name for p in folder.iterdir() if p.is_dir() and not p.is_symlink() and p.name[0] != "."
        )

    def current_version(self, model: str) -> str | None:
        link = self.root / _check_model(model) / CURRENT
        return os.readlink(link) if link.is_symlink() else None

    def load(
        self, model: str, version: str | None = None, *, expected_features: Sequence[str] | None = None
    ) -> Artifact:
        """A version (default: current), every file re-hashed; optionally the feature list checked."""
        version = version or self.current_version(model)
        if version is None:
            raise ArtifactError(
                f"No current {model} model under {self.root / model}; train one with `foryou train {model}`."
            )
        path = self.root / model / version
        manifest = read_manifest(path)
        problems = []
        for name, expected in manifest.files.items():
            file = path / name
            if not file.is_file():
                problems.append(f"{name} is missing")
            elif file_sha256(file) != expected:
                problems.append(
                    f"{name} has sha256 {file_sha256(file)[:12]}…, the manifest says {expected[:12]}…"
                )
        extra = sorted(
            str(p.relative_to(path))
            for p in path.rglob("*")
            if p.is_file() and p.name != MANIFEST and str(p.relative_to(path)) not in manifest.files
        )
        problems += [f"{name} is not in the manifest" for name in extra]
        if problems:
            raise ArtifactError(
                f"{model} {version} at {path} is corrupt or was modified: {'; '.join(problems)}. "
                "Retrain it, or point `current` at another version."
            )
        if expected_features is not None:
            _check_features(model, version, manifest, list(expected_features))
        return Artifact(path, manifest)

    # promotion -------------------------------------------------------------------------------------------

    def promote(
        self,
        candidate: Artifact,
        *,
        score_current: Callable[[Artifact], dict[str, float]] | None = None,
        force: bool = False,
    ) -> Promotion:
        """Point `current` at `candidate` unless the current version is better on the same holdout.

        When the current version was measured on another holdout, `score_current(current)` must measure it
        on the candidate's holdout (else the candidate is not promoted: nothing comparable is known).
        """
        m = candidate.manifest
        current_version = self.current_version(m.model)
        reason = "first version"
        if current_version is not None and not force:
            try:
                current = self.load(m.model, current_version)
            except ArtifactError as exc:
                reason = f"current {current_version} is unusable ({exc})"
            else:
                if current.manifest.holdout_id == m.holdout_id:
                    theirs = current.manifest.metrics.get(m.primary_metric)
                elif score_current is not None:
                    theirs = score_current(current).get(m.primary_metric)
                else:
                    return Promotion(False, f"current {current_version} was measured on another holdout")
                ours = m.metrics[m.primary_metric]
                if theirs is not None:
                    worse = ours < theirs if m.higher_is_better else ours > theirs
                    verdict = f"{m.primary_metric} {ours:.4f} vs current {current_version} {theirs:.4f}"
                    if worse:
                        return Promotion(False, f"not promoted: {verdict}")
                    reason = verdict
        elif force:
            reason = "forced"
        self._point_current(m.model, m.version)
        return Promotion(True, reason)

    def set_current(self, model: str, version: str) -> None:
        """Point `current` at a verified version (an index build, or a manual rollback)."""
        self.load(model, version)
        self._point_current(model, version)

    def _point_current(self, model: str, version: str) -> None:
        folder = self.root / model
        tmp = folder / f".{CURRENT}-{uuid.uuid4().hex[:8]}"
        os.symlink(version, tmp)
        os.replace(tmp, folder / CURRENT)  # atomic: readers see the old or the new target, never none


def read_manifest(path: Path) -> Manifest:
    file = path / MANIFEST
    if not file.is_file():
        raise ArtifactError(f"{path} has no {MANIFEST}: not an artifact folder, or a half-copied one.")
    try:
        return Manifest.model_validate(json.loads(file.read_text()))
    except (ValueError, ValidationError) as exc:
        raise ArtifactError(f"{file} is not a valid manifest: {exc}") from exc


def _check_features(model: str, version: str, manifest: Manifest, expected: list[str]) -> None:
    now = feature_list_hash(expected)
    if now == manifest.feature_list_hash:
        return
    gone = [f for f in manifest.features if f not in expected]
    new = [f for f in expected if f not in manifest.features]
    order = ", same features in another order" if not gone and not new else ""
    raise ArtifactError(
        f"{model} {version} was trained on FeatureService {manifest.feature_service!r} with another feature "
        f"list (hash {manifest.feature_list_hash[:12]}…, now {now[:12]}…; "
        f"gone: {gone[:5] or 'none'}, new: {new[:5] or 'none'}{order}). Retrain with `foryou train {model}`."
    )


def _check_model(model: str) -> str:
    if model not in MODELS:
        raise ArtifactError(f"Unknown model {model!r}; models are: {', '.join(MODELS)}.")
    return model
