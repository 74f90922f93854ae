"""Edge validation of whole tables: headers, per-row messages, keys, defaults, and speed at 1M rows."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pipelines.ingest.batch import IngestBatch, complete
from pipelines.ingest.edge_checks import parse_table
from pipelines.ingest.problems import Problems, RowOrigin
from pipelines.ingest.readers import RawTable

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _raw(table: str, columns: dict[str, list[object]], label: str | None = None) -> RawTable:
    frame = pd.DataFrame({k: pd.Series(v, dtype="string[pyarrow]") for k, v in columns.items()})
    label = label or f"{table}.csv"
    return RawTable(table, frame, RowOrigin.of_file(label, len(frame)), label, "fp")


def test_header_problems_name_the_file_and_the_column() -> None:
    problems = Problems()
    raw = _raw("events", {"user_id": ["1"], "video_id": ["2"], "event_typ": ["view"], "ts": ["1"]})
    assert parse_table(raw, problems, NOW) is None
    text = "\n".join(problems.messages)
    assert "events.csv: header: the required column 'event_type' is missing" in text
    assert "events.csv: header: unknown column 'event_typ'; did you mean 'event_type'?" in text


def test_unknown_event_type_names_row_field_and_allowed_values() -> None:
    problems = Problems()
    raw = _raw(
        "events",
        {
            "user_id": ["1", "1"],
            "video_id": ["2", "2"],
            "event_type": ["view", "Like"],
            "ts": ["1700000000", "1700000000"],
        },
    )
    parse_table(raw, problems, NOW)
    assert problems.messages == [
        "events.csv, row 2, field event_type: got 'Like'; write event types in lowercase (like)"
    ]


def test_duplicate_keys_in_entity_files_point_at_the_first_row() -> None:
    problems = Problems()
    parse_table(_raw("users", {"user_id": ["5", "6", "5"]}), problems, NOW)
    assert problems.messages == [
        "users.csv, row 3, field user_id: the same user_id is already on row 1; keep one row per user_id"
    ]


def test_one_event_id_for_two_different_events_is_an_error_but_exact_repeats_are_not() -> None:
    problems = Problems()
    raw = _raw(
        "events",
        {
            "event_id": ["a", "a", "b", "b"],
            "user_id": ["1", "1", "1", "2"],
            "video_id": ["2"] * 4,
            "event_type": ["view"] * 4,
            "ts": ["1700000000"] * 4,
        },
    )
    parse_table(raw, problems, NOW)
    assert problems.total == 2
    assert all("event id 'b'" in m for m in problems.messages)


def test_users_extra_columns_become_attributes_and_defaults_are_filled() -> None:
    problems = Problems()
    users = parse_table(
        _raw("users", {"user_id": ["1", "2", "3"], "region": ["de", None, None], "age": ["31", None, "40"]}),
        problems,
        NOW,
    )
    events = parse_table(
        _raw(
            "events",
            {
                "user_id": ["2", "2"],
                "video_id": ["9", "9"],
                "event_type": ["view", "like"],
                "ts": ["2024-03-02T00:00:00Z", "2024-03-01T00:00:00Z"],
            },
        ),
        problems,
        NOW,
    )
    videos = parse_table(
        _raw(
            "videos",
            {
                "video_id": ["9"],
                "creator_id": ["70"],
                "uploaded_at": ["2024-02-01T00:00:00Z"],
                "tags": ["a|b"],
                "region": ["us|ca"],
            },
        ),
        problems,
        NOW,
    )
    follows = parse_table(
        _raw("follows", {"user_id": ["1"], "creator_id": ["70"], "ts": ["2024-01-15T00:00:00Z"]}),
        problems,
        NOW,
    )
    assert not problems and users and events and videos and follows
    batch = IngestBatch(
        "files", "b", {"users": users, "events": events, "videos": videos, "follows": follows}
    )
    complete(batch, NOW)
    frame = users.frame
    assert frame["region"].tolist() == ["de", "unknown", "unknown"]
    assert frame["attributes"].tolist() == [{"age": "31"}, {}, {"age": "40"}]
    # signup_at: earliest activity in the batch (follow for 1, first event for 2), else the load time.
    assert frame["signup_at"].tolist() == [
        pd.Timestamp("2024-01-15T00:00:00Z"),
        pd.Timestamp("2024-03-01T00:00:00Z"),
        pd.Timestamp(NOW),
    ]
    # Creator 70 joined at its earliest appearance: the follow (Jan 15) precedes the upload (Feb 1).
    assert batch.creators.to_dict("records") == [
        {"creator_id": 70, "joined_at": pd.Timestamp("2024-01-15", tz="UTC")}
    ]
    assert videos.frame["tags"][0] == ["a", "b"] and videos.frame["allowed_regions"][0] == ["us", "ca"]
    assert events.frame["event_id"].str.len().eq(32).all()


@pytest.mark.slow
def test_a_million_event_rows_validate_in_seconds() -> None:
    n = 1_000_000
    rng = np.random.default_rng(0)

    def text(values: pa.Array) -> pd.Series:
        return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([values.cast(pa.string())])))

    # 100k distinct ISO texts drawn a million times (pyarrow's strftime of 1M values alone takes seconds).
    distinct = pc.strftime(
        pa.array(1_700_000_000 + np.arange(100_000) * 97).cast(pa.timestamp("s")), format="%Y-%m-%dT%H:%M:%SZ"
    )
    iso = distinct.take(pa.array(rng.integers(0, 100_000, n)))
    frame = pd.DataFrame(
        {
            "user_id": text(pa.array(rng.integers(0, 50_000, n))),
            "video_id": text(pa.array(rng.integers(0, 100_000, n))),
            "event_type": text(pa.array(np.array(["view", "like", "skip"])[rng.integers(0, 3, n)])),
            "ts": text(pc.if_else(pa.array(np.arange(n) == 123_456), pa.scalar("not a time"), iso)),
            "dwell_ms": text(pa.array(rng.integers(0, 60_000, n))),
        }
    )
    raw = RawTable("events", frame, RowOrigin.of_file("events.csv", n), "events.csv", "fp")
    problems = Problems()
    started = time.perf_counter()
    parsed = parse_table(raw, problems, NOW)
    elapsed = time.perf_counter() - started
    assert parsed is not None
    assert problems.messages == [
        "events.csv, row 123457, field ts: got 'not a time'; not a timestamp; "
        "write ISO-8601 (2024-05-01T12:00:00Z; no offset means UTC) or unix seconds"
    ]
    assert elapsed < 15, f"validating 1M rows took {elapsed:.1f} s"
