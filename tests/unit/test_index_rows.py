"""What "changed" means for the index, the stand-in embedder, and the checks on embedder output."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.index.content_embedder import ContentProjectionEmbedder
from pipelines.index.embedder import EmbeddingError, embed_checked
from pipelines.index.videos import diff_rows
from serving.ann_index import IndexMismatchError


def test_diff_rows_sorts_videos_into_added_changed_removed() -> None:
    indexed = np.array([1, 2, 3, 4]), np.array([10, 20, 30, 40])
    table = np.array([2, 3, 4, 5, 6]), np.array([20, 31, 40, 50, 60])
    added, changed, removed = diff_rows(*indexed, *table)
    assert (added.tolist(), changed.tolist(), removed.tolist()) == ([5, 6], [3], [1])
    # Named ids count as changed when indexed and still in the table; others are not invented.
    _, forced, _ = diff_rows(*indexed, *table, also_changed=[4, 1, 99])
    assert forced.tolist() == [3, 4]


def frame(rows: list[tuple[list[float] | None, list[float] | None, list[float] | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "video_id": np.arange(len(rows)),
            "visual_vec": [r[0] for r in rows],
            "text_vec": [r[1] for r in rows],
            "audio_vec": [r[2] for r in rows],
        }
    )


def test_content_projection_is_deterministic_normalised_and_zero_for_missing_content() -> None:
    embedder = ContentProjectionEmbedder(dim=4, seed=0, widths=(2, 2, 1))
    videos = frame([([1, 0], [0, 1], [1]), (None, None, None), ([1, 0], [0, 1], [1])])
    a = embedder.embed(videos)
    b = ContentProjectionEmbedder(dim=4, seed=0, widths=(2, 2, 1)).embed(videos.iloc[::-1]).copy()[::-1]
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == (3, 4)
    assert np.linalg.norm(a[0]) == pytest.approx(1.0) and not a[1].any()
    np.testing.assert_array_equal(a[0], a[2])
    assert embedder.model_version == "content-projection-d4-s0"
    with pytest.raises(ValueError, match="length 3; expected 2"):
        embedder.embed(frame([([1, 0, 0], [0, 1], [1])]))


class Fixed:
    model_version = "fixed"

    def __init__(self, out: np.ndarray, dim: int) -> None:
        self.out, self.dim = out, dim

    def embed(self, videos: pd.DataFrame) -> np.ndarray:
        return self.out


def test_embed_checked_refuses_wrong_shapes_and_non_finite_values() -> None:
    videos = frame([(None, None, None)] * 2)
    assert embed_checked(Fixed(np.ones((2, 3), np.float64), 3), videos).dtype == np.float32
    with pytest.raises(EmbeddingError, match=r"shape \(3, 3\) for 2 videos"):
        embed_checked(Fixed(np.ones((3, 3)), 3), videos)
    with pytest.raises(IndexMismatchError, match="declares dimension 4 but returned 3-dimensional"):
        embed_checked(Fixed(np.ones((2, 3)), 4), videos)
    with pytest.raises(EmbeddingError, match=r"NaN or infinite vectors for 1 videos \(e.g. video_id \[1\]\)"):
        embed_checked(Fixed(np.array([[1.0, 1, 1], [np.nan, 1, 1]]), 3), videos)
