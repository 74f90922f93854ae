"""Feature definitions without a database: docs cover every column, the migration matches the views, and
the build's argument checks and SQL helpers behave."""

from __future__ import annotations

import importlib.util
import itertools
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.dialects import postgresql

from pipelines.features.build import VIEWS, FeatureBuildError, resolve_until, resolve_views
from pipelines.features.definitions import PRIORS, STRENGTH
from pipelines.features.spec import BuildWindow
from pipelines.features.sql import floor_to, interval, smoothed_rate, union_of_contributions

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "features.md"
MIGRATION = ROOT / "migrations" / "versions" / "0002_feature_tables.py"


def _documented_names() -> set[str]:
    """Every `name` in backticks in docs/features.md, with {a,b} alternatives expanded."""
    names = set()
    for token in re.findall(r"`([a-z0-9_{},]+)`", DOC.read_text()):
        parts = re.split(r"\{([^}]*)\}", token)
        choices = [[p] if i % 2 == 0 else p.split(",") for i, p in enumerate(parts)]
        names |= {"".join(combo) for combo in itertools.product(*choices)}
    return names


def test_every_column_of_every_view_is_documented() -> None:
    documented = _documented_names()
    for view in VIEWS.values():
        assert f"features.{view.name}" in DOC.read_text()
        missing = [c for c in view.column_names if c not in documented]
        assert not missing, f"{view.name}: document {missing} in docs/features.md"


def test_the_documented_constants_are_the_ones_in_use() -> None:
    text = DOC.read_text()
    for name, prior in PRIORS.items():
        assert f"{name} {prior:g}" in text, name
    for entity, strength in STRENGTH.items():
        assert f"{entity} {strength:g}" in text, entity


def test_the_migration_creates_exactly_the_view_columns() -> None:
    spec = importlib.util.spec_from_file_location("migration_0002", MIGRATION)
    assert spec and spec.loader
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert set(migration.TABLES) == set(VIEWS)
    for name, (entity, columns) in migration.TABLES.items():
        view = VIEWS[name]
        assert entity == view.entity
        migrated = columns()
        assert [c for c, _ in migrated] == view.column_names, name
        for (column, type_), declared in zip(migrated, view.columns, strict=True):
            assert type_.compile(dialect=postgresql.dialect()) == declared.sql_type, (name, column)


def test_rates_and_counts_have_the_kinds_the_checks_rely_on() -> None:
    for view in VIEWS.values():
        for column in view.columns:
            if "_rate" in column.name or column.name == "popularity_pct":
                assert column.kind == "rate", column.name
            if column.sql_type != "DOUBLE PRECISION" and column.name != "creator_id":
                assert column.kind in ("count", "flag"), column.name


def test_until_defaults_to_now_and_the_future_is_refused() -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert resolve_until(None, now=now) == now
    assert resolve_until(now - timedelta(days=1), now=now) == now - timedelta(days=1)
    with pytest.raises(FeatureBuildError, match="in the future"):
        resolve_until(now + timedelta(seconds=1), now=now)
    with pytest.raises(FeatureBuildError, match="time zone"):
        resolve_until(datetime(2026, 5, 1), now=now)


def test_views_are_chosen_by_name() -> None:
    assert [v.name for v in resolve_views(None)] == list(VIEWS)
    assert [v.name for v in resolve_views(["video_stats", "user_stats", "video_stats"])] == [
        "video_stats",
        "user_stats",
    ]
    with pytest.raises(FeatureBuildError, match="user_stat;|user_stat\\b"):
        resolve_views(["user_stat"])


def test_times_round_down_to_the_grain_from_the_epoch() -> None:
    five = timedelta(minutes=5)
    assert floor_to(datetime(2026, 1, 1, 10, 4, 59, 999999, tzinfo=UTC), five) == datetime(
        2026, 1, 1, 10, 0, tzinfo=UTC
    )
    assert floor_to(datetime(2026, 1, 1, 10, 5, tzinfo=UTC), five) == datetime(2026, 1, 1, 10, 5, tzinfo=UTC)
    assert floor_to(datetime(2026, 1, 1, 23, 59, tzinfo=UTC), timedelta(days=1)) == datetime(
        2026, 1, 1, tzinfo=UTC
    )


def test_build_windows_must_be_aware_and_non_empty() -> None:
    end = datetime(2026, 1, 2, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        BuildWindow(None, datetime(2026, 1, 2))
    with pytest.raises(ValueError, match="empty build window"):
        BuildWindow(end, end)
    window = BuildWindow(end - timedelta(hours=1), end)
    assert window.params(timedelta(days=1))["read_from"] == end - timedelta(days=1, hours=1)
    assert BuildWindow(None, end).params(timedelta(days=1)) == {"end": end}


def test_sql_helpers() -> None:
    assert interval(timedelta(days=7)) == "interval '604800 seconds'"
    with pytest.raises(ValueError):
        interval(timedelta(milliseconds=1))
    # the smoothed rate caps k at n and shrinks towards the prior
    assert smoothed_rate("k", "n", 0.05, 20.0) == "((LEAST(k, n)::float8 + 1.0) / (n::float8 + 20.0))"
    sql = union_of_contributions(["a", "t", "x"], [({"a": "a", "t": "t"}, "FROM s"), ({"x": "1"}, "FROM u")])
    assert sql == "SELECT a AS a, t AS t, 0 AS x FROM s\n    UNION ALL SELECT 0 AS a, 0 AS t, 1 AS x FROM u"
    with pytest.raises(ValueError, match="unknown contribution"):
        union_of_contributions(["a"], [({"b": "1"}, "FROM s")])


def test_cli_reads_until_as_iso_8601_in_utc() -> None:
    from foryou.cli.features_cmd import _parse_until
    from foryou.errors import ConfigError

    assert _parse_until(None) is None
    assert _parse_until("2026-03-01T12:00") == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert _parse_until("2026-03-01T14:00+02:00") == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    with pytest.raises(ConfigError, match="ISO 8601"):
        _parse_until("yesterday")
