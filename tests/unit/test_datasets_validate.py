"""Argument checks of `foryou dataset build` (no stores needed) and the label SQL's shape."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from foryou.errors import ConfigError
from pipelines.datasets.build import parse_time, validate
from pipelines.datasets.labels import ranking_sql, retrieval_sql

NOW = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
UNTIL = dt.datetime(2026, 1, 12, tzinfo=dt.UTC)


def test_valid_arguments_pass(tmp_path: Path) -> None:
    validate("ranking", UNTIL, None, tmp_path / "r.parquet", now=NOW)
    validate("retrieval", UNTIL, UNTIL - dt.timedelta(days=1), tmp_path / "r.parquet", now=NOW)


@pytest.mark.parametrize(
    ("task", "until", "since", "message"),
    [
        ("clicks", UNTIL, None, "Unknown task 'clicks'; choose one of: ranking, retrieval"),
        ("ranking", NOW + dt.timedelta(seconds=1), None, "is in the future"),
        ("ranking", UNTIL, UNTIL, "must be before --until"),
        ("ranking", UNTIL.replace(tzinfo=None), None, "has no time zone"),
    ],
)
def test_bad_arguments_are_refused(
    task: str, until: dt.datetime, since: dt.datetime | None, message: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=message):
        validate(task, until, since, tmp_path / "r.parquet", now=NOW)


def test_bad_output_paths_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        validate("ranking", UNTIL, None, tmp_path / "missing" / "r.parquet", now=NOW)
    with pytest.raises(ConfigError, match="is a directory"):
        validate("ranking", UNTIL, None, tmp_path, now=NOW)


def test_times_without_zone_are_utc() -> None:
    assert parse_time("2026-01-12T00:00", "--until") == UNTIL
    assert parse_time("2026-01-12T01:00+01:00", "--until") == UNTIL
    with pytest.raises(ConfigError, match="not an ISO 8601 time"):
        parse_time("yesterday", "--until")


def test_since_only_filters_when_given() -> None:
    assert ":since" not in ranking_sql(with_since=False) and ":since" in ranking_sql(with_since=True)
    assert ":since" not in retrieval_sql(with_since=False) and ":since" in retrieval_sql(with_since=True)
