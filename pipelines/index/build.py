"""build / update / status of the candidate index (artifacts/index/<version>/, `current` swapped atomically).

Every new version is written to a staging folder, committed with its manifest (model version, dim, count,
kind and parameters, watermark, recall@100 measured on a sample), read back through `AnnIndex.load`
(hashes, dimension, count) and only then made `current`. Any failure before that last step leaves `current`
on the last good version.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import faiss
import numpy as np
import pandas as pd

from foryou.artifacts import ArtifactError, ArtifactStore, Manifest, Window, feature_list_hash, new_version
from foryou.errors import ForyouError, InputValidationError
from foryou.runtime import Runtime
from pipelines.index.embedder import VideoEmbedder, embed_checked
from pipelines.index.kinds import (
    IndexSpec,
    RecallSample,
    default_spec,
    edited_index,
    new_index,
    stored_vectors,
)
from pipelines.index.kinds import tune_search as tune
from pipelines.index.videos import count_videos, diff_rows, row_hashes, video_batches
from pipelines.ingest.progress import NoProgress, ProgressSink
from serving.ann_index import (
    INDEX_FILE,
    MODEL,
    ROWS_FILE,
    AnnIndex,
    IndexInfo,
    IndexMismatchError,
    check_compatible,
)

DEFAULT_TARGET_RECALL = 0.95
DEFAULT_RECALL_QUERIES = 500


@dataclass(frozen=True)
class IndexReport:
    """What a build or update did."""

    version: str
    swapped: bool  # False: update found nothing to do and kept the current version
    kind: str
    count: int
    dim: int
    model_version: str
    recall_at_100: float
    search_params: dict[str, int]
    added: int = 0
    changed: int = 0
    removed: int = 0
    base_version: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class IndexStatus:
    """The current index against the videos table now."""

    info: IndexInfo
    age_s: float
    videos: int  # rows in the videos table
    missing: int  # videos the index lacks
    stale: int  # indexed videos whose row changed since they were embedded
    removed: int  # indexed videos no longer in the table

    def as_dict(self) -> dict[str, Any]:
        i = self.info
        return {
            "version": i.version,
            "kind": i.kind,
            "dim": i.dim,
            "count": i.count,
            "model_version": i.model_version,
            "watermark": i.watermark.isoformat() if i.watermark else None,
            "created_at": i.created_at.isoformat(),
            "age_s": round(self.age_s, 1),
            "recall_at_100": i.recall_at_100,
            "search": i.search_params,
            "videos": self.videos,
            "missing": self.missing,
            "stale": self.stale,
            "removed": self.removed,
        }


@dataclass
class _Embedded:
    ids: np.ndarray
    hashes: np.ndarray
    vectors: np.ndarray
    newest_upload: datetime | None
    counts: dict[str, int] = field(default_factory=dict)


def artifact_store(runtime: Runtime) -> ArtifactStore:
    return ArtifactStore(runtime.settings.artifacts_dir)


def build(
    runtime: Runtime,
    embedder: VideoEmbedder,
    *,
    kind: str = "ivf",
    batch_size: int = 2048,
    progress: ProgressSink | None = None,
    target_recall: float = DEFAULT_TARGET_RECALL,
    recall_queries: int = DEFAULT_RECALL_QUERIES,
    seed: int = 0,
) -> IndexReport:
    """Embed every video, build a `kind` index tuned to `target_recall`, publish it and make it current."""
    started = time.perf_counter()
    default_spec(kind, 1)  # unknown kind: fail before reading anything
    sink = progress or NoProgress()
    total = count_videos(runtime.engine)
    if total == 0:
        raise ForyouError(
            "The videos table is empty: nothing to index. Load videos first (foryou simulate/ingest)."
        )
    embedded = _embed(runtime, embedder, batch_size, sink.task("embed videos", total), None)
    spec = default_spec(kind, len(embedded.ids))
    sink.task(f"build {kind} index", 1)
    index = new_index(spec, embedded.ids, embedded.vectors, seed)
    sample = RecallSample.draw(embedded.ids, embedded.vectors, recall_queries, seed)
    spec, recall, tried = tune(index, spec, sample, target_recall)
    return _publish(
        artifact_store(runtime),
        index,
        spec,
        embedder,
        embedded,
        recall=recall,
        tuning=tried,
        seed=seed,
        started=started,
        base=None,
    )


def update(
    runtime: Runtime,
    embedder: VideoEmbedder,
    *,
    video_ids: Sequence[int] = (),
    batch_size: int = 2048,
    progress: ProgressSink | None = None,
    target_recall: float = DEFAULT_TARGET_RECALL,
    recall_queries: int = DEFAULT_RECALL_QUERIES,
    seed: int = 0,
) -> IndexReport:
    """A new version from `current`: new videos added, changed ones (row hash, or `video_ids`) re-embedded,
    deleted ones dropped; published and swapped. Nothing to do → no new version (`swapped=False`)."""
    started = time.perf_counter()
    store = artifact_store(runtime)
    base = AnnIndex.load(store)
    info = base.info
    if info.model_version != embedder.model_version or info.dim != embedder.dim:
        raise IndexMismatchError(
            f"index {info.version} was built from model {info.model_version!r} ({info.dim} dimensions); "
            f"the embedder is {embedder.model_version!r} ({embedder.dim} dimensions). An update can only add "
            "vectors from the same model: rebuild with `foryou index build`."
        )
    rows = np.load(info.path / ROWS_FILE)
    table_ids, table_hashes = row_hashes(runtime.engine)
    unknown = np.setdiff1d(np.asarray(video_ids, dtype=np.int64), table_ids)
    if unknown.size:
        raise InputValidationError(
            f"{unknown.size} video id(s) passed as changed are not in the videos table: "
            f"{unknown[:10].tolist()}."
        )
    added, changed, removed = diff_rows(rows[:, 0], rows[:, 1], table_ids, table_hashes, video_ids)
    spec = IndexSpec(info.kind, dict(info.params.get("build", {})), info.search_params)
    if not (added.size or changed.size or removed.size):
        return IndexReport(
            version=info.version,
            swapped=False,
            kind=info.kind,
            count=info.count,
            dim=info.dim,
            model_version=info.model_version,
            recall_at_100=info.recall_at_100 or float("nan"),
            search_params=info.search_params,
            base_version=info.version,
            seconds=time.perf_counter() - started,
        )
    sink = progress or NoProgress()
    wanted = np.union1d(added, changed)
    fresh = _embed(runtime, embedder, batch_size, sink.task("embed new/changed videos", wanted.size), wanted)
    # A row deleted between the hash scan and the fetch is dropped like any other deleted video.
    remove = np.union1d(np.union1d(changed, removed), np.setdiff1d(wanted, fresh.ids))
    sink.task(f"edit {info.kind} index", 1)
    index = edited_index(base.faiss_index, spec, remove, fresh.ids, fresh.vectors, seed)
    keep = ~np.isin(rows[:, 0], remove)
    ids = np.concatenate([rows[keep, 0], fresh.ids])
    order = np.argsort(ids, kind="stable")
    if index.ntotal == 0:
        raise ForyouError(
            f"The videos table has no videos left; updating index {info.version} would leave it empty. "
            "Nothing was published."
        )
    all_ids, all_vectors = stored_vectors(index, info.kind)
    sample = RecallSample.draw(all_ids, all_vectors, recall_queries, seed)
    spec, recall, tried = tune(index, spec, sample, target_recall)
    newest = max((t for t in (info.watermark, fresh.newest_upload) if t is not None), default=None)
    merged = _Embedded(
        ids=ids[order],
        hashes=np.concatenate([rows[keep, 1], fresh.hashes])[order],
        vectors=all_vectors,
        newest_upload=newest,
        counts={
            "added": int(np.isin(fresh.ids, added).sum()),
            "changed": int(changed.size),
            "removed": int(remove.size - changed.size),
        },
    )
    return _publish(
        store,
        index,
        spec,
        embedder,
        merged,
        recall=recall,
        tuning=tried,
        seed=seed,
        started=started,
        base=info,
    )


def status(runtime: Runtime) -> IndexStatus:
    """The current index (files verified) and how far it is behind the videos table."""
    store = artifact_store(runtime)
    if store.current_version(MODEL) is None:
        raise ArtifactError(
            f"No current index under {store.root / MODEL}; build one with `foryou index build`."
        )
    info = IndexInfo.from_artifact(store.load(MODEL))
    rows = np.load(info.path / ROWS_FILE)
    table_ids, table_hashes = row_hashes(runtime.engine)
    added, changed, removed = diff_rows(rows[:, 0], rows[:, 1], table_ids, table_hashes)
    return IndexStatus(
        info=info,
        age_s=(datetime.now(UTC) - info.created_at).total_seconds(),
        videos=int(table_ids.size),
        missing=int(added.size),
        stale=int(changed.size),
        removed=int(removed.size),
    )


def _embed(
    runtime: Runtime,
    embedder: VideoEmbedder,
    batch_size: int,
    advance: Any,
    video_ids: np.ndarray | None,
) -> _Embedded:
    ids, hashes, vectors, newest = [], [], [], None
    if video_ids is None or video_ids.size:
        for batch in video_batches(runtime.engine, batch_size, video_ids):
            vectors.append(embed_checked(embedder, batch))
            ids.append(batch["video_id"].to_numpy(dtype=np.int64))
            hashes.append(batch["row_hash"].to_numpy(dtype=np.int64))
            top = pd.Timestamp(batch["uploaded_at"].max()).to_pydatetime()
            newest = top if newest is None else max(newest, top)
            advance(len(batch))
    if not ids:
        return _Embedded(
            np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, embedder.dim), np.float32), None
        )
    return _Embedded(np.concatenate(ids), np.concatenate(hashes), np.concatenate(vectors), newest)


def _publish(
    store: ArtifactStore,
    index: faiss.Index,
    spec: IndexSpec,
    embedder: VideoEmbedder,
    embedded: _Embedded,
    *,
    recall: float,
    tuning: dict[str, float],
    seed: int,
    started: float,
    base: IndexInfo | None,
) -> IndexReport:
    """Write, commit, read back and verify, then swap `current`."""
    count = int(index.ntotal)
    if count != embedded.ids.size:
        raise ArtifactError(
            f"index holds {count} vectors but {embedded.ids.size} rows were recorded; not published."
        )
    watermark = embedded.newest_upload or datetime.now(UTC)
    params = {
        "kind": spec.kind,
        "metric": "inner_product",
        "dim": embedder.dim,
        "count": count,
        "model_version": embedder.model_version,
        "watermark": watermark.isoformat(),
        "build": spec.build,
        "search": spec.search,
        "recall_tuning": {
            "target": "recall@100",
            "tried": tuning,
            "queries": "sum of two random indexed videos",
        },
        "base_version": base.version if base else None,
        **embedded.counts,
    }
    with store.staging(MODEL) as folder:
        faiss.write_index(index, str(folder / INDEX_FILE))
        np.save(folder / ROWS_FILE, np.stack([embedded.ids, embedded.hashes], axis=1))
        manifest = Manifest(
            model=MODEL,
            version=new_version(),
            created_at=datetime.now(UTC),
            feature_list_hash=feature_list_hash([]),
            training_window=Window(until=watermark),  # videos uploaded up to the watermark
            holdout_window=Window(until=watermark),
            holdout_id=f"index-recall-sample-seed{seed}",
            data_sizes={"vectors": count},
            metrics={"recall_at_100": recall},
            primary_metric="recall_at_100",
            seed=seed,
            params=params,
        )
        artifact = store.commit(folder, manifest)
    version = artifact.manifest.version
    loaded = AnnIndex.load(store, version)  # read back: hashes, FAISS file, count and dimension
    check_compatible(loaded.info, expected_dim=embedder.dim, expected_model_version=embedder.model_version)
    store.set_current(MODEL, version)
    return IndexReport(
        version=version,
        swapped=True,
        kind=spec.kind,
        count=count,
        dim=embedder.dim,
        model_version=embedder.model_version,
        recall_at_100=recall,
        search_params=spec.search,
        added=embedded.counts.get("added", count if base is None else 0),
        changed=embedded.counts.get("changed", 0),
        removed=embedded.counts.get("removed", 0),
        base_version=base.version if base else None,
        seconds=time.perf_counter() - started,
    )
