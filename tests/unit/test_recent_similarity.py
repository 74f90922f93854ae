"""serving/recent.py: the user's last positives strictly before a row, and the cosine to their mean."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from pipelines.datasets.labels import LONG_WATCH_FRACTION
from serving import recent
from serving.recent import Positives, content_dims, recent_similarity


@dataclass
class TableModel:
    """A two-tower stand-in whose video tower is a lookup table (the math under test is serving/recent's)."""

    table: dict[int, np.ndarray]
    recency: bool = False

    @property
    def dim(self) -> int:
        return len(next(iter(self.table.values())))

    def embed_videos(self, videos: pd.DataFrame) -> np.ndarray:
        return np.stack([self.table[int(v)] for v in videos["video_id"]]).astype(np.float32)


VIDEOS = pd.DataFrame({"video_id": [1, 2, 3, 4]})
MODEL = TableModel(
    {
        1: np.array([1.0, 0.0, 0.0]),
        2: np.array([0.0, 1.0, 0.0]),
        3: np.array([1.0, 1.0, 0.0]),
        4: np.array([0.0, 0.0, 5.0]),
    }
)


def test_the_long_watch_threshold_is_the_labels_one() -> None:
    assert recent.LONG_WATCH_FRACTION == LONG_WATCH_FRACTION


def test_windows_hold_the_last_n_positives_strictly_before_the_row() -> None:
    history = Positives.of([7, 7, 7, 9, 7], [30.0, 10.0, 20.0, 5.0, 40.0], [3, 1, 2, 4, 4])
    assert history.user_id.tolist() == [7, 7, 7, 7, 9] and history.ts_s.tolist() == [10, 20, 30, 40, 5]
    start, end = history.windows([7, 7, 7, 9, 8], [20.0, 35.0, 99.0, 6.0, 50.0], n=2)
    assert list(zip(start.tolist(), end.tolist(), strict=True)) == [
        (0, 1),
        (1, 3),
        (2, 4),
        (4, 5),
        (4, 4),
    ]  # user 8: empty


def test_cosine_to_the_mean_of_the_window() -> None:
    history = Positives.of([7, 7], [10.0, 20.0], [1, 2])
    got = recent_similarity(MODEL, history, [7, 7, 7, 8], [30.0, 15.0, 30.0, 30.0], [3, 3, 4, 3], VIDEOS)
    assert got[0] == pytest.approx(1.0)  # mean of (1,0,0) and (0,1,0) points where (1,1,0) does
    assert got[1] == pytest.approx(1 / np.sqrt(2))  # only video 1 was before t = 15
    assert got[2] == pytest.approx(0.0)
    assert np.isnan(got[3])  # no history: missing, not zero


def test_a_positive_at_or_after_the_row_time_changes_nothing() -> None:
    rng = np.random.default_rng(0)
    users = rng.integers(0, 5, 200)
    history = Positives.of(users, rng.uniform(0, 100, 200), rng.integers(1, 5, 200))
    rows_user, rows_t, rows_v = rng.integers(0, 5, 50), rng.uniform(0, 100, 50), rng.integers(1, 5, 50)
    before = recent_similarity(MODEL, history, rows_user, rows_t, rows_v, VIDEOS)
    for i in range(50):  # plant, for each row, positives of its user at and after its time
        planted = Positives.of(
            np.concatenate([history.user_id, [rows_user[i]] * 2]),
            np.concatenate([history.ts_s, [rows_t[i], rows_t[i] + 1.0]]),
            np.concatenate([history.video_id, [rows_v[i], rows_v[i]]]),
        )
        after = recent_similarity(
            MODEL, planted, rows_user[i : i + 1], rows_t[i : i + 1], rows_v[i : i + 1], VIDEOS
        )
        np.testing.assert_allclose(after, before[i : i + 1])


def test_the_recency_component_is_left_out() -> None:
    model = TableModel({1: np.array([1.0, 0.0, 100.0]), 2: np.array([0.0, 1.0, -100.0])}, recency=True)
    assert content_dims(model) == 2
    history = Positives.of([7], [1.0], [1])
    got = recent_similarity(model, history, [7], [2.0], [2], pd.DataFrame({"video_id": [1, 2]}))
    assert got[0] == pytest.approx(0.0)  # orthogonal content, whatever the recency terms
