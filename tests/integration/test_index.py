"""The candidate index against real Postgres: build, update, refusals, and live swaps under load."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import faiss
import numpy as np
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from foryou.artifacts import ArtifactError, ArtifactStore
from foryou.runtime import Runtime
from foryou.schema import videos
from foryou.settings import Settings
from foryou.stores import StoreUrls
from pipelines.index import build, status, update
from pipelines.index.content_embedder import ContentProjectionEmbedder
from serving.ann_index import INDEX_FILE, MODEL, AnnIndex, IndexHolder, IndexMismatchError

pytestmark = pytest.mark.integration

N_VIDEOS = 300
T0 = datetime(2026, 1, 5, tzinfo=UTC)


def video_rows(ids: range, seed: int) -> list[dict[str, object]]:
    """Videos with clustered content vectors (12 topics), uploaded one minute apart."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).standard_normal((12, 80)).astype(np.float32)
    rows = []
    for vid in ids:
        vec = centres[vid % 12] + 0.8 * rng.standard_normal(80).astype(np.float32)
        rows.append(
            {
                "video_id": vid,
                "uploaded_at": T0 + timedelta(minutes=vid),
                "duration_s": 15.0,
                "title": f"video {vid}",
                "visual_vec": vec[:32].round(4).tolist(),
                "text_vec": vec[32:64].round(4).tolist(),
                "audio_vec": vec[64:].round(4).tolist(),
            }
        )
    return rows


def insert_videos(engine: sa.Engine, ids: range, seed: int = 0) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(videos), video_rows(ids, seed))


def read_videos(engine: sa.Engine, ids: list[int]):  # type: ignore[no-untyped-def]
    from pipelines.index.videos import video_batches

    return next(video_batches(engine, 10_000, np.array(ids)))


@pytest.fixture
def runtime(settings: Settings, engine: sa.Engine) -> Iterator[Runtime]:
    insert_videos(engine, range(N_VIDEOS))
    assert settings.database_url is not None and settings.redis_url is not None
    rt = Runtime(settings, StoreUrls(settings.database_url, settings.redis_url, False, False))
    yield rt
    rt.engine.dispose()


@pytest.fixture
def store(runtime: Runtime) -> ArtifactStore:
    return ArtifactStore(runtime.settings.artifacts_dir)


EMBEDDER = ContentProjectionEmbedder(dim=16)


def own_vector_first(runtime: Runtime, index: AnnIndex, ids: list[int]) -> np.ndarray:
    """The top hit of searching each video's own embedding."""
    found, _ = index.search(EMBEDDER.embed(read_videos(runtime.engine, ids)), 5)
    return found[:, 0]


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_build_then_search_finds_each_video_first(runtime: Runtime, store: ArtifactStore, kind: str) -> None:
    report = build(runtime, EMBEDDER, kind=kind, batch_size=64)
    assert report.swapped and report.count == N_VIDEOS and report.recall_at_100 >= 0.95
    assert store.current_version(MODEL) == report.version
    index = AnnIndex.load(store, expected_dim=16, expected_model_version=EMBEDDER.model_version)
    info = index.info
    assert (info.kind, info.dim, info.count, info.model_version) == (
        kind,
        16,
        N_VIDEOS,
        EMBEDDER.model_version,
    )
    assert info.watermark == T0 + timedelta(minutes=N_VIDEOS - 1)
    sample = list(range(0, N_VIDEOS, 7))
    assert own_vector_first(runtime, index, sample).tolist() == sample

    s = status(runtime)
    assert (s.info.version, s.videos, s.missing, s.stale, s.removed) == (report.version, N_VIDEOS, 0, 0, 0)


def test_update_adds_new_and_changed_videos_without_rebuild(
    runtime: Runtime, store: ArtifactStore, engine: sa.Engine
) -> None:
    first = build(runtime, EMBEDDER, kind="ivf")
    insert_videos(engine, range(N_VIDEOS, N_VIDEOS + 3), seed=1)
    new_vec = video_rows(range(5, 6), seed=42)[0]["visual_vec"]
    with engine.begin() as conn:
        conn.execute(sa.update(videos).where(videos.c.video_id == 5).values(visual_vec=new_vec))
        conn.execute(sa.delete(videos).where(videos.c.video_id == 9))
    behind = status(runtime)
    assert (behind.missing, behind.stale, behind.removed) == (3, 1, 1)

    report = update(runtime, EMBEDDER, video_ids=[11])
    assert report.swapped and report.base_version == first.version and report.version != first.version
    assert (report.added, report.changed, report.removed) == (3, 2, 1)
    assert store.current_version(MODEL) == report.version
    old, new = AnnIndex.load(store, first.version), AnnIndex.load(store)
    assert len(new) == N_VIDEOS + 3 - 1
    targets = [5, 11, N_VIDEOS, N_VIDEOS + 1, N_VIDEOS + 2]  # ascending: rows come back in id order
    assert own_vector_first(runtime, new, targets).tolist() == targets
    found, _ = new.search(EMBEDDER.embed(read_videos(runtime.engine, list(range(N_VIDEOS + 3)))), 100)
    assert 9 not in found
    # Edited, not rebuilt: same centroids, same list count.
    centroids = [faiss.extract_index_ivf(i.faiss_index).quantizer.reconstruct_n(0, 7) for i in (old, new)]
    np.testing.assert_array_equal(centroids[0], centroids[1])
    assert status(runtime).missing == 0

    again = update(runtime, EMBEDDER)
    assert not again.swapped and again.version == report.version
    assert store.current_version(MODEL) == report.version


def test_dimension_or_model_mismatch_is_refused_and_current_kept(
    runtime: Runtime, store: ArtifactStore
) -> None:
    good = build(runtime, EMBEDDER, kind="ivf")
    wider = ContentProjectionEmbedder(dim=32)
    with pytest.raises(IndexMismatchError, match=r"16 dimensions.*32 dimensions"):
        update(runtime, wider)
    with pytest.raises(IndexMismatchError, match=r"16-dimensional.*32-dimensional"):
        AnnIndex.load(store, expected_dim=32)
    with pytest.raises(IndexMismatchError, match="two-tower-v9"):
        IndexHolder(store, expected_model_version="two-tower-v9")

    class Lying(ContentProjectionEmbedder):
        """Declares 32 dimensions, returns 16: a broken export."""

        def embed(self, frame):  # type: ignore[no-untyped-def]
            return super().embed(frame)[:, :16]

    with pytest.raises(IndexMismatchError, match=r"declares dimension 32.*16-dimensional"):
        build(runtime, Lying(dim=32))
    assert store.current_version(MODEL) == good.version
    index = AnnIndex.load(store)
    with pytest.raises(IndexMismatchError, match=r"shape \(2, 32\).*\[n, 16\]"):
        index.search(np.zeros((2, 32), dtype=np.float32), 5)


def test_tampered_index_is_refused_and_the_old_one_keeps_serving(
    runtime: Runtime, store: ArtifactStore, engine: sa.Engine
) -> None:
    first = build(runtime, EMBEDDER, kind="hnsw")
    holder = IndexHolder(store, expected_dim=16, expected_model_version=EMBEDDER.model_version)
    insert_videos(engine, range(N_VIDEOS, N_VIDEOS + 1), seed=3)
    second = update(runtime, EMBEDDER)
    path = store.root / MODEL / second.version / INDEX_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))

    with pytest.raises(ArtifactError, match=rf"{second.version}.*corrupt or was modified.*{INDEX_FILE}"):
        AnnIndex.load(store, second.version)
    with pytest.raises(ArtifactError, match="corrupt"):
        holder.refresh()
    assert holder.version == first.version and isinstance(holder.last_error, ArtifactError)
    ids, _ = holder.search(EMBEDDER.embed(read_videos(engine, [3])), 1)
    assert ids[0, 0] == 3
    with pytest.raises(ArtifactError, match="corrupt"):
        store.set_current(MODEL, second.version)


def test_swap_under_concurrent_searches_serves_one_whole_version(
    runtime: Runtime, store: ArtifactStore, engine: sa.Engine
) -> None:
    build(runtime, EMBEDDER, kind="ivf")
    holder = IndexHolder(store, expected_dim=16, expected_model_version=EMBEDDER.model_version)
    queries = EMBEDDER.embed(read_videos(engine, list(range(0, N_VIDEOS, 10))))
    seen: set[tuple[str, bytes]] = set()
    errors: list[BaseException] = []
    stop = threading.Event()
    lock = threading.Lock()

    def hammer() -> None:
        try:
            while not stop.is_set():
                hits = holder.search_versioned(queries, 20)
                with lock:
                    seen.add((hits.version, hits.ids.tobytes()))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    versions = [holder.version]
    try:
        for step in range(4):
            # Each new video is a near-copy of a queried video, so every version answers differently.
            with engine.begin() as conn:
                original = conn.execute(sa.select(videos).where(videos.c.video_id == 10 * step)).one()
                copy = dict(original._mapping) | {"video_id": 10_000 + step}
                copy["visual_vec"] = [x + 0.01 for x in copy["visual_vec"]]
                conn.execute(sa.insert(videos), [copy])
            versions.append(update(runtime, EMBEDDER).version)
            assert holder.refresh()
            assert holder.version == versions[-1]
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
    expected = {v: AnnIndex.load(store, v).search(queries, 20)[0].tobytes() for v in versions}
    assert len(set(expected.values())) == len(versions)  # the versions are distinguishable
    answered_by = {v for v, _ in seen}
    assert answered_by <= set(versions) and len(answered_by) >= 2  # searches really ran across swaps
    for version, ids in seen:
        assert ids == expected[version], f"a result mixed versions (answered by {version})"
    assert holder.version == versions[-1]


def test_watcher_picks_up_a_new_current(runtime: Runtime, store: ArtifactStore, engine: sa.Engine) -> None:
    build(runtime, EMBEDDER, kind="ivf")
    holder = IndexHolder(store)
    holder.watch(interval_s=0.05)
    try:
        insert_videos(engine, range(N_VIDEOS, N_VIDEOS + 1), seed=5)
        newer = update(runtime, EMBEDDER).version
        for _ in range(200):
            if holder.version == newer:
                break
            threading.Event().wait(0.05)
        assert holder.version == newer
    finally:
        holder.close()


def test_cli_build_status_update(runtime: Runtime, cli_env: dict[str, str], engine: sa.Engine) -> None:
    from foryou.cli.index_cmd import app

    cli = CliRunner()
    args = ["--embedder", "content-projection", "--dim", "16", "--json"]
    built = cli.invoke(app, ["build", "--kind", "hnsw", *args], env=cli_env)
    assert built.exit_code == 0, built.output
    assert json.loads(built.stdout)["count"] == N_VIDEOS
    insert_videos(engine, range(N_VIDEOS, N_VIDEOS + 2), seed=7)
    shown = cli.invoke(app, ["status", "--json"], env=cli_env)
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout) | {"missing": 2, "kind": "hnsw"} == json.loads(shown.stdout)
    updated = cli.invoke(app, ["update", *args], env=cli_env)
    assert updated.exit_code == 0, updated.output
    assert json.loads(updated.stdout)["added"] == 2
    no_model = cli.invoke(app, ["build"], env=cli_env)
    assert no_model.exit_code != 0
    assert "No current two-tower model" in str(no_model.exception)
