"""video_velocity on a hand-made world, values worked out by hand.

Video 5 (all on 2026-03-02): views at 10:01, 10:02, 10:03 and a like at 10:04 (bucket 10:05), a view at
10:07 (bucket 10:10), a view at 10:20 (bucket 10:20). velocity = 4 × views in the last 15 minutes (views per
hour); acceleration = velocity minus 4 × views in the 15 minutes before that.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tests.conftest import feature_world

pytestmark = pytest.mark.integration

UNTIL = datetime(2026, 3, 3, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"2026-03-02 {text}+00:00")


WORLD = [
    "INSERT INTO users (user_id, region, signup_at) VALUES (1, 'us', '2026-01-01')",
    "INSERT INTO videos (video_id, uploaded_at) VALUES (5, '2026-03-01'), (6, '2026-03-01')",
    "INSERT INTO events (event_id, user_id, video_id, event_type, ts) VALUES "
    "('a', 1, 5, 'view', '2026-03-02 10:01+00'), ('b', 1, 5, 'view', '2026-03-02 10:02+00'),"
    "('c', 1, 5, 'view', '2026-03-02 10:03+00'), ('d', 1, 5, 'like', '2026-03-02 10:04+00'),"
    "('e', 1, 5, 'view', '2026-03-02 10:07+00'), ('f', 1, 5, 'view', '2026-03-02 10:20+00'),"
    "('g', 1, 6, 'impression', '2026-03-02 10:20+00')",
]


@pytest.fixture(scope="module")
def world(server_urls, template_database: str) -> Iterator[sa.Engine]:  # type: ignore[no-untyped-def]
    with feature_world(server_urls, template_database, WORLD, UNTIL, "video_velocity") as engine:
        yield engine


def test_every_row_worked_out_by_hand(world: sa.Engine) -> None:
    with world.connect() as conn:
        got = conn.execute(
            sa.text(
                "SELECT event_timestamp, views_15m, likes_15m, views_1h, likes_1h, velocity, acceleration "
                "FROM features.video_velocity WHERE video_id = 5 ORDER BY 1"
            )
        ).all()
    assert [tuple(r) for r in got] == [
        # t        15m views/likes, 1h views/likes, velocity, acceleration
        (at("10:05"), 3, 1, 3, 1, 12.0, 12.0),
        (at("10:10"), 4, 1, 4, 1, 16.0, 16.0),
        (at("10:20"), 2, 0, 5, 1, 8.0, -4.0),  # (10:05, 10:20] has 10:07 and 10:20; before it 3 views
        (at("10:25"), 1, 0, 5, 1, 4.0, -12.0),  # (10:10, 10:25] has 10:20; (09:55, 10:10] had 4
        (at("10:35"), 0, 0, 5, 1, 0.0, -8.0),
        (at("10:40"), 0, 0, 5, 1, 0.0, -4.0),
        (at("10:50"), 0, 0, 5, 1, 0.0, 0.0),
        (at("11:05"), 0, 0, 2, 0, 0.0, 0.0),
        (at("11:10"), 0, 0, 1, 0, 0.0, 0.0),
        (at("11:20"), 0, 0, 0, 0, 0.0, 0.0),
    ]


def test_only_views_and_likes_make_rows(world: sa.Engine) -> None:
    with world.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT count(*) FROM features.video_velocity WHERE video_id = 6")).scalar()
            == 0
        )
