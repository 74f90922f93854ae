"""What the index needs from a model: a version, a dimension, and video vectors for rows of `videos`."""

from __future__ import annotations

import importlib.util
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from foryou.artifacts import ArtifactError, ArtifactStore
from foryou.errors import ForyouError
from foryou.runtime import Runtime
from serving.ann_index import IndexMismatchError


class EmbeddingError(ForyouError):
    """The embedder returned something that cannot be indexed (wrong shape, NaN or infinity)."""

    exit_code = 7


@runtime_checkable
class VideoEmbedder(Protocol):
    """Maps rows of the videos table to float32 [n, dim] vectors in the model's retrieval space."""

    model_version: str
    dim: int

    def embed(self, videos: pd.DataFrame) -> np.ndarray: ...


class TwoTowerVideoEmbedder:
    """Adapts the two-tower model (serving/two_tower.py) to VideoEmbedder."""

    def __init__(self, model: Any, model_version: str) -> None:
        self._model = model
        self.model_version = model_version
        self.dim = int(model.dim)

    def embed(self, videos: pd.DataFrame) -> np.ndarray:
        return np.asarray(self._model.embed_videos(videos), dtype=np.float32)


def default_embedder(runtime: Runtime) -> VideoEmbedder:
    """The current two-tower model's video tower; a clear error until one has been trained."""
    store = ArtifactStore(runtime.settings.artifacts_dir)
    if importlib.util.find_spec("serving.two_tower") is None or store.current_version("two-tower") is None:
        raise ArtifactError(
            f"No current two-tower model under {store.root / 'two-tower'}; run `foryou train two-tower` "
            "first (or pass `--embedder content-projection` to try the index pipeline without a model)."
        )
    from serving.two_tower import TwoTowerModel  # type: ignore[import-not-found]

    model = TwoTowerModel.load(store)
    version = getattr(model, "version", None) or store.current_version("two-tower")
    return TwoTowerVideoEmbedder(model, str(version))


def embed_checked(embedder: VideoEmbedder, videos: pd.DataFrame) -> np.ndarray:
    """embedder.embed(videos) as contiguous float32 [len(videos), dim], or an error saying why not."""
    vectors = np.ascontiguousarray(embedder.embed(videos), dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(videos):
        raise EmbeddingError(
            f"embedder {embedder.model_version} returned shape {vectors.shape} for {len(videos)} videos; "
            f"expected ({len(videos)}, {embedder.dim})."
        )
    if vectors.shape[1] != embedder.dim:
        raise IndexMismatchError(
            f"embedder {embedder.model_version} declares dimension {embedder.dim} but returned "
            f"{vectors.shape[1]}-dimensional vectors; fix the model export before indexing."
        )
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        ids = videos["video_id"].to_numpy()[bad][:5].tolist()
        raise EmbeddingError(
            f"embedder {embedder.model_version} returned NaN or infinite vectors for {int(bad.sum())} videos "
            f"(e.g. video_id {ids}); nothing was indexed."
        )
    return vectors
