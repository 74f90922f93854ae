"""The build as a job: idempotent, incremental, gated, refusing the future; tables match the definitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from foryou import migrate
from foryou.cli.features_cmd import app as features_app
from foryou.db import make_engine
from foryou.errors import StoreUnavailableError
from pipelines.features.benchmark import generate_world
from pipelines.features.build import VIEWS, FeatureBatch, FeatureBuildError, build, built_until
from pipelines.features.checks import FeatureBatchError, check_batch
from pipelines.features.spec import BuildWindow

pytestmark = pytest.mark.integration

TABLES = [f"features.{name}" for name in VIEWS] + ["features.video_popularity"]


def fill(engine: sa.Engine, events: int = 3_000, days: int = 3) -> datetime:
    """A synthetic, feed-shaped world (sessions, a heavy head of videos); returns its end."""
    return generate_world(engine, events, days=days)


def checksums(engine: sa.Engine, *, created: bool = True) -> dict[str, tuple[int, str]]:
    """Row count and md5 of every feature table's rows in key order (optionally without `created`)."""
    out = {}
    with engine.connect() as conn:
        for table in TABLES:
            columns = [
                c["name"]
                for c in sa.inspect(conn).get_columns(table.split(".")[1], schema="features")
                if created or c["name"] != "created"
            ]
            listed = ", ".join(columns)
            out[table] = tuple(
                conn.execute(
                    sa.text(
                        f"SELECT count(*), md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) "
                        f"FROM (SELECT {listed} FROM {table}) r"
                    )
                ).one()
            )
    return out


def reset(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {', '.join(TABLES)}"))
        conn.execute(sa.text("DELETE FROM features.build_state"))


def test_building_the_same_window_twice_changes_nothing(engine: sa.Engine) -> None:
    end = fill(engine)
    first = build(engine, end, now=end)
    assert all(r.rows_written > 0 for r in first)
    before = checksums(engine)
    again = build(engine, end, now=end)
    assert [(r.up_to_date, r.rows_written) for r in again] == [(True, 0)] * len(VIEWS)
    assert checksums(engine) == before
    # A watermark reset by hand: the window is computed again, and ON CONFLICT DO NOTHING keeps every row.
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM features.build_state"))
    redo = build(engine, end, now=end)
    assert all(r.rows_staged > 0 and r.rows_written == 0 for r in redo)
    assert checksums(engine) == before


def test_steps_give_exactly_the_rows_of_one_build(engine: sa.Engine) -> None:
    end = fill(engine)
    build(engine, end, now=end)
    one_build = checksums(engine, created=False)
    reset(engine)
    # Cuts mid-session, at a midnight, one grain apart, and one hour before the end.
    start = end - timedelta(days=3)
    for cut in (
        start + timedelta(hours=7, minutes=35),
        start + timedelta(days=1),
        start + timedelta(days=1, minutes=5),
        end - timedelta(hours=1),
    ):
        build(engine, cut, now=end)
        assert {built_until(engine, view) for view in VIEWS} == {cut}
    build(engine, end, now=end, jobs=3)  # the last step with views built concurrently
    assert checksums(engine, created=False) == one_build


def test_a_failing_gate_commits_nothing_of_its_view(engine: sa.Engine) -> None:
    end = fill(engine, events=1_000, days=1)
    seen: dict[str, int] = {}

    def gate(conn: sa.Connection, batch: FeatureBatch) -> None:
        staged = conn.execute(sa.text(f"SELECT count(*) FROM ({batch.select_sql()}) b")).scalar_one()
        seen[batch.view] = staged
        assert staged == batch.rows and batch.end == end and batch.start is None
        if batch.view == "video_stats":
            raise RuntimeError("the gate says no")

    with pytest.raises(RuntimeError, match="the gate says no"):
        build(engine, end, gate=gate, now=end)
    assert set(seen) == {"user_stats", "creator_stats", "video_stats"}  # the build stops at the failure
    with engine.connect() as conn:
        counts = {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}
    assert counts["features.user_stats"] == seen["user_stats"] > 0  # views before it stay committed
    assert counts["features.video_stats"] == counts["features.video_popularity"] == 0
    assert built_until(engine, "video_stats") is None
    written = build(engine, end, now=end)  # without the failure it goes through, from the same watermark
    assert {r.view: r.rows_written for r in written}["video_stats"] == seen["video_stats"]


def test_postgres_lost_mid_build_writes_nothing_and_a_rerun_converges(engine: sa.Engine) -> None:
    """The build's server connection is killed while its batch is staged (Postgres going away mid-run)."""
    end = fill(engine, events=1_000, days=1)
    build(engine, end, now=end)
    clean = checksums(engine)
    reset(engine)

    def kill_own_backend(conn: sa.Connection, batch: FeatureBatch) -> None:
        if batch.view == "creator_stats":
            pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            with engine.connect() as other:
                other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    with pytest.raises(StoreUnavailableError, match=r"Lost Postgres while building creator_stats .*nothing"):
        build(engine, end, gate=kill_own_backend, now=end)
    assert built_until(engine, "creator_stats") is None
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM features.creator_stats")).scalar_one() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM features.user_stats")).scalar_one() > 0
    build(engine, end, now=end)  # the re-run resumes from each view's watermark
    assert checksums(engine) == clean  # byte-identical, `created` included


def test_concurrent_views_fail_alone(engine: sa.Engine) -> None:
    end = fill(engine, events=500, days=1)

    def gate(conn: sa.Connection, batch: FeatureBatch) -> None:
        if batch.view == "creator_stats":
            raise RuntimeError("no creators today")

    with pytest.raises(RuntimeError, match="no creators today"):
        build(engine, end, gate=gate, now=end, jobs=4)
    assert built_until(engine, "creator_stats") is None
    assert {built_until(engine, v) for v in ("user_stats", "video_stats", "video_velocity")} == {end}


def test_the_future_is_refused_and_until_is_rounded_to_the_grain(engine: sa.Engine) -> None:
    now = datetime.now(UTC)
    with pytest.raises(FeatureBuildError, match="in the future"):
        build(engine, now + timedelta(minutes=10))
    assert built_until(engine, "user_stats") is None
    moment = datetime(2026, 1, 2, 3, 7, 42, tzinfo=UTC)
    build(engine, moment, views=["video_velocity"], now=moment)
    assert built_until(engine, "video_velocity") == datetime(2026, 1, 2, 3, 5, tzinfo=UTC)
    with pytest.raises(FeatureBuildError, match="Unknown feature view"):
        build(engine, moment, views=["user_stat"], now=moment)


BAD_BATCH = (
    "CREATE TEMP TABLE bad ON COMMIT DROP AS SELECT * FROM (VALUES "
    "(1::bigint, timestamptz '2026-01-01 12:00+00', 1, 0, 1, 0, 4.0::float8, 4.0::float8),"
    "(2, timestamptz '2026-01-03 00:00+00', -1, 0, 1, 0, 4.0, 4.0),"
    "(3, timestamptz '2026-01-01 12:00+00', 1, NULL, 1, 0, 'NaN', -4.0)"
    ") v(video_id, event_timestamp, views_15m, likes_15m, views_1h, likes_1h, velocity, acceleration)"
)


def test_batch_checks_name_the_bad_columns(engine: sa.Engine) -> None:
    view = VIEWS["video_velocity"]
    window = BuildWindow(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
    with engine.begin() as conn:
        conn.execute(sa.text(BAD_BATCH))
        with pytest.raises(FeatureBatchError) as caught:
            check_batch(conn, view, window, "bad")
    problems = caught.value.problems
    assert "1 row(s): views_15m < 0" in problems
    assert "1 row(s): event_timestamp outside the batch window" in problems
    assert "1 row(s): likes_15m is NULL" in problems
    assert "1 row(s): velocity is NaN or infinite" in problems
    assert len(problems) == 4, problems  # a negative acceleration is allowed


def test_feature_tables_match_the_view_definitions(engine: sa.Engine) -> None:
    types = {"BIGINT": "BIGINT", "INTEGER": "INTEGER", "DOUBLE PRECISION": "DOUBLE PRECISION"}
    inspector = sa.inspect(engine)
    for view in VIEWS.values():
        migrated = inspector.get_columns(view.name, schema="features")
        assert [c["name"] for c in migrated] == [
            view.entity,
            "event_timestamp",
            "created",
            *view.column_names,
        ]
        by_name = {c["name"]: c for c in migrated}
        for column in view.columns:
            assert str(by_name[column.name]["type"]) == types[column.sql_type], (view.name, column.name)
        assert not any(c["nullable"] for c in migrated), view.name
        pk = inspector.get_pk_constraint(view.name, schema="features")["constrained_columns"]
        assert pk == [view.entity, "event_timestamp"]
        assert ["event_timestamp"] in [
            i["column_names"] for i in inspector.get_indexes(view.name, schema="features")
        ]


def test_downgrade_drops_the_features_schema(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        migrate.downgrade(empty_database_url, "0001")
        inspector = sa.inspect(engine)
        assert "features" not in inspector.get_schema_names()
        assert "events_user_session_ts" not in {i["name"] for i in inspector.get_indexes("events")}
        migrate.upgrade(empty_database_url)
        assert set(sa.inspect(engine).get_table_names(schema="features")) == {
            *VIEWS,
            "video_popularity",
            "build_state",
        }
    finally:
        engine.dispose()


def test_cli_builds_each_view_and_refuses_the_future(cli_env: dict[str, str], settings) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    result = runner.invoke(features_app, ["build", "--until", "2026-01-01T00:07:00"], env=cli_env)
    assert result.exit_code == 0, result.output
    for name in VIEWS:
        assert name in result.output
    engine = make_engine(str(settings.database_url))
    try:
        assert built_until(engine, "user_stats") == datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    finally:
        engine.dispose()
    again = runner.invoke(
        features_app, ["build", "--until", "2026-01-01T00:05:00Z", "--view", "user_stats"], env=cli_env
    )
    assert again.exit_code == 0 and "up to date" in again.output, again.output
    future = runner.invoke(features_app, ["build", "--until", "2999-01-01T00:00:00Z"], env=cli_env)
    assert isinstance(future.exception, FeatureBuildError)
