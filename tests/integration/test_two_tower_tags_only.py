"""Two-tower on a catalogue without content vectors (like MovieLens: genres as tags, no visual/text/audio).

One module-scoped tiny simulated world (300 users, 600 videos, 2 days) whose `videos` rows then lose every
content vector (NULL), and one tiny model trained on it through `two_tower.train`: the content columns are
left out of the video tower, recorded in the artifact, and serving builds the same (smaller) inputs. A second
fit on the same sets with one column partly present and one absent checks the mixed case.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from foryou import feast_repo
from foryou.artifacts import ArtifactStore
from foryou.db import make_engine
from foryou.runtime import Runtime, open_runtime
from foryou.scratch import scratch_database
from foryou.settings import Settings
from pipelines.features.build import build
from pipelines.train import two_tower
from pipelines.train.common import TrainOptions, TrainResult
from pipelines.train.data import load_sets
from serving.two_tower import CONTENT_COLUMNS, VIDEO_INPUTS_FILE, TwoTowerModel, read_videos, video_inputs
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
    "threads": 1,
}
OPTIONS = TrainOptions(until=UNTIL, holdout_days=1.0, seed=3, epochs=1, params=PARAMS)


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
            with engine.begin() as conn:
                conn.execute(
                    sa.text("UPDATE videos SET visual_vec = NULL, text_vec = NULL, audio_vec = NULL")
                )
            build(engine, until=UNTIL)
            runtime = open_runtime(settings)
            feast_repo.apply(settings, runtime.stores)
            result = two_tower.train(runtime, OPTIONS, None)
            yield Trained(runtime, engine, ArtifactStore(settings.artifacts_dir), result)
        finally:
            engine.dispose()


def test_a_tags_only_catalogue_trains_without_content_inputs(trained: Trained) -> None:
    manifest = trained.result.artifact.manifest
    assert manifest.params["content_widths"] == {}
    assert manifest.params["content_columns_absent"] == list(CONTENT_COLUMNS)
    assert manifest.params["dim"] == 17 and trained.result.promotion.promoted
    spec = json.loads(trained.result.artifact.file(VIDEO_INPUTS_FILE).read_text())
    assert spec == {"max_tags": 8, "widths": {}}
    for name in ("recall_at_100", "recall_at_300", "popularity_recall_at_300"):
        assert 0.0 <= manifest.metrics[name] <= 1.0


def test_serving_loads_and_embeds_a_tags_only_model(trained: Trained) -> None:
    model = TwoTowerModel.load(trained.store)  # re-embeds reference.npz through the exported signature
    assert model.spec.content_columns == () and model.dim == 17
    videos = read_videos(trained.engine)
    inputs = video_inputs(videos, model.spec)
    assert not set(CONTENT_COLUMNS) & set(inputs)
    vectors = model.embed_videos(videos)
    assert vectors.shape == (600, 17) and vectors.dtype == np.float32 and np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors[:, :16], axis=1), 1.0, atol=1e-5)
    reference = np.load(trained.result.artifact.file(two_tower.REFERENCE_FILE))
    rows = np.searchsorted(videos["video_id"].to_numpy(), reference["video_id"])
    np.testing.assert_allclose(vectors[rows], reference["video_vectors"], atol=1e-5)
    assert len(np.unique(vectors.round(4), axis=0)) > 100  # tags, creator and id tell videos apart
    # The content columns are ignored even when a caller passes vectors: the model never had them.
    with_content = videos.head(3).assign(visual_vec=_column([[0.5] * 32] * 3, videos.head(3)))
    np.testing.assert_allclose(model.embed_videos(with_content), vectors[:3], atol=1e-6)
    sets = load_sets(trained.runtime, "retrieval", until=UNTIL, holdout_days=1.0)
    x = sets.holdout[model.features].head(5).to_numpy(dtype=np.float32, na_value=np.nan)
    users = model.embed_users(sets.holdout["user_id"].head(5).to_numpy(), x)
    assert users.shape == (5, 17) and np.isfinite(users @ vectors.T).all()


def test_a_partly_missing_column_stays_an_input_and_an_absent_one_does_not(trained: Trained) -> None:
    sets = load_sets(trained.runtime, "retrieval", until=UNTIL, holdout_days=1.0)
    videos = read_videos(trained.engine)
    rng = np.random.default_rng(0)
    # visual_vec on every other video (NaN row = NULL for the rest), text_vec as None/NaN only, no audio_vec.
    visual = [rng.normal(size=4).tolist() if i % 2 == 0 else None for i in range(len(videos))]
    text = [None if i % 2 else float("nan") for i in range(len(videos))]
    mixed = videos.assign(visual_vec=_column(visual, videos), text_vec=_column(text, videos))
    options = dataclasses.replace(OPTIONS, promote=False)
    params = {**two_tower.DEFAULTS, **PARAMS, "epochs": 1}
    result = two_tower.fit_and_save(trained.runtime, sets, mixed, None, options, params)
    assert result.artifact.manifest.params["content_widths"] == {"visual_vec": 4}
    assert result.artifact.manifest.params["content_columns_absent"] == ["text_vec", "audio_vec"]
    model = TwoTowerModel.load(trained.store, version=result.artifact.manifest.version)
    assert model.spec.content_columns == ("visual_vec",)
    vectors = model.embed_videos(mixed)
    assert vectors.shape == (600, 17) and np.isfinite(vectors).all()
    # The same video with and without its visual_vec: the vector changes (the column is read).
    bare = mixed.head(1).assign(visual_vec=_column([None], mixed.head(1)))
    assert not np.allclose(model.embed_videos(bare)[0], vectors[0])
    with pytest.raises(ValueError, match="visual_vec has 3 values"):
        model.embed_videos(mixed.head(1).assign(visual_vec=_column([[0.0, 1.0, 2.0]], mixed.head(1))))


def _column(values: list[Any], frame: pd.DataFrame) -> pd.Series:
    """An object column of per-row vectors (or None / NaN) aligned with `frame`."""
    return pd.Series(values, index=frame.index, dtype=object)
