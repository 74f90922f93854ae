"""A deterministic stand-in for the two-tower video tower: a fixed random projection of the content vectors.

It is not a trained model: it maps similar content to nearby vectors, which is all the index pipeline and
its tests need. Its `model_version` names the projection, so serving next to a real model refuses it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CONTENT_COLUMNS = ("visual_vec", "text_vec", "audio_vec")
CONTENT_WIDTHS = (32, 32, 16)  # worldsim's visual/text/audio dimensions


class ContentProjectionEmbedder:
    """L2-normalised `concat(visual_vec, text_vec, audio_vec) @ W`, W ~ N(0, 1) seeded; NULL vectors → 0."""

    def __init__(self, dim: int = 32, seed: int = 0, widths: tuple[int, ...] = CONTENT_WIDTHS) -> None:
        if dim < 1:
            raise ValueError(f"dim must be at least 1 (got {dim}).")
        self.dim = dim
        self.widths = widths
        self.model_version = f"content-projection-d{dim}-s{seed}"
        rng = np.random.default_rng([seed, dim, *widths])
        self._projection = rng.standard_normal((sum(widths), dim)).astype(np.float32)

    def embed(self, videos: pd.DataFrame) -> np.ndarray:
        x = np.hstack(
            [_column_matrix(videos[c], w) for c, w in zip(CONTENT_COLUMNS, self.widths, strict=True)]
        )
        y = x @ self._projection
        norms = np.linalg.norm(y, axis=1, keepdims=True)
        return (y / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def _column_matrix(column: pd.Series, width: int) -> np.ndarray:
    """A column of arrays of length `width` (NULL → zeros) as float32 [n, width]."""
    out = np.zeros((len(column), width), dtype=np.float32)
    for i, v in enumerate(column.tolist()):
        if v is not None:
            if len(v) != width:
                raise ValueError(f"{column.name} holds a vector of length {len(v)}; expected {width}.")
            out[i] = v
    return out
