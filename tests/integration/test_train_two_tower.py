"""Two-tower trainer and serving loader over real Postgres + Redis on a tiny simulated world.

One module-scoped world (300 users, 600 videos, 2 days: day 1 trains, day 2 is the holdout) and one tiny
model (dim 16, 2 epochs, video-id embedding on so the vocabulary path is exercised) serve every test.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from foryou import feast_repo
from foryou.artifacts import ArtifactError, ArtifactStore
from foryou.db import make_engine
from foryou.errors import ConfigError
from foryou.runtime import Runtime, open_runtime
from foryou.scratch import scratch_database
from foryou.settings import Settings
from pipelines.datasets.build import DatasetError
from pipelines.features.build import build
from pipelines.train import two_tower
from pipelines.train.common import TRAINERS, TrainOptions, TrainResult
from pipelines.train.data import load_sets
from serving.two_tower import TwoTowerModel, read_videos
from worldsim import WorldConfig, simulate_into_database

pytestmark = pytest.mark.integration

START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
UNTIL = START + dt.timedelta(days=2)
PARAMS = {
    "embedding_dim": 16,
    "hidden": 32,
    "user_id_buckets": 1000,
    "user_id_dim": 8,
    "creator_buckets": 100,
    "creator_dim": 4,
    "tag_buckets": 100,
    "tag_dim": 4,
    "batch_size": 128,
    "video_id_embedding": True,
}
OPTIONS = TrainOptions(until=UNTIL, holdout_days=1.0, seed=3, epochs=2, params=PARAMS)


@dataclasses.dataclass
class Trained:
    runtime: Runtime
    engine: sa.Engine
    store: ArtifactStore
    result: TrainResult


@pytest.fixture(scope="module")
def trained(
    server_urls, template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Trained]:  # type: ignore[no-untyped-def]
    with scratch_database(server_urls.database_url, "foryou_t", template=template_database) as url:
        settings = Settings(
            database_url=url, redis_url=server_urls.redis_url, home=tmp_path_factory.mktemp("tt") / "home"
        )
        engine = make_engine(url)
        try:
            simulate_into_database(
                engine,
                WorldConfig(seed=0, n_users=300, n_creators=30, n_videos=600, days=2, start=START),
                settings.home,
                name="t",
            )
            build(engine, until=UNTIL)
            runtime = open_runtime(settings)
            feast_repo.apply(settings, runtime.stores)
            result = two_tower.train(runtime, OPTIONS, None)
            yield Trained(runtime, engine, ArtifactStore(settings.artifacts_dir), result)
        finally:
            engine.dispose()


def test_registered_first() -> None:
    assert next(iter(TRAINERS)) == "two-tower" and TRAINERS["two-tower"] == "two_tower"


def test_artifact_is_written_verified_and_promoted(trained: Trained) -> None:
    manifest = trained.result.artifact.manifest
    sets = load_sets(trained.runtime, "retrieval", until=UNTIL, holdout_days=1.0)
    assert manifest.model == "two-tower" and manifest.feature_service == "two_tower_user"
    assert manifest.features == sets.features and len(manifest.features) == 29  # the service's user_stats
    assert all(f.startswith("user_stats__") for f in manifest.features)
    assert (
        manifest.primary_metric == "recall_at_300"
        and manifest.params["embedding_dim"] == 16
        and manifest.params["dim"] == 17
    )
    for name in (
        "recall_at_100",
        "recall_at_300",
        "popularity_recall_at_300",
        "recent_popularity_recall_at_300",
    ):
        assert 0.0 <= manifest.metrics[name] <= 1.0
    assert {"user_tower/saved_model.pb", "video_tower/saved_model.pb", "video_inputs.json"} <= set(
        manifest.files
    )
    assert trained.result.promotion.promoted
    assert trained.store.current_version("two-tower") == manifest.version
    loaded = trained.store.load("two-tower", expected_features=sets.features)
    assert loaded.manifest == manifest


def test_serving_embeddings_equal_the_training_model(trained: Trained) -> None:
    model = TwoTowerModel.load(trained.store)
    reference = np.load(trained.result.artifact.file(two_tower.REFERENCE_FILE))
    assert model.dim == 17 and model.version == trained.result.artifact.manifest.version
    users = model.embed_users(reference["user_id"], reference["user_features"])
    assert users.dtype == np.float32 and users.shape == (len(reference["user_id"]), 17)
    np.testing.assert_allclose(users, reference["user_vectors"], atol=1e-5)
    videos = read_videos(trained.engine, video_ids=reference["video_id"])
    assert videos["video_id"].tolist() == sorted(reference["video_id"].tolist())
    order = np.argsort(reference["video_id"])
    vectors = model.embed_videos(videos)
    np.testing.assert_allclose(vectors, reference["video_vectors"][order], atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors[:, :16], axis=1), 1.0, atol=1e-5)


def test_a_brand_new_video_gets_a_content_vector(trained: Trained) -> None:
    model = TwoTowerModel.load(trained.store)
    with trained.engine.begin() as conn:
        source = conn.execute(sa.text("SELECT max(video_id) FROM videos")).scalar_one()
    new_ids = [source + 1000, source + 2000]  # same content as the last video, ids never seen
    try:
        with trained.engine.begin() as conn:
            for new_id in new_ids:
                conn.execute(
                    sa.text(
                        "INSERT INTO videos (video_id, creator_id, uploaded_at, duration_s, title, tags, "
                        "visual_vec, text_vec, audio_vec) SELECT :new, creator_id, :at, duration_s, title, "
                        "tags, visual_vec, text_vec, audio_vec FROM videos WHERE video_id = :src"
                    ),
                    {"new": new_id, "src": source, "at": UNTIL + dt.timedelta(minutes=5)},
                )
        fresh = read_videos(trained.engine, uploaded_after=UNTIL)
    finally:  # leave the catalogue as the other tests (and the retraining) expect it
        with trained.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM videos WHERE video_id = ANY(:ids)"), {"ids": new_ids})
    assert fresh["video_id"].tolist() == new_ids
    vectors = model.embed_videos(fresh)
    assert vectors.shape == (2, model.dim) and np.isfinite(vectors).all()
    # An unseen id contributes nothing (no hash collision with a trained video): only content counts.
    np.testing.assert_array_equal(vectors[0], vectors[1])
    # The content part is a unit vector; the last component is the recency term (newest upload: largest).
    np.testing.assert_allclose(np.linalg.norm(vectors[:, :-1], axis=1), 1.0, atol=1e-5)
    reference = np.load(trained.result.artifact.file(two_tower.REFERENCE_FILE))
    assert vectors[0, -1] >= reference["video_vectors"][:, -1].max()
    # NULL content, creator, duration and tags still give a finite vector.
    bare = fresh.head(1).assign(creator_id=None, duration_s=None, tags=None, visual_vec=None)
    assert np.isfinite(model.embed_videos(bare)).all()


def test_a_tampered_saved_model_is_refused(trained: Trained) -> None:
    artifact = trained.result.artifact
    copy = artifact.path.parent / f"{artifact.manifest.version}-tampered"
    shutil.copytree(artifact.path, copy)
    try:
        with (copy / "video_tower" / "saved_model.pb").open("ab") as handle:
            handle.write(b"\0")
        with pytest.raises(ArtifactError, match=r"video_tower/saved_model.pb has sha256"):
            TwoTowerModel.load(trained.store, version=copy.name)
    finally:
        shutil.rmtree(copy)


def test_same_seed_gives_the_same_model_and_numbers(trained: Trained) -> None:
    again = two_tower.train(trained.runtime, dataclasses.replace(OPTIONS, promote=False), None)
    first = trained.result.metrics
    assert again.metrics == first
    a = np.load(trained.result.artifact.file(two_tower.REFERENCE_FILE))
    b = np.load(again.artifact.file(two_tower.REFERENCE_FILE))
    np.testing.assert_array_equal(a["video_vectors"], b["video_vectors"])
    np.testing.assert_array_equal(a["user_vectors"], b["user_vectors"])
    # Pinned on this world (seed 3, 2 epochs, TF 2.21 CPU). The popularity figures depend on data only; the
    # model's move if TensorFlow's numerics change — then re-pin after checking the model still learns.
    got = {k: first[k] for k in PINNED}
    assert got == pytest.approx(PINNED, abs=1e-6), f"pinned numbers moved: {got}"


PINNED = {
    "queries": 31.0,
    "popularity_recall_at_300": 0.76657,
    "recent_popularity_recall_at_300": 0.76657,  # = popularity: the training window is one day
    "recall_at_100": 0.224953,
    "recall_at_300": 0.643126,  # below popularity on 600 videos after 2 epochs: a pin, not a quality bar
}


def test_wrong_columns_and_empty_windows_are_clear_errors(trained: Trained, tmp_path: Path) -> None:
    runtime = trained.runtime
    sets = load_sets(runtime, "retrieval", until=UNTIL, holdout_days=1.0)
    broken = dataclasses.replace(sets, train=sets.train.drop(columns=["user_stats__views_7d"]))
    videos = read_videos(trained.engine)
    with pytest.raises(DatasetError, match="user_stats__views_7d"):
        two_tower.fit_and_save(runtime, broken, videos, None, OPTIONS, {**two_tower.DEFAULTS, **PARAMS})
    model = TwoTowerModel.load(trained.store)
    with pytest.raises(ValueError, match="visual_vec"):
        model.embed_videos(videos.drop(columns=["visual_vec"]))
    with pytest.raises(ValueError, match="two_tower_user"):
        model.embed_users([1, 2], np.zeros((2, 5), dtype=np.float32))
    assert model.embed_videos(videos.head(0)).shape == (0, 17)
    with pytest.raises(ConfigError, match="Unknown two-tower params"):
        two_tower.train(runtime, dataclasses.replace(OPTIONS, params={"embeding_dim": 8}), None)
    with pytest.raises(DatasetError, match="window"):
        two_tower.train(runtime, dataclasses.replace(OPTIONS, until=START + dt.timedelta(hours=1)), None)
