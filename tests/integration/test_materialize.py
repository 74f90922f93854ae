"""`foryou materialize` on real Postgres + Redis: byte-identical to stock, incremental, idempotent."""

from __future__ import annotations

import datetime as dt

import pytest
import redis
import sqlalchemy as sa

from foryou import feast_repo
from foryou.settings import Settings
from foryou.stores import StoreUrls, ensure_stores
from pipelines.features.build import build
from pipelines.materialize import materialize as mat
from worldsim import WorldConfig, simulate_into_database

pytestmark = pytest.mark.integration

START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
UNTIL = START + dt.timedelta(days=2)
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
OURS_DB, STOCK_DB = 10, 11  # this module's own Redis databases


def _with_db(settings: Settings, db: int) -> tuple[Settings, StoreUrls]:
    url = str(settings.redis_url).rsplit("/", 1)[0] + f"/{db}"
    s = settings.model_copy(update={"redis_url": url})
    redis.Redis.from_url(url).flushdb()
    return s, ensure_stores(s)


@pytest.fixture
def world(settings: Settings, engine: sa.Engine):  # type: ignore[no-untyped-def]
    simulate_into_database(
        engine,
        WorldConfig(seed=0, n_users=150, n_creators=15, n_videos=300, days=2, start=START),
        settings.home,
        name="mat-test",
    )
    build(engine, until=UNTIL)
    ours = _with_db(settings, OURS_DB)
    stock = _with_db(settings, STOCK_DB)
    feast_repo.apply(*ours)  # one registry (same home) for both
    yield ours, stock
    for s, _ in (ours, stock):
        redis.Redis.from_url(str(s.redis_url)).flushdb()


def dump(redis_url: str) -> dict[bytes, dict[bytes, bytes]]:
    client = redis.Redis.from_url(redis_url)
    return {key: client.hgetall(key) for key in client.scan_iter(count=1000)}


VIEWS = ["creator_stats", "user_stats", "video_stats", "video_velocity"]


def test_ours_writes_exactly_the_bytes_stock_writes(world, database_url: str) -> None:  # type: ignore[no-untyped-def]
    (s_ours, u_ours), (s_stock, u_stock) = world
    stock = feast_repo.feature_store(s_stock, u_stock)
    stock.materialize(EPOCH, UNTIL, feature_views=VIEWS)
    ours = feast_repo.feature_store(s_ours, u_ours)
    results = mat.materialize(ours, database_url, end=UNTIL, start=EPOCH)
    assert [r.view for r in results] == VIEWS
    assert all(r.rows_read > 0 and r.rows_written == r.rows_read for r in results)
    want, got = dump(u_stock.redis_url), dump(u_ours.redis_url)
    assert len(want) > 400
    assert got == want
    # the registry records the interval the way stock does
    ours.refresh_registry()
    for name in VIEWS:
        fv = ours.get_feature_view(name)
        assert fv.most_recent_end_time == UNTIL
        assert (EPOCH, UNTIL) in [(s, e) for s, e in fv.materialization_intervals]


def test_incremental_interoperates_with_stock_and_a_rerun_writes_nothing(world, database_url: str) -> None:  # type: ignore[no-untyped-def]
    (s_ours, u_ours), (s_stock, u_stock) = world
    mid = START + dt.timedelta(days=1, hours=5)
    ours = feast_repo.feature_store(s_ours, u_ours)
    mat.materialize(ours, database_url, end=mid, start=EPOCH)
    # stock materialize-incremental continues from our watermark
    ours = feast_repo.feature_store(s_ours, u_ours)
    assert ours.get_feature_view("user_stats").most_recent_end_time == mid
    ours.materialize_incremental(UNTIL, feature_views=VIEWS)
    # and ours continues from stock's: nothing left to write
    again = mat.materialize(ours, database_url, end=UNTIL)
    assert all(r.start == UNTIL and r.rows_written == 0 for r in again)
    # same final state as one clean stock run
    stock = feast_repo.feature_store(s_stock, u_stock)
    stock.materialize(EPOCH, UNTIL, feature_views=VIEWS)
    assert dump(u_ours.redis_url) == dump(u_stock.redis_url)


def test_rows_older_than_what_redis_holds_are_not_written(
    world, database_url: str, engine: sa.Engine
) -> None:  # type: ignore[no-untyped-def]
    (s_ours, u_ours), _ = world
    store = feast_repo.feature_store(s_ours, u_ours)
    mat.materialize(store, database_url, end=UNTIL, start=EPOCH, views=["user_stats"])
    with engine.connect() as conn:
        newer_uid, older_uid = conn.execute(
            sa.text("SELECT DISTINCT user_id FROM features.user_stats ORDER BY user_id LIMIT 2")
        ).scalars()
    client = redis.Redis.from_url(u_ours.redis_url)
    from feast.infra.online_stores.helpers import _mmh3

    field = _mmh3("user_stats:views_28d")
    newer_key, older_key = mat.redis_key_list("user_id", "foryou", [newer_uid, older_uid])
    future = mat.encode_timestamp(int((UNTIL + dt.timedelta(days=1)).timestamp()), 0)
    past = mat.encode_timestamp(int(EPOCH.timestamp()), 0)
    client.hset(newer_key, mapping={field: mat.encode_double(-7.0), "_ts:user_stats": future})
    client.hset(older_key, mapping={field: mat.encode_double(-7.0), "_ts:user_stats": past})
    result = mat.materialize(store, database_url, end=UNTIL, start=EPOCH, views=["user_stats"])[0]
    assert result.rows_written == 1 and result.rows_skipped == result.rows_read - 1
    assert client.hget(newer_key, field) == mat.encode_double(-7.0)  # newer in Redis: kept
    assert client.hget(older_key, field) != mat.encode_double(-7.0)  # older in Redis: overwritten


def test_a_redis_failure_mid_run_keeps_the_watermark_and_a_rerun_converges(  # type: ignore[no-untyped-def]
    world, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (s_ours, u_ours), (s_stock, u_stock) = world
    real = mat._roundtrip
    calls = {"n": 0}

    def failing(client, payload, n):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 4:  # a real Redis error reply: the connection is asked for an unknown command
            return real(client, b"*1\r\n$13\r\nNO_SUCH_CMD_X\r\n", 1)
        return real(client, payload, n)

    monkeypatch.setattr(mat, "_roundtrip", failing)
    monkeypatch.setattr(mat, "BATCH_ROWS", 50)
    store = feast_repo.feature_store(s_ours, u_ours)
    with pytest.raises(redis.ResponseError):
        mat.materialize(store, database_url, end=UNTIL, start=EPOCH, views=["video_stats"])
    store = feast_repo.feature_store(s_ours, u_ours)
    assert store.get_feature_view("video_stats").most_recent_end_time is None
    partial = dump(u_ours.redis_url)
    assert len(partial) > 0
    monkeypatch.setattr(mat, "_roundtrip", real)
    mat.materialize(store, database_url, end=UNTIL, start=EPOCH, views=["video_stats"])
    feast_repo.feature_store(s_stock, u_stock).materialize(EPOCH, UNTIL, feature_views=["video_stats"])
    assert dump(u_ours.redis_url) == dump(u_stock.redis_url)
    assert (
        feast_repo.feature_store(s_ours, u_ours).get_feature_view("video_stats").most_recent_end_time == UNTIL
    )


def _cli(args: list[str], env: dict[str, str]):  # type: ignore[no-untyped-def]
    """Our command on a bare Typer app (the lead wires it into `foryou`), run in-process with this env."""
    import typer
    from typer.testing import CliRunner

    from foryou.cli import materialize_cmd
    from foryou.settings import get_settings

    app = typer.Typer()
    materialize_cmd.register(app)

    @app.command("noop", hidden=True)
    def _noop() -> None:  # a second command keeps `materialize` a named subcommand
        pass

    get_settings.cache_clear()
    return CliRunner().invoke(app, args, env=env, catch_exceptions=False)


def test_cli_materializes_and_reports_json(world, cli_env: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    import json

    (s_ours, _), _ = world
    env = dict(cli_env, FORYOU_REDIS_URL=str(s_ours.redis_url))
    args = ["materialize", "--view", "creator_stats", "--json", "--end", UNTIL.isoformat()]
    first = _cli([*args, "--start", EPOCH.isoformat()], env)
    assert first.exit_code == 0, first.output
    rec = json.loads(first.stdout.strip().splitlines()[-1])
    assert rec["view"] == "creator_stats" and rec["rows_written"] == rec["rows_read"] > 0
    second = _cli(args, env)
    assert second.exit_code == 0, second.output
    rec2 = json.loads(second.stdout.strip().splitlines()[-1])
    assert rec2["rows_written"] == 0 and rec2["start"] == UNTIL.isoformat()


def test_the_bench_times_ours_and_stock_on_the_same_rows_and_checks_their_bytes(world) -> None:  # type: ignore[no-untyped-def]
    from pipelines.bench.materialize_bench import run_materialize_bench

    (settings, stores), _ = world
    [result] = run_materialize_bench(settings, stores, end=UNTIL, stock_db=STOCK_DB, ours_db=OURS_DB)
    assert result.metric == "materialize throughput" and result.unit == "rows/s" and result.higher_is_better
    assert result.details["redis_identical"] is True and result.details["rows"] > 0
    rows = result.details["rows"]  # seconds are rounded to ms in the details
    assert result.ours == pytest.approx(rows / result.details["ours_seconds"], rel=0.05)
    assert result.baseline == pytest.approx(rows / result.details["stock_seconds"], rel=0.05)
    assert result.ratio == pytest.approx(result.ours / result.baseline)
    assert set(result.details["per_view"]) == set(result.details["views"])
    for db in (OURS_DB, STOCK_DB):  # the scratch databases are left empty
        assert redis.Redis.from_url(str(settings.redis_url).rsplit("/", 1)[0] + f"/{db}").dbsize() == 0
