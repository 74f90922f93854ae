"""The Great Expectations gate on feature batches fails exactly on the bad value and names it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from foryou.errors import DataQualityError
from pipelines.features.build import VIEWS
from validation.feature_gate import validate_feature_frame

END = datetime(2026, 1, 6, tzinfo=UTC)
START = END - timedelta(hours=1)


def _clean_user_batch(rows: int = 3) -> pd.DataFrame:
    view = VIEWS["user_stats"]
    frame = pd.DataFrame({column.name: [0.0] * rows for column in view.columns})
    frame.insert(0, "user_id", range(rows))
    frame["event_timestamp"] = [END - timedelta(minutes=5 * i) for i in range(rows)]
    frame["created"] = END
    return frame


def test_a_clean_batch_passes() -> None:
    report = validate_feature_frame("user_stats", _clean_user_batch(), START, END)
    assert report.success and report.outcomes


@pytest.mark.parametrize(
    ("column", "value", "expectation"),
    [
        ("like_rate_7d", 1.5, "expect_column_values_to_be_between"),
        ("views_24h", -1.0, "expect_column_values_to_be_between"),
        ("sessions_1h", None, "expect_column_values_to_not_be_null"),
    ],
)
def test_one_bad_value_fails_its_expectation(column: str, value: float | None, expectation: str) -> None:
    frame = _clean_user_batch()
    frame.loc[1, column] = value
    report = validate_feature_frame("user_stats", frame, START, END)
    failed = report.failures()
    assert [(o.column, o.expectation, o.unexpected_count) for o in failed] == [(column, expectation, 1)]
    with pytest.raises(DataQualityError, match=column):
        report.raise_for_critical()


def test_a_row_outside_the_batch_window_fails() -> None:
    frame = _clean_user_batch()
    frame.loc[0, "event_timestamp"] = END + timedelta(minutes=5)
    failed = validate_feature_frame("user_stats", frame, START, END).failures()
    assert [(o.column, o.unexpected_count) for o in failed] == [("event_timestamp", 1)]
