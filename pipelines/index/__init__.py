"""The candidate index: embed every video with the two-tower model's video tower, index the vectors, swap.

    embedder.py           the VideoEmbedder protocol and `default_embedder` (the seam to the two-tower model)
    content_embedder.py   a deterministic stand-in embedder (fixed random projection of the content vectors)
    videos.py             reading the videos table in batches, with a hash of each row (what "changed" means)
    kinds.py              building, extending and measuring FAISS indexes (IVF, HNSW)
    build.py              build / update / status: artifacts/index/<version>/ and the atomic `current` swap

Serving reads the result through serving/ann_index.py; see docs/index.md for the design and the figures.
"""

from pipelines.index.build import IndexReport, IndexStatus, build, status, update
from pipelines.index.embedder import VideoEmbedder, default_embedder

__all__ = ["IndexReport", "IndexStatus", "VideoEmbedder", "build", "default_embedder", "status", "update"]
