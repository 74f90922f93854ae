"""user_stats on a hand-made world: values at chosen read times, worked out by hand from the events below.

One user signs up 2026-03-01 00:00 UTC and then:
    e1 view  03-02 10:01  wf 0.8  session s1      (bucket 10:05)
    e2 like  03-02 10:02          session s1      (bucket 10:05)
    e3 view  03-02 10:20  wf 0.5  session s1      (bucket 10:20: on a boundary, it belongs to (10:15, 10:20])
    e4 impression 03-02 10:21     session s1      (bucket 10:25)
    e5 view  03-03 09:00  wf 1.0  session s2      (bucket 09:00)
A reader at time t sees the latest row with event_timestamp <= t.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from pipelines.features.definitions import PRIORS, STRENGTH
from tests.conftest import feature_world

pytestmark = pytest.mark.integration

UNTIL = datetime(2026, 4, 15, tzinfo=UTC)
M = STRENGTH["user"]


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"2026-{text}+00:00")


WORLD = [
    "INSERT INTO users (user_id, region, signup_at) VALUES "
    "(1, 'us', '2026-03-01 00:00+00'), (2, 'us', '2026-03-05 07:42+00')",
    "INSERT INTO videos (video_id, uploaded_at) VALUES (100, '2026-02-01 00:00+00')",
    "INSERT INTO events (event_id, user_id, video_id, event_type, ts, watch_fraction, session_id) "
    "VALUES ('e1', 1, 100, 'view', '2026-03-02 10:01+00', 0.8, 's1'),"
    "('e2', 1, 100, 'like', '2026-03-02 10:02+00', NULL, 's1'),"
    "('e3', 1, 100, 'view', '2026-03-02 10:20+00', 0.5, 's1'),"
    "('e4', 1, 100, 'impression', '2026-03-02 10:21+00', NULL, 's1'),"
    "('e5', 1, 100, 'view', '2026-03-03 09:00+00', 1.0, 's2')",
]


@pytest.fixture(scope="module")
def world(server_urls, template_database: str) -> Iterator[sa.Engine]:  # type: ignore[no-untyped-def]
    """Built once for the module: the tests only read it."""
    with feature_world(server_urls, template_database, WORLD, UNTIL, "user_stats") as engine:
        yield engine


def read(engine: sa.Engine, user_id: int, t: datetime, columns: str) -> dict | None:
    """The row a reader at time t sees."""
    with engine.connect() as conn:
        row = (
            conn.execute(
                sa.text(
                    f"SELECT event_timestamp, {columns} FROM features.user_stats WHERE user_id = :u "
                    "AND event_timestamp <= :t ORDER BY event_timestamp DESC LIMIT 1"
                ),
                {"u": user_id, "t": t},
            )
            .mappings()
            .one_or_none()
        )
    return dict(row) if row else None


@pytest.mark.parametrize(
    ("t", "views", "likes", "sessions"),
    [
        ("03-02 10:00", 0, 0, 0),  # only the signup row so far
        ("03-02 10:04:59", 0, 0, 0),  # e1's bucket ends at 10:05: not visible before
        ("03-02 10:05", 1, 1, 1),
        ("03-02 10:20", 2, 1, 1),
        ("03-02 11:04:59", 2, 1, 1),  # e1 left the hour at 11:01; the row for that is at 11:05 (grain)
        ("03-02 11:05", 1, 0, 0),  # e1, e2 and the start of s1 (10:01) have left the hour
        ("03-02 11:20", 0, 0, 0),  # e3 (10:20) leaves at exactly 11:20: the window is (t - 1h, t]
        ("03-03 08:59", 0, 0, 0),  # nobody keeps last hour's count forever
        ("03-03 09:00", 1, 0, 1),
        ("03-03 10:00", 0, 0, 0),
    ],
)
def test_last_hour_counts_at_read_times(
    world: sa.Engine, t: str, views: int, likes: int, sessions: int
) -> None:
    row = read(world, 1, at(t), "views_1h, likes_1h, sessions_1h")
    assert row is not None
    assert (row["views_1h"], row["likes_1h"], row["sessions_1h"]) == (views, likes, sessions), row


def test_day_week_and_month_windows(world: sa.Engine) -> None:
    cols = "views_24h, sessions_24h, views_7d, views_28d, impressions_24h"
    assert read(world, 1, at("03-03 09:00"), cols) | {"event_timestamp": None} == {
        "event_timestamp": None,
        "views_24h": 3,
        "sessions_24h": 2,
        "views_7d": 3,
        "views_28d": 3,
        "impressions_24h": 1,
    }
    assert read(world, 1, at("03-03 10:05"), "views_24h")["views_24h"] == 2  # e1 left the day at 03-03 10:05
    assert read(world, 1, at("03-03 10:25"), "impressions_24h")["impressions_24h"] == 0
    assert read(world, 1, at("03-09 10:05"), "views_7d")["views_7d"] == 2
    assert read(world, 1, at("03-10 09:00"), "views_7d, views_28d") == {
        "event_timestamp": at("03-10 09:00"),
        "views_7d": 0,
        "views_28d": 3,
    }
    assert read(world, 1, at("03-30 10:20"), "views_28d")["views_28d"] == 1
    assert read(world, 1, at("03-31 09:00"), "views_28d")["views_28d"] == 0


@pytest.mark.parametrize(
    ("t", "days_7d", "days_28d"),
    [
        ("03-03 09:00", 2, 2),
        # window (03-02 10:05, 03-09 10:05]: 03-02's first bucket (10:05) is out, e3 and e4 are in → still 2
        ("03-09 10:05", 2, 2),
        ("03-09 10:20", 2, 2),  # (…10:20, …]: e4 (10:21) keeps 03-02 in
        ("03-09 10:25", 1, 2),  # e4's bucket ends at 10:25: out; only 03-03 is left
        ("03-10 09:00", 0, 2),
        ("03-30 10:20", 0, 2),
        ("03-30 10:25", 0, 1),
        ("03-31 09:00", 0, 0),
    ],
)
def test_active_days_are_exact_at_window_edges(world: sa.Engine, t: str, days_7d: int, days_28d: int) -> None:
    row = read(world, 1, at(t), "active_days_7d, active_days_28d")
    assert (row["active_days_7d"], row["active_days_28d"]) == (days_7d, days_28d), row


def test_rates_are_smoothed_towards_the_documented_priors(world: sa.Engine) -> None:
    row = read(
        world, 1, at("03-02 10:20"), "like_rate_1h, long_view_rate_1h, share_rate_1h, mean_watch_fraction_1h"
    )
    # 2 views (one long: 0.8 >= 0.75), 1 like, 0 shares.
    assert row["like_rate_1h"] == pytest.approx((1 + PRIORS["like"] * M) / (2 + M))
    assert row["long_view_rate_1h"] == pytest.approx((1 + PRIORS["long_view"] * M) / (2 + M))
    assert row["share_rate_1h"] == pytest.approx((0 + PRIORS["share"] * M) / (2 + M))
    assert row["mean_watch_fraction_1h"] == pytest.approx(0.65, abs=1e-6)
    empty = read(world, 1, at("03-02 11:20"), "like_rate_1h, mean_watch_fraction_1h")
    assert empty["like_rate_1h"] == pytest.approx(PRIORS["like"])  # no views: the prior itself
    assert empty["mean_watch_fraction_1h"] == 0.0


def test_days_since_signup_and_a_row_at_signup(world: sa.Engine) -> None:
    row = read(world, 1, at("03-02 10:05"), "days_since_signup")
    assert row["days_since_signup"] == pytest.approx(1 + (10 * 60 + 5) / 1440)
    # User 2 never did anything: one row, at the end of the bucket holding the signup, all zeros.
    with world.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT event_timestamp, views_28d, active_days_28d, days_since_signup "
                "FROM features.user_stats WHERE user_id = 2"
            )
        ).all()
    assert rows == [(at("03-05 07:45"), 0, 0, pytest.approx(3 / 1440))]


def test_rows_only_where_something_changes(world: sa.Engine) -> None:
    with world.connect() as conn:
        times = (
            conn.execute(
                sa.text("SELECT event_timestamp FROM features.user_stats WHERE user_id = 1 ORDER BY 1")
            )
            .scalars()
            .all()
        )
    buckets = [at("03-02 10:05"), at("03-02 10:20"), at("03-02 10:25"), at("03-03 09:00")]
    windows = [timedelta(hours=1), timedelta(hours=24), timedelta(days=7), timedelta(days=28)]
    expected = {at("03-01 00:00")} | set(buckets) | {b + w for b in buckets for w in windows}
    assert times == sorted(expected)
