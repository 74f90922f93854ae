"""The Feast repo over real Postgres + Redis: apply, definitions checked against tables, stock reads agree."""

from __future__ import annotations

import datetime as dt
import math
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from foryou import feast_repo
from foryou.errors import ConfigError
from foryou.settings import Settings
from foryou.stores import StoreUrls, ensure_stores
from pipelines.features.build import build
from worldsim import WorldConfig, simulate_into_database

pytestmark = pytest.mark.integration

START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
UNTIL = START + dt.timedelta(days=2)
REDIS_DB = 14  # this module's own Redis database: stock materialize writes there


@pytest.fixture
def world(settings: Settings, engine: sa.Engine) -> tuple[Settings, StoreUrls]:
    simulate_into_database(
        engine,
        WorldConfig(seed=3, n_users=120, n_creators=15, n_videos=300, days=2, start=START),
        settings.home,
        name="feast-test",
    )
    build(engine, until=UNTIL)
    redis_url = settings.redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"  # type: ignore[union-attr]
    settings = settings.model_copy(update={"redis_url": redis_url})
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    return settings, ensure_stores(settings)


def _copy_repo(tmp_path: Path) -> Path:
    target = tmp_path / "feature_repo"
    shutil.copytree(feast_repo.FEATURE_REPO, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_apply_registers_views_services_and_stock_reads_match_sql(
    world: tuple[Settings, StoreUrls], engine: sa.Engine
) -> None:
    settings, stores = world
    applied = feast_repo.apply(settings, stores)
    assert applied["feature_views"] == ["creator_stats", "user_stats", "video_stats", "video_velocity"]
    assert applied["feature_services"] == ["first_stage", "reranker", "two_tower_user"]
    store = feast_repo.feature_store(settings, stores)
    store.materialize(
        dt.datetime(2000, 1, 1, tzinfo=dt.UTC), UNTIL, feature_views=["user_stats", "video_stats"]
    )
    with engine.connect() as conn:
        latest = conn.execute(
            sa.text(
                "SELECT DISTINCT ON (user_id) user_id, views_24h, like_rate_7d FROM features.user_stats "
                "ORDER BY user_id, event_timestamp DESC, created DESC LIMIT 20"
            )
        ).all()
    rows = [{"user_id": r.user_id} for r in latest]
    online = store.get_online_features(
        features=["user_stats:views_24h", "user_stats:like_rate_7d"], entity_rows=rows
    ).to_dict()
    assert online["views_24h"] == [float(r.views_24h) for r in latest]
    assert all(
        math.isclose(a, b)
        for a, b in zip(online["like_rate_7d"], [r.like_rate_7d for r in latest], strict=True)
    )


def test_a_field_missing_from_its_table_is_refused_by_name(
    world: tuple[Settings, StoreUrls], tmp_path: Path
) -> None:
    settings, stores = world
    repo = _copy_repo(tmp_path)
    views = repo / "views.py"
    views.write_text(views.read_text().replace('["active_days_7d",', '["no_such_column", "active_days_7d",'))
    with pytest.raises(ConfigError) as info:
        feast_repo.apply(settings, stores, repo_path=repo)
    assert "view user_stats: field 'no_such_column' is not a column of" in str(info.value)
    assert "features.user_stats" in str(info.value)


def test_a_service_naming_an_unknown_feature_is_a_config_error(
    world: tuple[Settings, StoreUrls], tmp_path: Path
) -> None:
    settings, stores = world
    repo = _copy_repo(tmp_path)
    services = repo / "services.py"
    services.write_text(services.read_text().replace('"followers", "is_new_creator"', '"followers", "fans"'))
    with pytest.raises(ConfigError, match="fans"):
        feast_repo.apply(settings, stores, repo_path=repo)
