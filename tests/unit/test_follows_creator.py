"""serving/follows.py and serving.affinity.creators_of: the user × creator flag, strictly before the row."""

from __future__ import annotations

import numpy as np
import pandas as pd

from serving.affinity import creators_of
from serving.follows import Follows


def test_followed_only_strictly_before_the_row_time() -> None:
    follows = Follows.of([1, 1, 2], [10, 11, 10], [100.0, 200.0, 50.0])
    got = follows.followed_before(
        [1, 1, 1, 1, 2, 3], [10, 10, 11, 12, 10, 10], [150.0, 100.0, 250.0, 999.0, 60.0, 999.0]
    )
    assert got.dtype == np.float32
    assert got.tolist() == [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]  # at t = 100 the follow is not yet before the row


def test_the_first_follow_counts_and_empty_follows_are_all_zero() -> None:
    twice = Follows.of([1, 1], [10, 10], [300.0, 100.0])
    assert twice.followed_before([1], [10], [200.0]).tolist() == [1.0]
    assert Follows.of([], [], []).followed_before([1, 2], [3, 4], [5.0, 6.0]).tolist() == [0.0, 0.0]


def test_creators_of_videos_unknown_and_null_are_minus_one() -> None:
    videos = pd.DataFrame({"video_id": [5, 6, 7], "creator_id": [50, None, 70]})
    assert creators_of([7, 5, 6, 8], videos).tolist() == [70, 50, -1, -1]
