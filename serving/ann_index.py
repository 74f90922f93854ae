"""The candidate index a server searches: a verified FAISS artifact, and a holder that swaps versions live.

    artifacts/index/<version>/index.faiss   the FAISS index; its ids are video ids
    artifacts/index/<version>/rows.npy      int64 [n, 2]: video_id, hash of the row it was embedded from
    artifacts/index/<version>/manifest.json what it was built from (model version, dim, count, watermark, …)

`AnnIndex.load` goes through `ArtifactStore.load`, so every file is re-hashed against the manifest before
FAISS reads it; an index whose dimension or model version differs from what the caller serves is refused
with both values named. `IndexHolder` is what a running server keeps: each search reads one reference to one
complete `AnnIndex`, and `refresh` loads a new `current` fully before swapping that reference, so no request
sees a half-loaded index and a failed load leaves the old one serving. Serving imports this module, never
`pipelines.index`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import faiss
import numpy as np

from foryou.artifacts import Artifact, ArtifactError, ArtifactStore

log = logging.getLogger(__name__)

MODEL = "index"
INDEX_FILE = "index.faiss"
ROWS_FILE = "rows.npy"
KINDS = ("ivf", "hnsw")


class IndexMismatchError(ArtifactError):
    """An index does not fit the model or queries it is used with (dimension or model version)."""


@dataclass(frozen=True)
class IndexInfo:
    """What an index version is, read from its manifest (`params` holds everything index-specific)."""

    version: str
    path: Path
    kind: str
    dim: int
    count: int
    model_version: str
    watermark: datetime | None
    created_at: datetime
    recall_at_100: float | None
    search_params: dict[str, int]
    params: dict[str, Any]

    @classmethod
    def from_artifact(cls, artifact: Artifact) -> IndexInfo:
        m = artifact.manifest
        p = m.params
        missing = [key for key in ("kind", "dim", "count", "model_version", "search") if key not in p]
        if missing:
            raise ArtifactError(
                f"{artifact.path} is not an index artifact (manifest params lack {', '.join(missing)}); "
                "rebuild it with `foryou index build`."
            )
        watermark = p.get("watermark")
        return cls(
            version=m.version,
            path=artifact.path,
            kind=str(p["kind"]),
            dim=int(p["dim"]),
            count=int(p["count"]),
            model_version=str(p["model_version"]),
            watermark=datetime.fromisoformat(watermark) if watermark else None,
            created_at=m.created_at,
            recall_at_100=m.metrics.get("recall_at_100"),
            search_params={k: int(v) for k, v in p["search"].items()},
            params=dict(p),
        )


def check_compatible(
    info: IndexInfo, *, expected_dim: int | None = None, expected_model_version: str | None = None
) -> None:
    """Refuse an index built for another embedding space; the message names both sides and the fix."""
    if expected_dim is not None and info.dim != expected_dim:
        raise IndexMismatchError(
            f"index {info.version} holds {info.dim}-dimensional vectors but the model produces "
            f"{expected_dim}-dimensional ones (model {expected_model_version or '?'}). "
            "Rebuild it with `foryou index build`."
        )
    if expected_model_version is not None and info.model_version != expected_model_version:
        raise IndexMismatchError(
            f"index {info.version} was built from model version {info.model_version!r} but the model in use "
            f"is {expected_model_version!r}; its vectors live in another embedding space. "
            "Rebuild it with `foryou index build`."
        )


def configure_search(index: faiss.Index, kind: str, search_params: dict[str, int]) -> None:
    """Set the query-time knob (nprobe or efSearch) once, before the index is shared between threads."""
    if kind == "ivf":
        faiss.extract_index_ivf(index).nprobe = int(search_params["nprobe"])
    elif kind == "hnsw":
        idmap: Any = faiss.downcast_index(index)
        hnsw: Any = faiss.downcast_index(idmap.index)
        hnsw.hnsw.efSearch = int(search_params["efSearch"])
    else:
        raise ArtifactError(f"unknown index kind {kind!r}; kinds are: {', '.join(KINDS)}")


class AnnIndex:
    """One verified, immutable index version; `search` is safe to call from many threads at once."""

    def __init__(self, info: IndexInfo, index: faiss.Index) -> None:
        if index.d != info.dim or index.ntotal != info.count:
            raise ArtifactError(
                f"index {info.version}: the FAISS file holds {index.ntotal} vectors of dimension {index.d}, "
                f"the manifest says {info.count} of dimension {info.dim}. "
                "Rebuild it with `foryou index build`."
            )
        configure_search(index, info.kind, info.search_params)
        self.info = info
        self._index = index

    @classmethod
    def load(
        cls,
        store: ArtifactStore,
        version: str | None = None,
        *,
        expected_dim: int | None = None,
        expected_model_version: str | None = None,
    ) -> AnnIndex:
        """A version (default: current), every file re-hashed, checked against the model it will serve."""
        if version is None and store.current_version(MODEL) is None:
            raise ArtifactError(
                f"No current index under {store.root / MODEL}; build one with `foryou index build`."
            )
        artifact = store.load(MODEL, version)
        info = IndexInfo.from_artifact(artifact)
        check_compatible(info, expected_dim=expected_dim, expected_model_version=expected_model_version)
        return cls(info, faiss.read_index(str(artifact.file(INDEX_FILE))))

    @property
    def version(self) -> str:
        return self.info.version

    @property
    def dim(self) -> int:
        return self.info.dim

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k video ids (int64 [n, k]) and inner-product scores (float32 [n, k]); id -1 pads short rows."""
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q[None, :]
        if q.ndim != 2 or q.shape[1] != self.info.dim:
            raise IndexMismatchError(
                f"queries have shape {tuple(np.shape(queries))} but index {self.info.version} holds "
                f"{self.info.dim}-dimensional vectors; pass float32 [n, {self.info.dim}]."
            )
        if k < 1:
            raise ValueError(f"k must be at least 1 (got {k}).")
        scores, ids = self._index.search(q, k)
        return ids, scores

    @property
    def faiss_index(self) -> faiss.Index:
        """The underlying FAISS index (read-only use: pipelines.index extends a copy of it)."""
        return self._index


class Hits(NamedTuple):
    ids: np.ndarray
    scores: np.ndarray
    version: str  # the index version every row of this result came from


class IndexHolder:
    """The index a server searches; `refresh` (or a watcher thread) swaps in a new `current` without a pause.

    Searches never lock: each reads `self._index` once (a single reference read) and uses that complete
    index for the whole call. `refresh` verifies and loads the new version off to the side, then replaces the
    reference; the old index is freed when the last search using it returns. A failed load (tampered file,
    wrong dimension or model) is logged and raised to the caller; the old version keeps serving.
    """

    def __init__(
        self,
        store: ArtifactStore,
        *,
        expected_dim: int | None = None,
        expected_model_version: str | None = None,
    ) -> None:
        self._store = store
        self._expected = {"expected_dim": expected_dim, "expected_model_version": expected_model_version}
        self._refresh_lock = threading.Lock()
        self._index: AnnIndex = AnnIndex.load(store, **self._expected)  # type: ignore[arg-type]
        self.loaded_at = datetime.now(UTC)
        self.last_error: Exception | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def index(self) -> AnnIndex:
        return self._index

    @property
    def version(self) -> str:
        return self._index.version

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k ids and scores from one complete index version."""
        hits = self.search_versioned(queries, k)
        return hits.ids, hits.scores

    def search_versioned(self, queries: np.ndarray, k: int) -> Hits:
        """Like `search`, plus the version that answered (for logs and consistency checks)."""
        index = self._index  # one read: the whole call uses this version even if a swap happens meanwhile
        ids, scores = index.search(queries, k)
        return Hits(ids, scores, index.version)

    def refresh(self) -> bool:
        """Load `current` if it is not the version being served; True when a new version was swapped in."""
        with self._refresh_lock:  # one loader at a time; searches do not take this lock
            target = self._store.current_version(MODEL)
            if target is None or target == self._index.version:
                return False
            try:
                fresh = AnnIndex.load(self._store, target, **self._expected)  # type: ignore[arg-type]
            except Exception as exc:
                self.last_error = exc
                log.error("index %s not loaded, still serving %s: %s", target, self._index.version, exc)
                raise
            self._index = fresh
            self.loaded_at = datetime.now(UTC)
            self.last_error = None
            log.info("index swapped to %s (%d vectors)", fresh.version, len(fresh))
            return True

    def watch(self, interval_s: float = 10.0) -> None:
        """Poll `current` every interval in a daemon thread and refresh when it moves."""
        if self._watcher is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval_s):
                # A failure is logged and kept in last_error; keep serving the old index, keep watching.
                with contextlib.suppress(Exception):
                    self.refresh()

        self._watcher = threading.Thread(target=loop, name="index-watcher", daemon=True)
        self._watcher.start()

    def close(self) -> None:
        """Stop the watcher (if any)."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join()
            self._watcher = None
