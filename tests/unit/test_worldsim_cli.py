"""The simulate command's argument handling (the command itself runs in the integration tests)."""

from __future__ import annotations

import datetime as dt

import pytest

from foryou.cli.simulate_cmd import parse_start
from foryou.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-05T00:00Z", dt.datetime(2026, 1, 5, tzinfo=dt.UTC)),
        ("2026-03-02", dt.datetime(2026, 3, 2, tzinfo=dt.UTC)),  # no offset: UTC
        ("2026-03-02T08:30+02:00", dt.datetime(2026, 3, 2, 6, 30, tzinfo=dt.UTC)),
    ],
)
def test_start_parses_iso_8601_as_an_aware_datetime(text: str, expected: dt.datetime) -> None:
    assert parse_start(text) == expected and parse_start(text).tzinfo is not None


def test_a_bad_start_says_what_to_write() -> None:
    with pytest.raises(ConfigError, match="2026-01-05T00:00Z"):
        parse_start("next monday")
