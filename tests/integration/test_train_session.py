"""Session encoder trainer and serving loader over real Postgres on a tiny simulated world.

One module-scoped world (300 users, 600 videos, 2 days: day 1 trains, day 2 is the holdout) and one tiny GRU
(hidden 16, 2 epochs). No two-tower is trained here: the video space is injected through the trainer's seam
as a fixed random projection of the videos' content vectors, L2-normalised — a deterministic stand-in for
the video tower (the sequences, the store and the artifact are all real).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
import torch

from foryou.artifacts import ArtifactError, ArtifactStore
from foryou.db import make_engine
from foryou.runtime import Runtime, open_runtime
from foryou.scratch import scratch_database
from foryou.settings import Settings
from pipelines.datasets.build import DatasetError
from pipelines.train import session_encoder
from pipelines.train.common import TRAINERS, TrainOptions, TrainResult
from pipelines.train.sessions import read_sequences
from serving.session_encoder import FEATURES, REFERENCE_FILE, STEP_FEATURES, SessionEncoder
from serving.two_tower import CONTENT_COLUMNS, read_videos
from worldsim import WorldConfig, simulate_into_database

pytestmark = pytest.mark.integration

START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
UNTIL = START + dt.timedelta(days=2)
STAND_IN = "content-projection-test"
PARAMS = {"hidden": 16, "batch_size": 64, "threads": 1, "min_targets": 5}
OPTIONS = TrainOptions(until=UNTIL, holdout_days=1.0, seed=3, epochs=2, params=PARAMS)


@dataclasses.dataclass
class Trained:
    runtime: Runtime
    engine: sa.Engine
    store: ArtifactStore
    space: session_encoder.VideoSpace
    result: TrainResult


def content_projection(engine: sa.Engine, dim: int = 16, seed: int = 0) -> session_encoder.VideoSpace:
    """Every video's standardised content vectors times a fixed Gaussian matrix, L2-normalised."""
    videos = read_videos(engine)
    x = np.hstack([np.stack(videos[c].to_numpy()) for c in CONTENT_COLUMNS]).astype(np.float64)
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-9)
    v = x @ np.random.default_rng(seed).standard_normal((x.shape[1], dim))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return session_encoder.VideoSpace(STAND_IN, videos["video_id"].to_numpy(np.int64), v.astype(np.float32))


def train(
    trained_or_runtime: Runtime, space: session_encoder.VideoSpace, options: TrainOptions
) -> TrainResult:
    params = session_encoder._params(options)
    assert options.until is not None
    return session_encoder.fit_and_save(trained_or_runtime, space, options, params, until=options.until)


@pytest.fixture(scope="module")
def trained(
    server_urls, template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Trained]:  # type: ignore[no-untyped-def]
    with scratch_database(server_urls.database_url, "foryou_t", template=template_database) as url:
        settings = Settings(
            database_url=url, redis_url=server_urls.redis_url, home=tmp_path_factory.mktemp("se") / "home"
        )
        engine = make_engine(url)
        try:
            simulate_into_database(
                engine,
                WorldConfig(seed=0, n_users=300, n_creators=30, n_videos=600, days=2, start=START),
                settings.home,
                name="t",
            )
            runtime = open_runtime(settings)
            space = content_projection(engine)
            result = train(runtime, space, OPTIONS)
            yield Trained(runtime, engine, ArtifactStore(settings.artifacts_dir), space, result)
        finally:
            engine.dispose()


def test_registered_right_after_two_tower() -> None:
    names = list(TRAINERS)
    assert names[names.index("two-tower") + 1] == "session" and TRAINERS["session"] == "session_encoder"


def test_prefixes_hold_only_events_before_their_target(trained: Trained) -> None:
    sequences = read_sequences(trained.engine, until=UNTIL, max_len=20)
    t = sequences.targets
    assert len(t) > 100 and (sequences.lengths >= 1).all() and (sequences.lengths <= 20).all()
    epoch = pd.Timestamp(0, tz="UTC")
    cut_s = (t["cut"] - epoch).dt.total_seconds().to_numpy()
    target_s = (t["target_ts"] - epoch).dt.total_seconds().to_numpy()
    assert (cut_s <= target_s).all()
    valid = sequences.step_video_id >= 0
    assert (valid.sum(axis=1) == sequences.lengths).all()
    # The property: no prefix step at or after its target's cut (hence none at or after the target itself).
    assert (np.where(valid, sequences.step_ts, -np.inf) < cut_s[:, None]).all()
    assert (np.diff(sequences.step_ts, axis=1)[valid[:, 1:]] >= 0).all()  # oldest first
    assert (sequences.steps[:, :, STEP_FEATURES.index("age_s")][valid] > 0).all()
    # Recomputed independently from the raw log: the last ≤ 20 views/skips of the session before the cut.
    with trained.engine.connect() as conn:
        events = pd.DataFrame(
            conn.execute(
                sa.text(
                    "SELECT session_id, video_id, event_type, ts, watch_fraction FROM events "
                    "WHERE session_id IS NOT NULL ORDER BY ts, event_id"
                )
            ).all(),
            columns=["session_id", "video_id", "event_type", "ts", "watch_fraction"],
        )
    events["ts"] = pd.to_datetime(events["ts"], utc=True)
    by_session = dict(tuple(events.groupby("session_id")))
    rng = np.random.default_rng(0)
    for i in rng.choice(len(t), size=150, replace=False):
        row = t.iloc[i]
        session = by_session[row["session_id"]]
        mine = session[session["video_id"] == row["video_id"]]
        positive = mine["event_type"].isin(["like", "save", "share"]) | (
            (mine["event_type"] == "view") & (mine["watch_fraction"] >= 0.75)
        )
        assert mine.loc[positive, "ts"].min() == row["target_ts"]
        watched = session[session["event_type"].isin(["view", "skip"]) & (session["ts"] < row["cut"])]
        expected = watched["video_id"].to_numpy()[-20:]
        np.testing.assert_array_equal(sequences.step_video_id[i, : sequences.lengths[i]], expected)


def test_artifact_is_written_verified_and_promoted(trained: Trained) -> None:
    manifest = trained.result.artifact.manifest
    assert manifest.model == "session" and manifest.features == FEATURES
    assert manifest.feature_service is None and manifest.primary_metric == "recall_at_300"
    assert manifest.params["two_tower_version"] == STAND_IN and manifest.params["embedding_dim"] == 16
    assert {"session_encoder.pt", REFERENCE_FILE} <= set(manifest.files)
    for name in ("recall_at_100", "recall_at_300", "last_item_recall_at_300", "prefix_mean_recall_at_300"):
        assert 0.0 <= manifest.metrics[name] <= 1.0
    assert manifest.data_sizes["train_rows"] > 0 and manifest.data_sizes["holdout_rows"] > 0
    assert manifest.training_window.until == manifest.holdout_window.since == UNTIL - dt.timedelta(days=1)
    assert trained.result.promotion.promoted and trained.store.current_version("session") == manifest.version
    assert trained.store.load("session").manifest == manifest


def test_loader_output_equals_the_training_model(trained: Trained) -> None:
    encoder = SessionEncoder.load(trained.store, STAND_IN)
    reference = np.load(trained.result.artifact.file(REFERENCE_FILE))
    e, s, n = reference["embeddings"], reference["steps"], reference["lengths"]
    assert encoder.dim == 16 and encoder.max_len == 20 and len(n) > 10
    batch = encoder.encode_batch(e, s, n)
    assert batch.dtype == np.float32 and batch.shape == (len(n), 16)
    np.testing.assert_allclose(batch, reference["queries"], atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    for i in range(5):  # one session at a time, only its real steps
        one = encoder.encode(e[i, : n[i]], s[i, : n[i]])
        np.testing.assert_allclose(one, reference["queries"][i], atol=1e-5)
    with pytest.raises(ValueError, match="dwell_ms"):
        encoder.encode_batch(e, s[:, :, :3], n)


def test_a_session_model_of_another_two_tower_is_refused(trained: Trained) -> None:
    version = trained.result.artifact.manifest.version
    with pytest.raises(ArtifactError, match=rf"{STAND_IN}.*20260101T000000Z-abcdef"):
        SessionEncoder.load(trained.store, "20260101T000000Z-abcdef")
    copy = trained.result.artifact.path.parent / f"{version}-tampered"
    shutil.copytree(trained.result.artifact.path, copy)
    try:
        with (copy / "session_encoder.pt").open("ab") as handle:
            handle.write(b"\0")
        with pytest.raises(ArtifactError, match=r"session_encoder.pt has sha256"):
            SessionEncoder.load(trained.store, STAND_IN, version=copy.name)
    finally:
        shutil.rmtree(copy)


def test_same_seed_gives_the_same_numbers(trained: Trained) -> None:
    again = train(trained.runtime, trained.space, dataclasses.replace(OPTIONS, promote=False))
    first = trained.result.metrics
    assert again.metrics == first
    a = np.load(trained.result.artifact.file(REFERENCE_FILE))
    b = np.load(again.artifact.file(REFERENCE_FILE))
    np.testing.assert_array_equal(a["queries"], b["queries"])
    # Pinned on this world and stand-in space (seed 3, 2 epochs, torch 2.13 CPU, 1 thread). The baselines
    # depend on data only; the model's figures move if torch's numerics change — re-pin after checking.
    for name, value in PINNED.items():
        assert first[name] == pytest.approx(value, abs=1e-6), name


PINNED = {  # 600 videos: @300 is half the corpus; a 2-epoch, hidden-16 model only has to be reproducible here
    "holdout_targets": 208.0,
    "last_item_recall_at_100": 0.322115,
    "last_item_recall_at_300": 0.701923,
    "prefix_mean_recall_at_300": 0.879808,
    "recall_at_100": 0.298077,
    "recall_at_300": 0.706731,
}


def test_transformer_scripts_to_the_same_outputs() -> None:
    params = session_encoder._params(
        TrainOptions(params={"encoder": "transformer", "hidden": 16, "heads": 2, "layers": 1})
    )
    torch.manual_seed(0)
    module = session_encoder.build_module(8, params).eval()
    e = torch.randn(4, 6, 8)
    s = torch.rand(4, 6, len(STEP_FEATURES)) * 1000
    n = torch.tensor([1, 3, 6, 2])
    scripted = torch.jit.script(module)
    with torch.inference_mode():
        expected = module(e, s, n)
        np.testing.assert_allclose(scripted(e, s, n).numpy(), expected.numpy(), atol=1e-5)
        e[0, 1:], s[0, 1:] = 99.0, 5.0  # padding after a row's length changes nothing
        np.testing.assert_allclose(module(e, s, n).numpy(), expected.numpy(), atol=1e-5)


def test_no_two_tower_and_empty_windows_are_clear_errors(trained: Trained) -> None:
    with pytest.raises(ArtifactError, match=r"Train two-tower first: `foryou train two-tower`"):
        session_encoder.train(trained.runtime, OPTIONS, None)
    with pytest.raises(DatasetError, match=r"session training window .* no within-session targets"):
        train(
            trained.runtime, trained.space, dataclasses.replace(OPTIONS, until=START + dt.timedelta(hours=1))
        )
    with pytest.raises(DatasetError, match=r"session holdout window .* no within-session targets"):
        train(
            trained.runtime, trained.space, dataclasses.replace(OPTIONS, until=START + dt.timedelta(days=5))
        )
    with pytest.raises(Exception, match="Unknown session params"):
        session_encoder._params(dataclasses.replace(OPTIONS, params={"hiden": 8}))


def test_the_evaluations_session_source_sees_what_the_trainer_sees(trained: Trained) -> None:
    """At a holdout target's cut, the evaluation's query prefix is the trainer's prefix, step for step, and
    the source ranks the corpus by the loaded encoder's query among videos uploaded by then, not shown."""
    from pipelines.evaluate.retrieval import Queries, load_corpus
    from pipelines.evaluate.session_source import query_prefixes, session_source

    holdout = read_sequences(trained.engine, until=UNTIL, since=UNTIL - dt.timedelta(days=1), max_len=20)
    picked = holdout.subset(np.arange(len(holdout)) % max(1, len(holdout) // 40) == 0)
    corpus = load_corpus(trained.engine)
    cut_s = (picked.targets["cut"] - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()
    queries = Queries(
        picked.targets["user_id"].to_numpy(np.int64),
        cut_s,
        [corpus.rows(np.array([v])) for v in picked.targets["video_id"].to_numpy(np.int64)],
        [np.array([0], dtype=np.int64)] * len(picked),  # corpus row 0 counts as already shown
        pd.DataFrame(index=range(len(picked))),
    )
    prefixes = query_prefixes(trained.engine, queries, 20)
    np.testing.assert_array_equal(prefixes.lengths, picked.lengths)
    np.testing.assert_array_equal(prefixes.step_video_id, picked.step_video_id)
    np.testing.assert_allclose(prefixes.steps, picked.steps, rtol=1e-6, atol=1e-4)  # age_s: float cut

    encoder = SessionEncoder.load(trained.store, STAND_IN)
    vectors = session_encoder.aligned_vectors(trained.space, corpus)
    notes: list[str] = []
    ranked = session_source(trained.engine, encoder, vectors, notes)(queries, corpus, 50)
    assert len(ranked) == len(picked) and any(f"{len(picked)} of {len(picked)} queries" in n for n in notes)
    e = vectors[
        corpus.rows(np.where(picked.step_video_id >= 0, picked.step_video_id, corpus.video_id[0]).ravel())
    ]
    e = e.reshape(*picked.step_video_id.shape, -1) * (picked.step_video_id >= 0)[..., None]
    expected = encoder.encode_batch(e, picked.steps, picked.lengths) @ vectors.T
    for i, rows in enumerate(ranked):
        assert 0 < len(rows) <= 50 and 0 not in rows
        assert (corpus.uploaded_s[rows] <= cut_s[i]).all()
        allowed = (corpus.uploaded_s <= cut_s[i]) & (np.arange(len(corpus)) != 0)
        assert rows[0] == np.flatnonzero(allowed)[np.argmax(expected[i][allowed])]
