"""validate_frames on small hand-built batches: a clean batch passes, a bad value fails just its check."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from foryou.errors import DataQualityError
from validation.frames import validate_frames
from validation.report import Severity, ValidationReport

NOW = datetime(2026, 1, 1, tzinfo=UTC)
T0 = pd.Timestamp("2025-12-01", tz="UTC")
HOUR = pd.Timedelta(hours=1)


def clean_batch() -> dict[str, pd.DataFrame]:
    """Every table, consistent with each other, every value inside its range."""
    ids = lambda *v: pd.array(list(v), dtype="Int64")  # noqa: E731
    return {
        "users": pd.DataFrame(
            {
                "user_id": ids(1, 2, 3),
                "region": ["us", "de", "br"],
                "device": ["ios", "android", None],
                "signup_at": [T0, T0, T0 + HOUR],
            }
        ),
        "creators": pd.DataFrame({"creator_id": ids(7, 8), "joined_at": [T0, T0]}),
        "videos": pd.DataFrame(
            {
                "video_id": ids(10, 11, 12),
                "creator_id": ids(7, 8, None),
                "uploaded_at": [T0, T0 + HOUR, T0 + 2 * HOUR],
                "duration_s": [12.5, 60.0, None],
                "title": ["a", None, "c"],
                "flagged": [False, False, True],
            }
        ),
        "follows": pd.DataFrame({"user_id": ids(1, 2), "creator_id": ids(7, 7), "ts": [T0 + HOUR] * 2}),
        "events": pd.DataFrame(
            {
                "event_id": ["e1", "e2", "e3", "e4"],
                "user_id": ids(1, 1, 2, 3),
                "video_id": ids(10, 10, 11, 12),
                "event_type": ["impression", "view", "like", "skip"],
                "ts": [T0 + 3 * HOUR, T0 + 3 * HOUR, T0 + 4 * HOUR, T0 + 5 * HOUR],
                "dwell_ms": ids(None, 1500, 0, 300),
                "watch_fraction": [None, 0.8, 10.0, 0.0],
                "propensity": [0.25, None, 1.0, None],
                "position": ids(0, 0, 1, 2),
                "device": ["ios", "ios", "web", None],
            }
        ),
    }


def run(frames: dict[str, pd.DataFrame], **kwargs: object) -> ValidationReport:
    return validate_frames(frames, now=NOW, raise_on_critical=False, **kwargs)  # type: ignore[arg-type]


def run_one_table(frames: dict[str, pd.DataFrame], table: str) -> ValidationReport:
    """Validate `table` alone (events with videos, for the upload-time check); parents as known ids."""
    subset = {name: frames[name] for name in (table, "videos" if table == "events" else table)}
    known = {name: frames[name].iloc[:, 0].dropna().to_numpy() for name in ("users", "creators", "videos")}
    return run(subset, known_ids=known)


def failed(report: ValidationReport) -> list[tuple[str, str | None, str, int | None, Severity]]:
    return [(o.table, o.column, o.expectation, o.unexpected_count, o.severity) for o in report.failures()]


def test_clean_batch_passes_every_expectation() -> None:
    report = run(clean_batch())
    assert report.success
    assert report.failures() == []
    assert report.skipped == []
    assert report.row_counts == {"users": 3, "creators": 2, "videos": 3, "follows": 2, "events": 4}
    assert {o.table for o in report.outcomes} == {"users", "creators", "videos", "follows", "events"}
    assert all(o.error is None for o in report.outcomes)


def _set(table: str, column: str, row: int, value: object) -> Callable[[dict[str, pd.DataFrame]], None]:
    def mutate(frames: dict[str, pd.DataFrame]) -> None:
        frames[table].loc[row, column] = value

    return mutate


def _add_row(table: str, **values: object) -> Callable[[dict[str, pd.DataFrame]], None]:
    """Append a copy of the table's first row with `values` changed (a row nothing else refers to)."""

    def mutate(frames: dict[str, pd.DataFrame]) -> None:
        row = frames[table].iloc[[0]].copy()
        for column, value in values.items():
            row.loc[row.index[0], column] = value
        frames[table] = pd.concat([frames[table], row], ignore_index=True)

    return mutate


def _replace(table: str, column: str, values: object) -> Callable[[dict[str, pd.DataFrame]], None]:
    def mutate(frames: dict[str, pd.DataFrame]) -> None:
        frames[table][column] = values

    return mutate


CRIT, WARN = Severity.CRITICAL, Severity.WARNING
BETWEEN = "expect_column_values_to_be_between"
UNKNOWN_REF = "expect_column_values_to_be_null"  # on the derived "<column> not in <parent>" column
CASES = [
    # id, mutation, (table, column, expectation, unexpected count, severity), an example value
    ("dwell_negative", _set("events", "dwell_ms", 1, -1), ("events", "dwell_ms", BETWEEN, 1, CRIT), -1),
    (
        "watch_fraction_high",
        _set("events", "watch_fraction", 1, 10.5),
        ("events", "watch_fraction", BETWEEN, 1, CRIT),
        10.5,
    ),
    (
        "watch_fraction_negative",
        _set("events", "watch_fraction", 1, -0.1),
        ("events", "watch_fraction", BETWEEN, 1, CRIT),
        -0.1,
    ),
    (
        "propensity_zero",
        _set("events", "propensity", 0, 0.0),
        ("events", "propensity", BETWEEN, 1, CRIT),
        0.0,
    ),
    (
        "propensity_above_one",
        _set("events", "propensity", 0, 1.5),
        ("events", "propensity", BETWEEN, 1, CRIT),
        1.5,
    ),
    (
        "event_type_unknown",
        _set("events", "event_type", 2, "click"),
        ("events", "event_type", "expect_column_values_to_be_in_set", 1, CRIT),
        "click",
    ),
    (
        "event_id_duplicate",
        _set("events", "event_id", 3, "e1"),
        ("events", "event_id", "expect_column_values_to_be_unique", 2, CRIT),
        "e1",
    ),
    (
        "event_id_missing",
        _set("events", "event_id", 3, None),
        ("events", "event_id", "expect_column_values_to_not_be_null", 1, CRIT),
        None,
    ),
    (
        "event_in_future",
        _set("events", "ts", 3, pd.Timestamp(NOW) + pd.Timedelta(seconds=1)),
        ("events", "ts", BETWEEN, 1, CRIT),
        "2026-01-01T00:00:01+00:00",
    ),
    ("event_user_unknown", _set("events", "user_id", 3, 99), ("events", "user_id", UNKNOWN_REF, 1, CRIT), 99),
    (
        "event_video_unknown",
        _set("events", "video_id", 0, 98),
        ("events", "video_id", UNKNOWN_REF, 1, CRIT),
        98,
    ),
    (
        "event_before_upload",
        _set("events", "ts", 3, T0 + HOUR),
        ("events", "ts", "expect_column_pair_values_a_to_be_greater_than_b", 1, WARN),
        None,
    ),
    (
        "impression_without_propensity",
        _set("events", "propensity", 0, None),
        ("events", "propensity", "expect_column_values_to_not_be_null", 1, WARN),
        None,
    ),
    (
        "same_event_twice_under_two_ids",
        _set("events", "event_type", 0, "view"),
        ("events", "user_id,video_id,event_type,ts", "expect_compound_columns_to_be_unique", 2, WARN),
        None,
    ),
    ("position_negative", _set("events", "position", 2, -1), ("events", "position", BETWEEN, 1, WARN), -1),
    (
        "device_unknown",
        _set("events", "device", 0, "blackberry"),
        ("events", "device", "expect_column_values_to_be_in_set", 1, WARN),
        "blackberry",
    ),
    (
        "dwell_as_float",
        _replace("events", "dwell_ms", [None, 1500.0, 0.0, 300.0]),
        ("events", "dwell_ms", "expect_column_values_to_be_in_type_list", None, CRIT),
        None,
    ),
    ("duration_zero", _set("videos", "duration_s", 0, 0.0), ("videos", "duration_s", BETWEEN, 1, CRIT), 0.0),
    (
        "video_creator_unknown",
        _set("videos", "creator_id", 1, 9),
        ("videos", "creator_id", UNKNOWN_REF, 1, CRIT),
        9,
    ),
    (
        "video_id_duplicate",
        _add_row("videos", title="again"),
        ("videos", "video_id", "expect_column_values_to_be_unique", 2, CRIT),
        10,
    ),
    (
        "upload_in_future",
        _add_row("videos", video_id=13, uploaded_at=pd.Timestamp("2026-02-01", tz="UTC")),
        ("videos", "uploaded_at", BETWEEN, 1, CRIT),
        "2026-02-01T00:00:00+00:00",
    ),
    (
        "signup_in_future",
        _set("users", "signup_at", 0, pd.Timestamp("2026-01-02", tz="UTC")),
        ("users", "signup_at", BETWEEN, 1, CRIT),
        "2026-01-02T00:00:00+00:00",
    ),
    (
        "user_region_missing",
        _set("users", "region", 1, None),
        ("users", "region", "expect_column_values_to_not_be_null", 1, CRIT),
        None,
    ),
    (
        "creator_id_negative",
        _add_row("creators", creator_id=-8),
        ("creators", "creator_id", BETWEEN, 1, CRIT),
        -8,
    ),
    (
        "follow_twice",
        _set("follows", "user_id", 1, 1),
        ("follows", "user_id,creator_id", "expect_compound_columns_to_be_unique", 2, CRIT),
        None,
    ),
    (
        "follow_user_unknown",
        _set("follows", "user_id", 1, 97),
        ("follows", "user_id", UNKNOWN_REF, 1, CRIT),
        97,
    ),
]


@pytest.mark.parametrize(("mutate", "expected", "example"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_bad_value_fails_exactly_its_expectation(
    mutate: Callable[[dict[str, pd.DataFrame]], None],
    expected: tuple[str, str, str, int | None, Severity],
    example: object,
) -> None:
    frames = clean_batch()
    mutate(frames)
    report = run_one_table(frames, expected[0])
    assert failed(report) == [expected]
    assert report.success == (expected[4] != CRIT)
    (outcome,) = report.failures()
    if example is not None:
        assert example in [_plain(v) for v in outcome.examples]
    assert outcome.hint


def _plain(value: object) -> object:
    from validation.report import json_safe

    return json_safe(value)


def test_naive_timestamps_fail_the_type_check_and_cannot_be_compared() -> None:
    frames = clean_batch()
    frames["events"]["ts"] = frames["events"]["ts"].dt.tz_localize(None)
    report = run(frames)
    assert ("events", "ts", "expect_column_values_to_be_of_type", None, CRIT) in failed(report)
    # the range checks on ts cannot compare naive with aware times: reported as errors, not as passes
    others = [o for o in report.failures() if o.expectation != "expect_column_values_to_be_of_type"]
    assert others and all(o.column == "ts" and o.error for o in others)


def test_future_tolerance_allows_a_writer_clock_that_runs_ahead() -> None:
    frames = {"users": clean_batch()["users"]}
    frames["users"].loc[0, "signup_at"] = pd.Timestamp(NOW) + pd.Timedelta(minutes=4)
    assert not run(frames).success
    assert run(frames, future_tolerance=timedelta(minutes=5)).success


def test_empty_frames_pass() -> None:
    report = run({name: frame.iloc[0:0] for name, frame in clean_batch().items()})
    assert report.success and report.failures() == []


def test_missing_required_column_is_one_failure_not_a_cascade() -> None:
    frames = clean_batch()
    frames["events"] = frames["events"].drop(columns=["ts"])
    report = run(frames)
    assert failed(report) == [("events", "ts", "expect_column_to_exist", None, CRIT)]


def test_optional_columns_may_be_absent() -> None:
    frames = clean_batch()
    frames["events"] = frames["events"][["event_id", "user_id", "video_id", "event_type", "ts"]]
    frames["videos"] = frames["videos"][["video_id", "uploaded_at"]]
    assert run(frames).failures() == []


def test_references_use_known_ids_when_the_parent_is_not_in_the_batch() -> None:
    events = clean_batch()["events"]
    report = run({"events": events}, known_ids={"users": {1, 2, 3}, "videos": np.array([10, 11])})
    assert failed(report) == [("events", "video_id", UNKNOWN_REF, 1, CRIT)]
    assert report.failures()[0].examples == [12]
    # the upload-time check needs the videos themselves: it is reported as not checked
    assert any("uploaded_at" in s for s in report.skipped)


def test_references_without_any_known_ids_are_skipped_and_said_so() -> None:
    report = run({"events": clean_batch()["events"]})
    assert report.success
    assert not any(o.description.startswith("user_id refers") for o in report.outcomes)
    assert any("events.user_id → users.user_id" in s for s in report.skipped)


def test_references_can_be_left_to_the_caller() -> None:
    frames = clean_batch()
    frames["events"].loc[3, "user_id"] = 99  # a user stored by an earlier batch, say
    report = run(frames, check_references=False)
    assert report.failures() == []
    assert "events.user_id → users.user_id: left to the caller" in report.skipped


def test_string_and_nullable_dtypes_of_the_ingest_path_pass() -> None:
    frames = clean_batch()
    events = frames["events"]
    for column in ("event_id", "event_type", "device"):
        events[column] = events[column].astype("string[pyarrow]")
    frames["users"]["region"] = frames["users"]["region"].astype("string")
    assert run(frames).failures() == []


def test_critical_failure_raises_with_a_message_for_people() -> None:
    frames = clean_batch()
    frames["events"].loc[1, "dwell_ms"] = -5
    with pytest.raises(DataQualityError) as info:
        validate_frames(frames, now=NOW, source="events.csv")
    message = str(info.value)
    for part in ("events.csv", "events.dwell_ms", "expect_column_values_to_be_between", "-5", "milliseconds"):
        assert part in message
    assert info.value.problems and "1 of 4 rows" in info.value.problems[0]


def test_warnings_alone_do_not_raise() -> None:
    frames = clean_batch()
    frames["events"].loc[0, "device"] = "blackberry"
    report = validate_frames(frames, now=NOW)
    assert report.success and report.max_severity == Severity.WARNING


def test_unknown_table_and_naive_now_are_rejected_early() -> None:
    with pytest.raises(ValueError, match="No suite for table"):
        validate_frames({"clicks": pd.DataFrame()}, now=NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        validate_frames(clean_batch(), now=datetime(2026, 1, 1))


def test_caller_frames_are_not_modified() -> None:
    frames = clean_batch()
    before = {name: frame.copy() for name, frame in frames.items()}
    run(frames)
    for name, frame in frames.items():
        pd.testing.assert_frame_equal(frame, before[name])
