"""Artifact versions: checksums, feature-list contract, atomic promotion by metric."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from foryou.artifacts import (
    Artifact,
    ArtifactError,
    ArtifactStore,
    Manifest,
    Window,
    feature_list_hash,
    new_version,
)

FEATURES = ["user_stats__views_7d", "user_stats__likes_7d"]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 8, tzinfo=UTC)


def _write(store: ArtifactStore, auc: float, holdout: str = "h1", model: str = "reranker") -> Artifact:
    with store.staging(model) as folder:
        (folder / "model.json").write_text(f'{{"auc": {auc}}}')
        (folder / "sub").mkdir()
        (folder / "sub" / "weights.bin").write_bytes(bytes(range(256)))
        manifest = Manifest(
            model=model,
            version=new_version(),
            created_at=datetime.now(UTC),
            feature_service="reranker",
            features=FEATURES,
            feature_list_hash=feature_list_hash(FEATURES),
            training_window=Window(since=T0, until=T1),
            holdout_window=Window(since=T1, until=T1.replace(day=9)),
            holdout_id=holdout,
            data_sizes={"train": 100, "holdout": 10},
            metrics={"auc": auc},
            primary_metric="auc",
            seed=0,
        )
        return store.commit(folder, manifest)


def test_commit_hashes_every_file_and_load_verifies(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    artifact = _write(store, 0.7)
    assert set(artifact.manifest.files) == {"model.json", "sub/weights.bin"}
    assert artifact.manifest.packages["numpy"]
    assert store.versions("reranker") == [artifact.manifest.version]
    assert not [p for p in (tmp_path / "reranker").iterdir() if p.name.startswith(".staging")]
    loaded = store.load("reranker", artifact.manifest.version, expected_features=FEATURES)
    assert loaded.manifest == artifact.manifest


def test_tampered_missing_or_extra_files_are_refused(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    artifact = _write(store, 0.7)
    version = artifact.manifest.version
    (artifact.path / "sub" / "weights.bin").write_bytes(b"evil")
    with pytest.raises(ArtifactError, match=r"sub/weights.bin has sha256 .* the manifest says"):
        store.load("reranker", version)
    (artifact.path / "sub" / "weights.bin").unlink()
    with pytest.raises(ArtifactError, match="sub/weights.bin is missing"):
        store.load("reranker", version)
    other = _write(store, 0.7)
    (other.path / "extra.py").write_text("import os")
    with pytest.raises(ArtifactError, match="extra.py is not in the manifest"):
        store.load("reranker", other.manifest.version)
    (other.path / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not a valid manifest"):
        store.load("reranker", other.manifest.version)


def test_feature_list_mismatch_names_the_difference(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    version = _write(store, 0.7).manifest.version
    with pytest.raises(ArtifactError, match=r"gone: \['user_stats__likes_7d'\], new: \['x__y'\]"):
        store.load("reranker", version, expected_features=["user_stats__views_7d", "x__y"])
    with pytest.raises(ArtifactError, match="same features in another order"):
        store.load("reranker", version, expected_features=list(reversed(FEATURES)))


def test_promotion_only_when_not_worse_on_the_same_holdout(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    with pytest.raises(ArtifactError, match="No current reranker model"):
        store.load("reranker")
    first = _write(store, 0.70)
    assert store.promote(first).promoted
    worse = _write(store, 0.65)
    decision = store.promote(worse)
    assert not decision.promoted and "0.6500 vs current" in decision.reason
    assert store.current_version("reranker") == first.manifest.version
    equal = _write(store, 0.70)
    assert store.promote(equal).promoted
    assert store.load("reranker").manifest.version == equal.manifest.version
    # Another holdout: the current one must be re-scored on the candidate's holdout, else no promotion.
    moved = _write(store, 0.60, holdout="h2")
    assert not store.promote(moved).promoted
    assert not store.promote(moved, score_current=lambda _current: {"auc": 0.61}).promoted
    assert store.promote(moved, score_current=lambda _current: {"auc": 0.59}).promoted
    assert (tmp_path / "reranker" / "current").resolve() == moved.path.resolve()


def test_unknown_model_names_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="models are: two-tower, session, first-stage, reranker, index"):
        ArtifactStore(tmp_path).versions("ranker")
