"""creator_stats on a hand-made world, values worked out by hand.

Creator 7 joins 2026-03-01 00:03 and uploads video 70 at 03-02 12:00 and video 71 at 03-05 08:00.
Events on video 70 (each in the bucket ending at the next 5-minute boundary):
    views: u1 03-02 12:10 wf 0.9 (long), u2 03-02 12:11 wf 0.2, u3 03-03 09:00 wf 0.8 (long)
    like u1 12:12, share u2 12:13, follow u1 12:14 (all 03-02)
Follows rows: (u1 → 7, 03-02 12:14), (u2 → 7, 03-04 09:00), (u3 → 8, 03-02 00:00).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from pipelines.features.definitions import PRIORS, STRENGTH
from tests.conftest import feature_world

pytestmark = pytest.mark.integration

UNTIL = datetime(2026, 4, 15, tzinfo=UTC)
M = STRENGTH["creator"]


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"2026-{text}+00:00")


WORLD = [
    "INSERT INTO users (user_id, region, signup_at) "
    "SELECT u, 'us', '2026-02-01' FROM generate_series(1, 3) u",
    "INSERT INTO creators (creator_id, joined_at) VALUES "
    "(7, '2026-03-01 00:03+00'), (8, '2026-01-01 00:00+00')",
    "INSERT INTO videos (video_id, creator_id, uploaded_at) VALUES "
    "(70, 7, '2026-03-02 12:00+00'), (71, 7, '2026-03-05 08:00+00'), (80, 8, '2026-02-01 00:00+00')",
    "INSERT INTO events (event_id, user_id, video_id, event_type, ts, watch_fraction) VALUES "
    "('v1', 1, 70, 'view', '2026-03-02 12:10+00', 0.9),"
    "('v2', 2, 70, 'view', '2026-03-02 12:11+00', 0.2),"
    "('v3', 3, 70, 'view', '2026-03-03 09:00+00', 0.8),"
    "('l1', 1, 70, 'like', '2026-03-02 12:12+00', NULL),"
    "('s2', 2, 70, 'share', '2026-03-02 12:13+00', NULL),"
    "('f1', 1, 70, 'follow', '2026-03-02 12:14+00', NULL)",
    "INSERT INTO follows (user_id, creator_id, ts) VALUES "
    "(1, 7, '2026-03-02 12:14+00'), (2, 7, '2026-03-04 09:00+00'), (3, 8, '2026-03-02 00:00+00')",
]


@pytest.fixture(scope="module")
def world(server_urls, template_database: str) -> Iterator[sa.Engine]:  # type: ignore[no-untyped-def]
    with feature_world(server_urls, template_database, WORLD, UNTIL, "creator_stats") as engine:
        yield engine


def read(engine: sa.Engine, creator_id: int, t: datetime) -> dict:
    with engine.connect() as conn:
        row = (
            conn.execute(
                sa.text(
                    "SELECT * FROM features.creator_stats WHERE creator_id = :c AND event_timestamp <= :t "
                    "ORDER BY event_timestamp DESC LIMIT 1"
                ),
                {"c": creator_id, "t": t},
            )
            .mappings()
            .one()
        )
    return dict(row)


def test_a_new_creator_has_a_row_at_joining(world: sa.Engine) -> None:
    row = read(world, 7, at("03-01 00:05"))
    assert row["event_timestamp"] == at("03-01 00:05")
    assert (row["uploads_7d"], row["views_28d"], row["followers"], row["is_new_creator"]) == (0, 0, 0, 1)
    assert row["like_rate_7d"] == pytest.approx(PRIORS["like"])


def test_engagement_over_the_creators_videos(world: sa.Engine) -> None:
    row = read(world, 7, at("03-02 12:15"))
    assert (row["uploads_7d"], row["views_7d"], row["followers"]) == (1, 2, 1)
    assert row["like_rate_7d"] == pytest.approx((1 + PRIORS["like"] * M) / (2 + M))
    assert row["long_view_rate_7d"] == pytest.approx((1 + PRIORS["long_view"] * M) / (2 + M))
    assert row["share_rate_7d"] == pytest.approx((1 + PRIORS["share"] * M) / (2 + M))
    assert row["follow_rate_7d"] == pytest.approx((1 + PRIORS["follow"] * M) / (2 + M))
    assert row["like_rate_28d"] == row["like_rate_7d"]


@pytest.mark.parametrize(
    ("t", "uploads_7d", "uploads_28d", "views_7d", "views_28d", "followers"),
    [
        ("03-02 11:59", 0, 0, 0, 0, 0),
        ("03-02 12:00", 1, 1, 0, 0, 0),  # uploaded exactly on a boundary: in the bucket ending then
        ("03-03 09:00", 1, 1, 3, 3, 1),
        ("03-04 09:00", 1, 1, 3, 3, 2),
        ("03-05 08:00", 2, 2, 3, 3, 2),
        ("03-09 11:59", 2, 2, 3, 3, 2),
        ("03-09 12:00", 1, 2, 3, 3, 2),  # video 70 leaves the week: (03-02 12:00, 03-09 12:00]
        ("03-09 12:15", 1, 2, 1, 3, 2),
        ("03-10 09:00", 1, 2, 0, 3, 2),
        ("03-30 12:15", 0, 1, 0, 1, 2),
        ("04-10 00:00", 0, 0, 0, 0, 2),  # followers are cumulative: they never expire
    ],
)
def test_windows_and_followers_at_read_times(
    world: sa.Engine, t: str, uploads_7d: int, uploads_28d: int, views_7d: int, views_28d: int, followers: int
) -> None:
    row = read(world, 7, at(t))
    got = (row["uploads_7d"], row["uploads_28d"], row["views_7d"], row["views_28d"], row["followers"])
    assert got == (uploads_7d, uploads_28d, views_7d, views_28d, followers), row


def test_new_creator_flag_turns_off_28_days_after_joining_with_a_row_of_its_own(world: sa.Engine) -> None:
    assert read(world, 7, at("03-29 00:04"))["is_new_creator"] == 1
    row = read(world, 7, at("03-29 00:05"))
    assert (row["event_timestamp"], row["is_new_creator"]) == (at("03-29 00:05"), 0)
    assert read(world, 8, at("03-02 00:00"))["is_new_creator"] == 0


def test_follows_of_another_creator_do_not_leak(world: sa.Engine) -> None:
    row = read(world, 8, at("03-02 00:00"))
    assert (row["followers"], row["views_28d"], row["uploads_28d"]) == (1, 0, 0)
