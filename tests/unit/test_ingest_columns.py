"""Column parsers of the generic ingest format: typed values out, one message per bad row."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from pipelines.ingest import columns as col
from pipelines.ingest.problems import Problems, RowOrigin

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TOLERANCE = pd.Timedelta(minutes=5)


def _column(values: list[object] | pd.Series, name: str = "x", dtype: str | None = "string[pyarrow]"):
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=dtype)
    problems = Problems(per_check=100)
    return col.RawColumn(name, series, RowOrigin.of_file("f.csv", len(series)), problems), problems


def test_text_ids_parse_and_each_bad_kind_gets_its_own_message() -> None:
    column, problems = _column(
        ["0", "42", " 7 ", "12.0", "-3", "4.5", "abc", None, "99999999999999999999", "0x10"]
    )
    parsed = col.ids(column)
    assert parsed.tolist()[:4] == [0, 42, 7, 12]
    assert parsed[4:].isna().all()
    text = "\n".join(problems.messages)
    assert "f.csv, row 5, field x: got '-3'; ids must be whole numbers ≥ 0, not negative" in text
    assert "row 6, field x: got '4.5'" in text
    assert "row 7, field x: got 'abc'" in text
    assert "row 8, field x: got (empty); the x column is required" in text
    assert "row 9, field x: got '99999999999999999999'; ids must fit in a signed 64-bit integer" in text
    assert "row 10, field x: got '0x10'" in text  # Arrow would read hex; an id must be digits
    assert problems.total == 6


def test_the_largest_int64_id_survives_exactly() -> None:
    column, problems = _column(["9223372036854775807", "9223372036854775808", "5.0"])
    parsed = col.ids(column)
    assert parsed[0] == 2**63 - 1
    assert pd.isna(parsed[1]) and parsed[2] == 5
    assert problems.total == 1 and "row 2" in problems.messages[0]


@pytest.mark.parametrize(
    ("values", "expected", "bad_rows"),
    [
        (pd.Series([1, 2, -1], dtype="int64"), [1, 2, None], [3]),
        (pd.Series([1.0, 2.5, np.nan], dtype="float64"), [1, None, None], [2, 3]),
        (pd.Series([3, None], dtype="Int64"), [3, None], [2]),
    ],
)
def test_typed_ids_from_parquet(values: pd.Series, expected: list[int | None], bad_rows: list[int]) -> None:
    column, problems = _column(values)
    parsed = col.ids(column)
    assert [None if pd.isna(v) else int(v) for v in parsed] == expected
    assert [int(m.split("row ")[1].split(",")[0]) for m in problems.messages] == bad_rows


def test_timestamps_accept_iso_and_unix_seconds_as_the_same_instant() -> None:
    column, problems = _column(
        [
            "2024-05-01T12:00:00Z",
            "1714564800",
            "2024-05-01 14:00:00+02:00",
            "2024-05-01T12:00:00",
            "1714564800.25",
        ]
    )
    parsed = col.timestamps(column, now=NOW, tolerance=TOLERANCE)
    assert not problems
    assert parsed[:4].nunique() == 1
    assert parsed[0] == pd.Timestamp("2024-05-01T12:00:00Z")
    assert parsed[4] == pd.Timestamp("2024-05-01T12:00:00.25Z")
    assert str(parsed.dtype) == "datetime64[ns, UTC]"


def test_bad_timestamps_say_what_is_wrong() -> None:
    column, problems = _column(
        [
            "yesterday",
            "1714564800000",
            "2027-01-01T00:00:00Z",
            "1500-01-01T00:00:00Z",
            None,
            "3000-01-01T00:00:00Z",
        ],
        name="ts",
    )
    parsed = col.timestamps(column, now=NOW, tolerance=TOLERANCE)
    assert parsed.isna().all()
    by_row = {int(m.split("row ")[1].split(",")[0]): m for m in problems.messages}
    assert "not a timestamp" in by_row[1] and "ISO-8601" in by_row[1]
    assert "looks like milliseconds" in by_row[2]
    assert "in the future" in by_row[3]
    assert "between the years 1678 and 2262" in by_row[4]
    assert "required" in by_row[5]
    assert "in the future" in by_row[6]


def test_a_timestamp_within_the_clock_skew_tolerance_is_accepted() -> None:
    column, problems = _column(["2026-01-01T00:04:00Z", "2026-01-01T00:06:00Z"])
    col.timestamps(column, now=NOW, tolerance=TOLERANCE)
    assert problems.total == 1 and "row 2" in problems.messages[0]


def test_naive_datetimes_from_parquet_are_utc() -> None:
    column, problems = _column(pd.Series(pd.to_datetime(["2024-01-01T00:00:00", None])))
    parsed = col.timestamps(column, now=NOW, tolerance=TOLERANCE, required=False)
    assert parsed[0] == pd.Timestamp("2024-01-01T00:00:00Z") and pd.isna(parsed[1])
    assert not problems


def test_numbers_check_range_and_integrality() -> None:
    column, problems = _column(["100", "", "-1", "1.5", "x", "inf"])
    parsed = col.numbers(column, integer=True, minimum=0, what="whole ms ≥ 0")
    assert parsed[0] == 100 and parsed[1:].isna().all()
    assert [int(m.split("row ")[1].split(",")[0]) for m in problems.messages] == [3, 4, 5, 6]


def test_booleans_lists_and_choices() -> None:
    flags, problems = _column(["true", "No", "1", "", "maybe"])
    assert col.booleans(flags, default=False).tolist() == [True, False, True, False, False]
    assert problems.total == 1 and "row 5" in problems.messages[0]

    tags, _ = _column(["a|b", " c | |d", None])
    assert col.lists(tags).tolist() == [["a", "b"], ["c", "d"], None]

    devices, problems = _column(["ios", "Android", None])
    col.choices(devices, ("ios", "android", "web"))
    assert problems.total == 1 and "must be one of ios, android, web" in problems.messages[0]


def test_many_bad_rows_are_counted_but_only_a_few_listed() -> None:
    series = pd.Series(["bad"] * 1000, dtype="string[pyarrow]")
    problems = Problems(per_check=5)
    col.ids(col.RawColumn("user_id", series, RowOrigin.of_file("e.csv", 1000), problems))
    assert problems.total == 1000
    assert len(problems.messages) == 6
    assert problems.messages[-1] == "e.csv, field user_id: 995 more rows with the same problem"
