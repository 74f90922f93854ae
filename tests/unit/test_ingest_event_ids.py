"""Deterministic event ids: stable across runs, row order and timestamp spelling; genuine repeats distinct."""

from __future__ import annotations

import hashlib

import pandas as pd

from pipelines.ingest.event_ids import derived_event_ids, fill_event_ids


def _events(rows: list[tuple[int, int, str, str]], event_ids: list[str | None] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["user_id", "video_id", "event_type", "ts"])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame["event_id"] = pd.Series(event_ids or [None] * len(rows), dtype=object)
    return frame


def test_the_id_is_the_documented_hash() -> None:
    frame = _events([(1, 2, "view", "2024-05-01T12:00:00Z")])
    expected = hashlib.blake2b(b"1|2|view|1714564800000000|0", digest_size=16).hexdigest()
    assert derived_event_ids(frame).tolist() == [expected]


def test_identical_rows_get_distinct_ids_and_the_set_does_not_depend_on_order() -> None:
    rows = [(1, 2, "comment", "2024-05-01T12:00:00Z")] * 3 + [(1, 3, "view", "2024-05-01T12:00:00Z")]
    ids = derived_event_ids(_events(rows))
    assert ids.nunique() == 4
    shuffled = derived_event_ids(_events(list(reversed(rows))))
    assert set(shuffled) == set(ids)


def test_every_field_of_the_identity_changes_the_id() -> None:
    base = (1, 2, "view", "2024-05-01T12:00:00Z")
    variants = [
        base,
        (9, 2, "view", base[3]),
        (1, 9, "view", base[3]),
        (1, 2, "like", base[3]),
        (1, 2, "view", "2024-05-01T12:00:00.000001Z"),
    ]
    ids = [derived_event_ids(_events([row]))[0] for row in variants]
    assert len(set(ids)) == len(ids)


def test_given_ids_are_kept_and_only_missing_ones_derived() -> None:
    frame = _events(
        [(1, 2, "view", "2024-05-01T12:00:00Z"), (1, 2, "view", "2024-05-01T12:00:00Z")], ["mine-1", None]
    )
    filled = fill_event_ids(frame)
    assert filled[0] == "mine-1"
    # The row without an id is the first (occurrence 0) among the rows that needed one.
    assert filled[1] == hashlib.blake2b(b"1|2|view|1714564800000000|0", digest_size=16).hexdigest()
