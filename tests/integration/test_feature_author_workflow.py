"""A feature author's path: define a feature in feature_repo/, add it to a FeatureService, apply — and it
shows up in training sets and in serving's online reads with no other code change."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import redis
import sqlalchemy as sa

from foryou import feast_repo
from foryou.settings import Settings
from foryou.stores import ensure_stores
from pipelines.features.build import build
from pipelines.materialize.materialize import materialize
from serving.online_features import OnlineFeatureReader
from worldsim import WorldConfig, simulate_into_database

pytestmark = pytest.mark.integration

START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
UNTIL = START + dt.timedelta(days=2)
REDIS_DB = 9

NEW_VIEW = """

engagement_source = PostgreSQLSource(
    name="user_engagement_source",
    query="SELECT user_id, event_timestamp, created, "
    "(likes_7d + shares_7d + saves_7d)::float8 AS engaged_7d FROM features.user_stats",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)

user_engagement = FeatureView(
    name="user_engagement",
    entities=[user],
    ttl=timedelta(days=90),
    schema=[Field(name="engaged_7d", dtype=Float64)],
    source=engagement_source,
    online=True,
)
"""


def test_a_new_feature_reaches_training_and_serving(
    settings: Settings, engine: sa.Engine, tmp_path: Path
) -> None:
    simulate_into_database(
        engine,
        WorldConfig(seed=5, n_users=100, n_creators=10, n_videos=200, days=2, start=START),
        settings.home,
        name="author",
    )
    build(engine, until=UNTIL)
    redis_url = str(settings.redis_url).rsplit("/", 1)[0] + f"/{REDIS_DB}"
    settings = settings.model_copy(update={"redis_url": redis_url})
    redis.Redis.from_url(redis_url).flushdb()
    stores = ensure_stores(settings)

    repo = tmp_path / "feature_repo"
    shutil.copytree(feast_repo.FEATURE_REPO, repo, ignore=shutil.ignore_patterns("__pycache__"))
    views = repo / "views.py"
    views.write_text(
        views.read_text().replace(
            "from sources import",
            "from feast.infra.offline_stores.contrib.postgres_offline_store."
            "postgres_source import PostgreSQLSource\nfrom sources import",
        )
        + NEW_VIEW
    )
    services = repo / "services.py"
    services.write_text(
        services.read_text()
        .replace("from views import creator_stats,", "from views import creator_stats, user_engagement,")
        .replace(
            "features=[user_stats, video_stats, video_velocity, creator_stats, request_time],",
            "features=[user_stats, video_stats, video_velocity, creator_stats, request_time,\n"
            "              user_engagement],",
        )
    )
    applied = feast_repo.apply(settings, stores, repo_path=repo)
    assert "user_engagement" in applied["feature_views"]

    with engine.connect() as conn:
        latest = conn.execute(
            sa.text(
                "SELECT DISTINCT ON (user_id) user_id, event_timestamp, "
                "likes_7d + shares_7d + saves_7d AS engaged "
                "FROM features.user_stats WHERE event_timestamp <= :until AND likes_7d > 0 "
                "ORDER BY user_id, event_timestamp DESC, created DESC LIMIT 5"
            ),
            {"until": UNTIL},
        ).all()
    assert latest, "the world should have users with likes"

    store = feast_repo.feature_store(settings, stores)
    entity_df = pd.DataFrame(
        {
            "user_id": [r.user_id for r in latest],
            "video_id": [0] * len(latest),
            "creator_id": [0] * len(latest),
            "event_timestamp": [r.event_timestamp for r in latest],
            "request_ts_s": [r.event_timestamp.timestamp() for r in latest],
        }
    )
    training = (
        store.get_historical_features(
            entity_df=entity_df, features=store.get_feature_service("reranker"), full_feature_names=True
        )
        .to_df()
        .sort_values("user_id")
    )
    expected = {r.user_id: float(r.engaged) for r in latest}
    assert dict(zip(training["user_id"], training["user_engagement__engaged_7d"], strict=True)) == expected

    materialize(store, stores.database_url, end=UNTIL, start=START - dt.timedelta(days=30))
    reader = OnlineFeatureReader(store, "reranker")
    try:
        assert "user_engagement__engaged_7d" in reader.names
        with engine.connect() as conn:
            online_truth = dict(
                conn.execute(
                    sa.text(
                        "SELECT DISTINCT ON (user_id) user_id, likes_7d + shares_7d + saves_7d "
                        "FROM features.user_stats "
                        "WHERE event_timestamp <= :until ORDER BY user_id, event_timestamp DESC, created DESC"
                    ),
                    {"until": UNTIL},
                ).all()
            )
        for user_id in expected:
            features = reader.read(user_id, np.array([0, 1]), np.array([0, 0]), UNTIL.timestamp())
            column = features.names.index("user_engagement__engaged_7d")
            assert features.values[:, column].tolist() == [float(online_truth[user_id])] * 2
    finally:
        reader.close()
