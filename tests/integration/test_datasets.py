"""Training sets over real Postgres + Redis: labels, point-in-time correct features, input validation."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from foryou import feast_repo
from foryou.errors import ConfigError
from foryou.settings import Settings
from foryou.stores import StoreUrls, ensure_stores
from pipelines.datasets.build import DatasetError, build_dataset
from pipelines.datasets.labels import RANKING_LABELS, RETRIEVAL_LABELS
from pipelines.features.build import build
from tests.conftest import run_cli
from worldsim import WorldConfig, simulate_into_database

pytestmark = pytest.mark.integration

START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
UNTIL = START + dt.timedelta(days=1)
SINCE = START + dt.timedelta(hours=2)
FEATURE_TABLES = ("user_stats", "creator_stats", "video_stats", "video_velocity")


@pytest.fixture
def world(settings: Settings, engine: sa.Engine) -> tuple[Settings, StoreUrls]:
    simulate_into_database(
        engine,
        WorldConfig(seed=0, n_users=200, n_creators=20, n_videos=500, days=2, start=START),
        settings.home,
        name="t",
    )
    build(engine, until=UNTIL)
    stores = ensure_stores(settings)
    feast_repo.apply(settings, stores)
    return settings, stores


def _ranking(world: tuple[Settings, StoreUrls], engine: sa.Engine, out: Path, **kw) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    settings, stores = world
    result = build_dataset(settings, stores, engine, task="ranking", until=UNTIL, since=SINCE, out=out, **kw)
    frame = pd.read_parquet(out)
    assert len(frame) == result.rows
    return frame


def _feature_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if "__" in c]


def _same(a: object, b: object) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isclose(a, b, rel_tol=1e-12))


def test_ranking_rows_labels_and_horizon(
    world: tuple[Settings, StoreUrls], engine: sa.Engine, tmp_path: Path
) -> None:
    frame = _ranking(world, engine, tmp_path / "r.parquet")
    horizon = pd.Timedelta(hours=1)
    ts = pd.to_datetime(frame["event_timestamp"], utc=True)
    assert ts.min() > pd.Timestamp(SINCE) and ts.max() + horizon <= pd.Timestamp(UNTIL)
    with engine.connect() as conn:
        expected = conn.execute(
            sa.text("SELECT count(*) FROM events WHERE event_type = 'impression' AND ts > :s AND ts <= :u"),
            {"s": SINCE, "u": UNTIL - dt.timedelta(hours=1)},
        ).scalar_one()
    assert len(frame) == expected and frame["impression_id"].is_unique
    for label in RANKING_LABELS:
        assert frame[label].notna().all()
    assert 0 < frame["like"].mean() < 1 and 0 < frame["long_watch"].mean() < 1
    assert ((frame["watch_time_s"] > 0) | (frame["long_watch"] == 0)).all()
    # The request-time ODFV ran on the joined rows: request_ts_s is the impression time.
    assert np.allclose(
        frame["request_ts_s"], (ts - pd.Timestamp(0, tz="UTC")).dt.total_seconds(), rtol=0, atol=1e-3
    )
    assert frame["request_time__hour_of_day"].eq(ts.dt.hour.astype(float)).all()
    # Labels recomputed naively in Python for a sample agree with the SQL.
    with engine.connect() as conn:
        events = pd.read_sql(
            sa.text(
                "SELECT user_id, video_id, event_type, ts, watch_fraction, dwell_ms FROM events "
                "WHERE ts > :s AND ts <= :u"
            ),
            conn,
            params={"s": SINCE, "u": UNTIL},
        )
    events["ts"] = pd.to_datetime(events["ts"], utc=True)
    imps = events[events.event_type == "impression"]
    for row in frame.sample(min(300, len(frame)), random_state=1).itertuples():
        t = (
            pd.Timestamp(row.event_timestamp, tz="UTC")
            if pd.Timestamp(row.event_timestamp).tzinfo is None
            else pd.Timestamp(row.event_timestamp)
        )
        same = events[(events.user_id == row.user_id) & (events.video_id == row.video_id)]
        later_imps = imps[(imps.user_id == row.user_id) & (imps.video_id == row.video_id) & (imps.ts > t)]
        end = min([t + horizon, *later_imps.ts.tolist()])
        window = same[(same.ts > t) & (same.ts <= end) & (same.event_type != "impression")]
        window = window[window.ts < end] if len(later_imps) and end == later_imps.ts.min() else window
        assert row.like == int((window.event_type == "like").any())
        assert row.long_watch == int(((window.event_type == "view") & (window.watch_fraction >= 0.75)).any())
        assert math.isclose(
            row.watch_time_s, window.loc[window.event_type == "view", "dwell_ms"].sum() / 1000
        )


def test_features_are_point_in_time_and_ignore_later_events(
    world: tuple[Settings, StoreUrls], engine: sa.Engine, tmp_path: Path
) -> None:
    before = _ranking(world, engine, tmp_path / "before.parquet")
    # Feast's own join costs seconds per hundred rows on Postgres: it gets the first rows by time.
    before_feast = _ranking(world, engine, tmp_path / "before_feast.parquet", engine_kind="feast", limit=300)
    ts = pd.to_datetime(before["event_timestamp"], utc=True)
    before["ts"] = ts
    last_user = before.groupby("user_id")["ts"].max()
    last_video = before.groupby("video_id")["ts"].max()
    last_creator = before.groupby("creator_id")["ts"].max()
    minute = pd.Timedelta(minutes=1)
    with engine.begin() as conn:
        # Fresh entities that appear in no row, so only the perturbed entity's own features could move.
        conn.execute(
            sa.text("INSERT INTO creators (creator_id, joined_at) VALUES (999999, :t)"), {"t": START}
        )
        conn.execute(
            sa.text(
                "INSERT INTO videos (video_id, creator_id, uploaded_at, duration_s) "
                "VALUES (999999, 999999, :t, 30)"
            ),
            {"t": START},
        )
        conn.execute(
            sa.text("INSERT INTO users (user_id, region, signup_at) VALUES (999999, 'us', :t)"), {"t": START}
        )
        extra: list[dict[str, object]] = []

        def add(user: int, video: int, at: pd.Timestamp, kind: str) -> None:
            extra.append(
                dict(
                    event_id=f"pit-{len(extra)}",
                    user_id=user,
                    video_id=video,
                    event_type=kind,
                    ts=at.to_pydatetime(),
                    dwell_ms=30000 if kind == "view" else None,
                    watch_fraction=1.0 if kind == "view" else None,
                    session_id="pit",
                    request_id="pit",
                )
            )

        for user, last in last_user.items():  # the user's activity jumps a minute after their last row
            for _ in range(5):
                add(int(user), 999999, last + minute, "view")
                add(int(user), 999999, last + minute, "like")
        for video, last in last_video.items():  # the video's (and creator's) engagement jumps likewise
            creator = int(before.loc[before.video_id == video, "creator_id"].iloc[0])
            at = max(last, last_creator[creator]) + minute
            add(999999, int(video), at, "view")
            add(999999, int(video), at, "like")
        # A row that is the last of its user, video and creator gets a like of its own: its label changes.
        last_rows = before[
            (before.ts == before.user_id.map(last_user))
            & (before.ts == before.video_id.map(last_video))
            & (before.ts == before.creator_id.map(last_creator))
            & (before["like"] == 0)
        ]
        for row in last_rows.itertuples():
            add(int(row.user_id), int(row.video_id), row.ts + minute, "like")
        conn.execute(
            sa.text(
                "INSERT INTO events (event_id, user_id, video_id, event_type, ts, dwell_ms, watch_fraction, "
                "session_id, request_id) VALUES (:event_id, :user_id, :video_id, :event_type, :ts, "
                ":dwell_ms, :watch_fraction, :session_id, :request_id)"
            ),
            extra,
        )
        # Rebuild every feature table from scratch and further than before, so the new events are in them.
        for table in FEATURE_TABLES:
            conn.execute(sa.text(f"TRUNCATE features.{table}"))
        conn.execute(sa.text("DELETE FROM features.build_state"))
    build(engine, until=UNTIL + dt.timedelta(hours=12))
    with engine.connect() as conn:  # the perturbation reached the feature tables
        moved = conn.execute(sa.text("SELECT max(likes_1h) FROM features.user_stats")).scalar_one()
    assert moved >= 5

    after = _ranking(world, engine, tmp_path / "after.parquet")
    after_feast = _ranking(world, engine, tmp_path / "after_feast.parquet", engine_kind="feast", limit=300)
    for old, new in ((before, after), (before_feast, after_feast)):
        assert old["impression_id"].tolist() == new["impression_id"].tolist()
        columns = _feature_columns(old)
        assert len(columns) > 90 and columns == _feature_columns(new)
        changed = [
            (row, col)
            for col in columns
            for row, (a, b) in enumerate(zip(old[col].tolist(), new[col].tolist(), strict=True))
            if not _same(a, b)
        ]
        assert changed == [], f"{len(changed)} feature cells changed, first {changed[:5]}"
    if len(last_rows):
        changed_labels = after.set_index("impression_id").loc[last_rows.impression_id, "like"]
        assert (changed_labels == 1).all()


def test_user_features_equal_latest_available_row_at_the_row_time(
    world: tuple[Settings, StoreUrls], engine: sa.Engine, tmp_path: Path
) -> None:
    """filter_by_created_timestamp (the default): the latest row whose build window had closed by then."""
    frame = _ranking(world, engine, tmp_path / "r.parquet")
    sample = frame.sample(min(200, len(frame)), random_state=2)
    user_cols = [c for c in frame.columns if c.startswith("user_stats__")]
    with engine.connect() as conn:
        for row in sample.itertuples(index=False):
            row = row._asdict()
            latest = (
                conn.execute(
                    sa.text(
                        "SELECT * FROM features.user_stats WHERE user_id = :u AND event_timestamp <= :t "
                        "AND created <= :t "
                        # the view's TTL (90 days): an older row (a dormant user's signup row) is not used
                        "AND event_timestamp >= CAST(:t AS timestamptz) - interval '90 days' "
                        "ORDER BY event_timestamp DESC, created DESC LIMIT 1"
                    ),
                    {"u": row["user_id"], "t": row["event_timestamp"]},
                )
                .mappings()
                .first()
            )
            for col in user_cols:
                expected = None if latest is None else float(latest[col.removeprefix("user_stats__")])
                assert _same(row[col], expected), (row["user_id"], row["event_timestamp"], col)
    # not vacuous: most rows have user features (the rest: dormant users whose only row is past the TTL)
    assert frame["user_stats__views_28d"].notna().mean() > 0.5


def test_created_is_the_end_of_the_build_window(engine: sa.Engine, world: tuple[Settings, StoreUrls]) -> None:
    with engine.connect() as conn:
        for table in FEATURE_TABLES:
            wrong = conn.execute(
                sa.text(
                    f"SELECT count(*) FROM features.{table} WHERE created < event_timestamp "
                    "OR created >= event_timestamp + interval '5 minutes' "
                    "OR extract(epoch FROM created)::bigint % 300 <> 0"
                )
            ).scalar_one()
            assert wrong == 0, table


@pytest.mark.parametrize("filter_created", [True, False])
def test_feast_join_equals_the_sql_join(
    world: tuple[Settings, StoreUrls], engine: sa.Engine, tmp_path: Path, filter_created: bool
) -> None:
    """Cell for cell, every view and the on-demand view, with and without filter_by_created_timestamp.

    An hour of user_stats rows is marked as written a day late (a late correction): with the flag those
    rows are invisible to the training rows of that hour, which see the last earlier row instead.
    """
    with engine.begin() as conn:
        late = conn.execute(
            sa.text(
                "UPDATE features.user_stats SET created = created + interval '1 day' "
                "WHERE event_timestamp > :s AND event_timestamp <= :s + interval '1 hour'"
            ),
            {"s": SINCE},
        ).rowcount
    assert late > 0
    kw = dict(limit=300, filter_by_created_timestamp=filter_created)
    by_feast = _ranking(world, engine, tmp_path / "feast.parquet", engine_kind="feast", **kw)
    by_sql = _ranking(world, engine, tmp_path / "sql.parquet", engine_kind="sql", **kw)
    assert by_sql.columns.tolist() == by_feast.columns.tolist()
    assert by_sql["impression_id"].tolist() == by_feast["impression_id"].tolist()
    columns = _feature_columns(by_feast)
    assert len(columns) > 90 and by_feast[columns].notna().mean().mean() > 0.5
    for col in columns:
        assert np.allclose(
            by_sql[col].astype(float), by_feast[col].astype(float), equal_nan=True, rtol=1e-12, atol=0
        ), col
    if filter_created:  # the flag matters: the late rows are hidden, the other views are untouched
        plain = _ranking(
            world, engine, tmp_path / "plain.parquet", limit=300, filter_by_created_timestamp=False
        )
        others = [c for c in columns if not c.startswith("user_stats__")]
        assert np.allclose(plain[others].astype(float), by_sql[others].astype(float), equal_nan=True)
        user = [c for c in columns if c.startswith("user_stats__")]
        assert (~np.isclose(plain[user].astype(float), by_sql[user].astype(float), equal_nan=True)).any()


def test_retrieval_rows_are_engagements_with_user_features(
    world: tuple[Settings, StoreUrls], engine: sa.Engine, tmp_path: Path
) -> None:
    settings, stores = world
    out = tmp_path / "retr.parquet"
    build_dataset(settings, stores, engine, task="retrieval", until=UNTIL, since=SINCE, out=out)
    frame = pd.read_parquet(out)
    assert len(frame) > 0
    assert (frame[list(RETRIEVAL_LABELS)].sum(axis=1) >= 1).all()
    feats = _feature_columns(frame)
    assert feats and all(c.startswith("user_stats__") for c in feats)
    assert "user_stats__views_28d" in feats and "user_stats__views_1h" not in feats
    ts = pd.to_datetime(frame["event_timestamp"], utc=True)
    assert ts.min() > pd.Timestamp(SINCE) - pd.Timedelta(microseconds=1) and ts.max() < pd.Timestamp(UNTIL)


def test_bad_inputs_are_refused_with_the_fix(
    world: tuple[Settings, StoreUrls], engine: sa.Engine, tmp_path: Path
) -> None:
    settings, stores = world
    args = dict(settings=settings, stores=stores, engine=engine)
    with pytest.raises(ConfigError, match="Unknown task 'clicks'"):
        build_dataset(**args, task="clicks", until=UNTIL, out=tmp_path / "x.parquet")  # type: ignore[arg-type]
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    with pytest.raises(ConfigError, match="in the future"):
        build_dataset(**args, task="ranking", until=future, out=tmp_path / "x.parquet")  # type: ignore[arg-type]
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="does not exist"):
        build_dataset(**args, task="ranking", until=UNTIL, out=tmp_path / "file" / "x.parquet")  # type: ignore[arg-type]
    with pytest.raises(DatasetError, match=r"no impressions with ts in \(2025-01-01.*Move --until later"):
        build_dataset(
            **args,
            task="ranking",
            since=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),  # type: ignore[arg-type]
            until=dt.datetime(2025, 2, 1, tzinfo=dt.UTC),
            out=tmp_path / "x.parquet",
        )
    with pytest.raises(DatasetError, match="foryou features build --until"):
        build_dataset(
            **args,
            task="ranking",
            since=UNTIL,
            until=UNTIL + dt.timedelta(hours=6),  # type: ignore[arg-type]
            out=tmp_path / "x.parquet",
        )
    assert not (tmp_path / "x.parquet").exists()


def test_cli_builds_a_set_and_refuses_bad_arguments(
    world: tuple[Settings, StoreUrls], cli_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "retrieval.parquet"
    args = ["dataset", "build", "--task", "retrieval", "--since", SINCE.isoformat(), "--until"]
    done = run_cli([*args, UNTIL.isoformat(), "--out", str(out)], cli_env, check=True)
    assert "retrieval:" in done.stdout and out.exists() and len(pd.read_parquet(out)) > 0
    bad = run_cli([*args, "yesterday", "--out", str(tmp_path / "x.parquet")], cli_env)
    assert bad.returncode == 2 and "'yesterday' is not an ISO 8601 time" in bad.stderr
    bad = run_cli([*args, UNTIL.isoformat(), "--out", str(tmp_path), "--join", "spark"], cli_env)
    assert bad.returncode == 2 and "is a directory" in bad.stderr
