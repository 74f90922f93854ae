"""`foryou bench index`: recall@100 and per-query latency of our ANN index against exact search, same run.

Vectors (`source`):
  two-tower           the current two-tower model's embeddings of n synthetic worldsim videos
  content-projection  the stand-in embedder (pipelines/index/content_embedder.py) on the same synthetic videos
  clustered           a seeded Gaussian mixture of the model's dimension (or --dim): 1,000 clusters of
                      log-normal sizes, noise as large as the centre, L2-normalised
  auto                two-tower when a current model exists, else clustered (the output says which)

The index is built exactly as `foryou index build` builds it (pipelines/index/kinds.py: default parameters,
then the query knob doubled until recall@100 ≥ target on a tuning sample). Recall and latency are then
measured on a separate sample of queries (each the sum of two random indexed vectors, as at build), one
query per call on one thread — the serving shape. The baseline is exact `IndexFlatIP` on the same vectors.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import faiss
import numpy as np
import pandas as pd

from pipelines.bench.result import BenchResult
from pipelines.index.kinds import RecallSample, default_spec, new_index, tune_search

SOURCES = ("auto", "two-tower", "content-projection", "clustered")
DEFAULT_DIM = 64


def clustered_vectors(n: int, dim: int, seed: int = 0, n_clusters: int = 1_000) -> np.ndarray:
    """n L2-normalised float32 vectors from a seeded Gaussian mixture (cluster sizes log-normal)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim)).astype(np.float32)
    weights = rng.lognormal(0.0, 1.0, n_clusters)
    labels = rng.choice(n_clusters, size=n, p=weights / weights.sum())
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 1 << 18):  # in chunks: bounded temporary memory at large n
        part = slice(start, min(start + (1 << 18), n))
        x = centres[labels[part]] + rng.standard_normal((part.stop - part.start, dim)).astype(np.float32)
        out[part] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def synthetic_videos(n: int, seed: int = 0) -> pd.DataFrame:
    """n synthetic videos as rows of the videos table (worldsim's catalog and content model)."""
    from worldsim.catalog import make_creators, make_videos
    from worldsim.config import WorldConfig
    from worldsim.content import content_vectors, make_projections, titles_and_tags
    from worldsim.topics import make_topics

    config = WorldConfig(seed=seed, n_videos=n, n_creators=max(1, n // 50), n_users=1)
    topics = make_topics(config)
    creators = make_creators(config, topics)
    videos = make_videos(config, topics, creators)
    content = content_vectors(config, videos, make_projections(config))
    titles, tags = titles_and_tags(config, topics, videos)
    return pd.DataFrame(
        {
            "video_id": np.arange(n, dtype=np.int64),
            "creator_id": videos.creator.astype(np.int64),
            "uploaded_at": pd.to_datetime(videos.uploaded_ms, unit="ms", utc=True),
            "duration_s": videos.duration_s,
            "title": titles,
            "tags": tags,
            "allowed_regions": None,
            "flagged": videos.flagged,
            "visual_vec": list(content["visual"]),
            "text_vec": list(content["text"]),
            "audio_vec": list(content["audio"]),
        }
    )


def embedded_videos(embedder, n: int, seed: int = 0, batch: int = 65_536) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The embedder's vectors for n synthetic videos."""
    from pipelines.index.embedder import embed_checked

    frame = synthetic_videos(n, seed)
    return np.concatenate([embed_checked(embedder, frame.iloc[i : i + batch]) for i in range(0, n, batch)])


def bench_vectors(runtime, source: str, n: int, dim: int | None, seed: int) -> tuple[np.ndarray, str]:  # type: ignore[no-untyped-def]
    """The vectors to index and a label saying where they came from."""
    from foryou.errors import ForyouError

    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; choose one of: {', '.join(SOURCES)}")
    model = None
    if source in ("auto", "two-tower"):
        from pipelines.index.embedder import default_embedder

        try:
            model = default_embedder(runtime)
        except ForyouError:
            if source == "two-tower":
                raise
    if model is not None:
        return embedded_videos(model, n, seed), f"two-tower {model.model_version} on synthetic videos"
    if source == "content-projection":
        from pipelines.index.content_embedder import ContentProjectionEmbedder

        stand_in = ContentProjectionEmbedder(dim=dim or DEFAULT_DIM, seed=seed)
        return embedded_videos(stand_in, n, seed), f"{stand_in.model_version} on synthetic videos"
    dim = dim or DEFAULT_DIM
    why = "no two-tower model: " if source == "auto" else ""
    return clustered_vectors(n, dim, seed), f"{why}clustered synthetic vectors (1,000 clusters, dim {dim})"


def per_query_ms(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Latency of each query searched alone (ms), and the ids found."""
    found = np.empty((len(queries), k), dtype=np.int64)
    times = np.empty(len(queries))
    for i in range(len(queries)):
        t0 = time.perf_counter()
        _, ids = index.search(queries[i : i + 1], k)
        times[i] = time.perf_counter() - t0
        found[i] = ids[0]
    return times * 1e3, found


def run_index_bench(
    runtime,  # type: ignore[no-untyped-def]
    *,
    n: int = 1_000_000,
    kind: str = "ivf",
    source: str = "auto",
    dim: int | None = None,
    queries: int = 1_000,
    exact_queries: int = 200,
    target_recall: float = 0.95,
    seed: int = 0,
) -> list[BenchResult]:
    """Build `kind` over n vectors as `foryou index build` would; measure it and exact search."""
    vectors, label = bench_vectors(runtime, source, n, dim, seed)
    ids = np.arange(len(vectors), dtype=np.int64)
    threads = faiss.omp_get_max_threads()
    t0 = time.perf_counter()
    spec = default_spec(kind, len(vectors))
    index = new_index(spec, ids, vectors, seed)
    tuning = RecallSample.draw(ids, vectors, 200, seed + 1)
    spec, _, tried = tune_search(index, spec, tuning, target_recall)
    build_s = time.perf_counter() - t0
    sample = RecallSample.draw(ids, vectors, queries, seed)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    faiss.omp_set_num_threads(1)  # latency on one thread: one request, one core
    try:
        per_query_ms(index, sample.queries[:20], sample.k)  # warm-up
        ours_ms, found = per_query_ms(index, sample.queries, sample.k)
        exact_ms, exact_found = per_query_ms(exact, sample.queries[:exact_queries], sample.k)
    finally:
        faiss.omp_set_num_threads(threads)
    if not all(
        np.intersect1d(a, b).size == sample.k for a, b in zip(exact_found, sample.exact, strict=False)
    ):
        raise AssertionError(
            "IndexFlatIP disagrees with faiss.knn on the ground truth; not reporting a figure"
        )
    recall = float(np.mean([np.intersect1d(f, e).size for f, e in zip(found, sample.exact, strict=True)]))
    recall /= sample.k
    details = {
        "n": len(vectors),
        "dim": int(vectors.shape[1]),
        "vectors": label,
        "kind": kind,
        "build": spec.build,
        "search": spec.search,
        "tuning_recall": tried,
        "build_s": round(build_s, 1),
        "queries": queries,
        "exact_queries_timed": min(exact_queries, queries),
        "threads": 1,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    base = f"exact IndexFlatIP ({len(vectors):,} vectors)"
    out = [
        BenchResult(f"recall@{sample.k} ({kind})", "share", recall, 1.0, True, base, details),
    ]
    for q in (50, 99):
        out.append(
            BenchResult(
                f"query latency p{q} ({kind}, k={sample.k})",
                "ms",
                float(np.percentile(ours_ms, q)),
                float(np.percentile(exact_ms, q)),
                False,
                base,
                details,
            )
        )
    return out
