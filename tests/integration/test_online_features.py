"""OnlineFeatureReader vs stock get_online_features on real Redis; stock reads after our materialize."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
import redis
import sqlalchemy as sa

from foryou import feast_repo
from foryou.settings import Settings
from foryou.stores import StoreUrls, ensure_stores
from pipelines.features.build import build
from pipelines.materialize.materialize import materialize
from serving.online_features import OnlineFeatureReader
from worldsim import WorldConfig, simulate_into_database

pytestmark = pytest.mark.integration

START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
UNTIL = START + dt.timedelta(days=2)
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
OURS_DB, STOCK_DB = 12, 13  # this module's own Redis databases
MISSING_VIDEO, MISSING_CREATOR, MISSING_USER = 10**15 + 1, 10**15 + 2, 10**15 + 3


def _with_db(settings: Settings, db: int) -> tuple[Settings, StoreUrls]:
    url = str(settings.redis_url).rsplit("/", 1)[0] + f"/{db}"
    s = settings.model_copy(update={"redis_url": url})
    redis.Redis.from_url(url).flushdb()
    return s, ensure_stores(s)


@pytest.fixture
def world(settings: Settings, engine: sa.Engine, database_url: str):  # type: ignore[no-untyped-def]
    simulate_into_database(
        engine,
        WorldConfig(seed=0, n_users=200, n_creators=20, n_videos=500, days=2, start=START),
        settings.home,
        name="t",
    )
    build(engine, until=UNTIL)
    ours, stock = _with_db(settings, OURS_DB), _with_db(settings, STOCK_DB)
    feast_repo.apply(*ours)
    materialize(feast_repo.feature_store(*ours), database_url, end=UNTIL, start=EPOCH)
    feast_repo.feature_store(*stock).materialize(
        EPOCH, UNTIL, feature_views=["creator_stats", "user_stats", "video_stats", "video_velocity"]
    )
    with engine.connect() as conn:
        videos = conn.execute(
            sa.text(
                "SELECT DISTINCT ON (video_id) video_id, creator_id::int8 "
                "FROM features.video_stats ORDER BY video_id"
            )
        ).all()
        users = (
            conn.execute(sa.text("SELECT DISTINCT user_id FROM features.user_stats ORDER BY 1"))
            .scalars()
            .all()
        )
    yield ours, stock, videos, users
    for s, _ in (ours, stock):
        redis.Redis.from_url(str(s.redis_url)).flushdb()


def stock_read(store, user_id, video_ids, creator_ids, now):  # type: ignore[no-untyped-def]
    rows = [
        {"user_id": int(user_id), "video_id": int(v), "creator_id": int(c), "request_ts_s": now}
        for v, c in zip(video_ids, creator_ids, strict=True)
    ]
    return store.get_online_features(
        features=store.get_feature_service("reranker"), entity_rows=rows, full_feature_names=True
    ).to_dict()


def as_float(values: list) -> np.ndarray:  # type: ignore[type-arg]
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def test_reader_equals_stock_for_every_feature_and_candidate(world) -> None:  # type: ignore[no-untyped-def]
    (s_ours, u_ours), _, videos, users = world
    store = feast_repo.feature_store(s_ours, u_ours)
    reader = OnlineFeatureReader(store)
    service = store.get_feature_service("reranker")
    assert len(reader.names) == sum(len(p.features) for p in service.feature_view_projections) == 98
    rng = np.random.default_rng(1)
    pick = rng.choice(len(videos), size=min(300, len(videos)), replace=False)
    video_ids = np.array([videos[i][0] for i in pick] + [MISSING_VIDEO, videos[pick[0]][0]])
    creator_ids = np.array([videos[i][1] for i in pick] + [MISSING_CREATOR, videos[pick[0]][1]])
    for user_id, now in [
        (users[0], UNTIL.timestamp()),
        (users[-1], UNTIL.timestamp() - 3 * 86_400 + 1234.5),
        (MISSING_USER, 1_767_830_400.0),
    ]:
        ours = reader.read(user_id, video_ids, creator_ids, now)
        stock = stock_read(store, user_id, video_ids, creator_ids, now)
        assert ours.values.shape == (len(video_ids), 98)
        for name in reader.names:
            np.testing.assert_array_equal(ours.column(name), as_float(stock[name]), err_msg=name)
        # the missing candidate: every stored feature NaN, age −1 as the ODFV defines it
        missing = ours.values[-2]
        assert np.isnan(missing[[j for j, n in enumerate(ours.names) if n.startswith("video_")]]).all()
        assert ours.column("request_time__video_age_hours")[-2] == -1.0
        assert not np.isnan(ours.column("video_stats__views_total")[:-2]).any()
    reader.close()


def test_stock_reads_after_our_materialize_equal_reads_after_stock_materialize(world) -> None:  # type: ignore[no-untyped-def]
    (s_ours, u_ours), (s_stock, u_stock), videos, users = world
    ours_store, stock_store = (
        feast_repo.feature_store(s_ours, u_ours),
        feast_repo.feature_store(s_stock, u_stock),
    )
    video_ids = [v for v, _ in videos[:250]] + [MISSING_VIDEO]
    creator_ids = [c for _, c in videos[:250]] + [MISSING_CREATOR]
    now = UNTIL.timestamp()
    for user_id in users[:3]:
        a = stock_read(ours_store, user_id, video_ids, creator_ids, now)
        b = stock_read(stock_store, user_id, video_ids, creator_ids, now)
        assert a.keys() == b.keys() and len(a) == 3 + 98
        for name in a:
            assert a[name] == b[name] or np.array_equal(
                as_float(a[name]), as_float(b[name]), equal_nan=True
            ), name


def test_values_the_fast_parse_does_not_take_are_decoded_generically(world) -> None:  # type: ignore[no-untyped-def]
    """An int64 ValueProto and an empty one in Redis: the read falls back to hiredis + the generic decode."""
    from feast.infra.online_stores.helpers import _mmh3
    from feast.protos.feast.types.Value_pb2 import Value

    from pipelines.materialize.redis_codec import redis_key_list

    (s_ours, u_ours), _, videos, users = world
    store = feast_repo.feature_store(s_ours, u_ours)
    reader = OnlineFeatureReader(store)
    video_ids = np.array([v for v, _ in videos[:50]])
    creator_ids = np.array([c for _, c in videos[:50]])
    before = reader.read(users[0], video_ids, creator_ids, UNTIL.timestamp())
    client = redis.Redis.from_url(u_ours.redis_url)
    key = redis_key_list("video_id", store.project, [int(video_ids[3])])[0]
    client.hset(key, _mmh3("video_stats:views_total"), Value(int64_val=123456).SerializeToString())
    client.hset(key, _mmh3("video_stats:like_rate"), b"")
    after = reader.read(users[0], video_ids, creator_ids, UNTIL.timestamp())
    want = before.values.copy()
    want[3, before.names.index("video_stats__views_total")] = 123456.0
    want[3, before.names.index("video_stats__like_rate")] = np.nan
    np.testing.assert_array_equal(after.values, want)
    assert not np.isnan(before.column("video_stats__like_rate")[3])
    reader.close()


def test_the_bench_reports_ours_and_stock_from_one_run(world) -> None:  # type: ignore[no-untyped-def]
    from pipelines.bench.online_bench import run_online_bench

    (settings, stores), _, _, _ = world
    results = run_online_bench(
        settings, stores, candidates=40, requests=10, db=14, end=UNTIL, ours_per_request=3
    )
    assert [r.metric for r in results] == [
        "online features p50 (40 candidates)",
        "online features p99 (40 candidates)",
    ]
    for r in results:
        assert r.unit == "ms" and r.ours > 0 and r.baseline > 0 and not r.higher_is_better
        assert r.ratio == pytest.approx(r.baseline / r.ours)
        assert r.details["ours_reads"] == 30 and r.details["features"] == 98
        record = json.loads(r.as_json())
        assert {"metric", "unit", "ours", "baseline", "ratio"} <= set(record)
    assert (
        redis.Redis.from_url(str(settings.redis_url).rsplit("/", 1)[0] + "/14").dbsize() == 0
    )  # scratch db flushed
