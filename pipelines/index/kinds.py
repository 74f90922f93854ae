"""Building, extending and measuring the two FAISS index kinds we serve (inner product on model vectors).

ivf:  IndexIVFFlat, nlist ≈ 4·√n rounded to a power of two (at least 39 training points per list), trained
      on a seeded sample. Supports `remove_ids`, so `update` edits a copy in place: changed and deleted videos
      are removed, new and changed ones added, the centroids kept.
hnsw: IndexIDMap2(IndexHNSWFlat M=32). HNSW cannot remove vectors, so `update` rebuilds the graph from the
      stored vectors (no re-embedding of unchanged videos, but the full graph-construction cost).

The query knob (nprobe / efSearch) is tuned at build on the real vectors: start from the default and double
it until recall@100 against exact search reaches the target on a seeded sample of queries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import faiss
import numpy as np

from serving.ann_index import KINDS, configure_search

IVF_DEFAULT_NPROBE = 16
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_DEFAULT_EF_SEARCH = 128
HNSW_MAX_EF_SEARCH = 1024
MIN_POINTS_PER_LIST = 39  # FAISS warns below this many training points per centroid
TRAIN_POINTS_PER_LIST = 64
RECALL_K = 100


@dataclass(frozen=True)
class IndexSpec:
    """Kind, build-time parameters and the query-time parameter of an index."""

    kind: str
    build: dict[str, int] = field(default_factory=dict)
    search: dict[str, int] = field(default_factory=dict)


def default_spec(kind: str, n: int) -> IndexSpec:
    """The parameters we build `kind` with for n vectors (docs/index.md says how they were chosen)."""
    if kind == "ivf":
        nlist = ivf_nlist(n)
        return IndexSpec("ivf", {"nlist": nlist}, {"nprobe": min(IVF_DEFAULT_NPROBE, nlist)})
    if kind == "hnsw":
        return IndexSpec(
            "hnsw",
            {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION},
            {"efSearch": HNSW_DEFAULT_EF_SEARCH},
        )
    raise ValueError(f"unknown index kind {kind!r}; choose one of: {', '.join(KINDS)}")


def ivf_nlist(n: int) -> int:
    """≈ 4·√n as a power of two, capped so every list gets MIN_POINTS_PER_LIST training points."""
    target = 2 ** round(math.log2(max(4 * math.sqrt(max(n, 1)), 1)))
    return max(1, min(target, n // MIN_POINTS_PER_LIST))


def new_index(spec: IndexSpec, ids: np.ndarray, vectors: np.ndarray, seed: int = 0) -> faiss.Index:
    """A fresh index of `spec` holding `vectors` under `ids` (int64 video ids)."""
    dim = vectors.shape[1]
    index: Any  # FAISS's SWIG classes are untyped beyond the base Index
    if spec.kind == "ivf":
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, spec.build["nlist"], faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(seed)
        n_train = min(len(vectors), spec.build["nlist"] * TRAIN_POINTS_PER_LIST)
        sample = vectors[np.sort(rng.choice(len(vectors), size=n_train, replace=False))]
        index.cp.seed = seed
        index.train(sample)
    elif spec.kind == "hnsw":
        hnsw = faiss.IndexHNSWFlat(dim, spec.build["M"], faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = spec.build["efConstruction"]
        index = faiss.IndexIDMap2(hnsw)
    else:
        raise ValueError(f"unknown index kind {spec.kind!r}; choose one of: {', '.join(KINDS)}")
    index.add_with_ids(vectors, ids)
    configure_search(index, spec.kind, spec.search)
    return index


def stored_vectors(index: faiss.Index, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(ids int64 [n], vectors float32 [n, d]) held by an index, read back without re-embedding."""
    if kind == "ivf":
        ivf = faiss.extract_index_ivf(index)
        lists: Any = ivf.invlists
        ids, vectors = [], []
        for list_no in range(ivf.nlist):
            size = lists.list_size(list_no)
            if size:
                ids.append(faiss.rev_swig_ptr(lists.get_ids(list_no), size).copy())
                codes = faiss.rev_swig_ptr(lists.get_codes(list_no), size * ivf.code_size)
                vectors.append(codes.view(np.float32).reshape(size, ivf.d).copy())
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros((0, ivf.d), dtype=np.float32)
        return np.concatenate(ids).astype(np.int64), np.concatenate(vectors)
    idmap: Any = faiss.downcast_index(index)
    return faiss.vector_to_array(idmap.id_map).astype(np.int64), idmap.index.reconstruct_n(0, idmap.ntotal)


def edited_index(
    old: faiss.Index,
    spec: IndexSpec,
    remove: np.ndarray,
    add_ids: np.ndarray,
    add_vectors: np.ndarray,
    seed: int = 0,
) -> faiss.Index:
    """A new index: `old` minus ids `remove`, plus `add_vectors` under `add_ids`; `old` is left untouched."""
    remove = np.asarray(remove, dtype=np.int64)
    if spec.kind == "ivf":
        index: Any = faiss.clone_index(old)
        if len(remove):
            index.remove_ids(remove)
        if len(add_ids):
            index.add_with_ids(add_vectors, add_ids)
        configure_search(index, spec.kind, spec.search)
        return index
    ids, vectors = stored_vectors(old, spec.kind)
    keep = ~np.isin(ids, remove)
    return new_index(
        spec,
        np.concatenate([ids[keep], add_ids]),
        np.concatenate([vectors[keep], add_vectors]),
        seed,
    )


@dataclass(frozen=True)
class RecallSample:
    """Seeded queries and their exact top-k ids, to score any index over the same vectors."""

    queries: np.ndarray
    exact: np.ndarray
    k: int

    @classmethod
    def draw(cls, ids: np.ndarray, vectors: np.ndarray, n_queries: int, seed: int = 0) -> RecallSample:
        """Queries mix two random indexed videos (a user with two interests), so no query is an indexed
        vector itself (which would hand every index its first hit for free)."""
        rng = np.random.default_rng(seed)
        a, b = rng.integers(0, len(vectors), (2, n_queries))
        queries = np.ascontiguousarray(vectors[a] + vectors[b], dtype=np.float32)
        k = min(RECALL_K, len(vectors))
        _, positions = faiss.knn(queries, vectors, k, metric=faiss.METRIC_INNER_PRODUCT)
        return cls(queries, ids[positions], k)

    def recall(self, index: faiss.Index) -> float:
        """Mean share of the exact top-k ids the index returns in its top-k."""
        _, found = index.search(self.queries, self.k)
        hits = [np.intersect1d(f, e).size for f, e in zip(found, self.exact, strict=True)]
        return float(np.mean(hits) / self.k)


def tune_search(
    index: faiss.Index, spec: IndexSpec, sample: RecallSample, target: float
) -> tuple[IndexSpec, float, dict[str, float]]:
    """Double nprobe/efSearch from spec's value until recall ≥ target (or the knob's ceiling); set it."""
    knob = "nprobe" if spec.kind == "ivf" else "efSearch"
    ceiling = spec.build["nlist"] if spec.kind == "ivf" else HNSW_MAX_EF_SEARCH
    value, tried = spec.search[knob], {}
    while True:
        configure_search(index, spec.kind, {knob: value})
        tried[str(value)] = round(sample.recall(index), 4)
        if tried[str(value)] >= target or value >= ceiling:
            break
        value = min(value * 2, ceiling)
    return replace(spec, search={knob: value}), tried[str(value)], tried
