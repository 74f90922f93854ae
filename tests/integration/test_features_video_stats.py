"""video_stats and its popularity percentile on a hand-made world, values worked out by hand.

Videos: 1 (creator 7, uploaded 03-01 00:00, 30 s), 2 (no creator, uploaded 03-01 10:00, no duration),
3 (creator 7, uploaded 03-02 10:02), 4 (creator 7, uploaded 03-04 12:00).
Events:
    video 1: impression 03-01 09:59, view 10:00 wf 0.9, like 10:01, save 10:02, view 11:00 wf 0.5,
             view 03-02 09:00 wf 1.0
    video 2: view 03-01 12:00 (no watch fraction), view 03-03 08:00 wf 0.4
    video 3: views 03-02 10:30, 10:31, 10:32, wf 0.8 each
Lifetime views at each midnight (video: views) and popularity = share of videos uploaded by then with
strictly fewer views:
    03-01: {1: 0}              → 1: 0
    03-02: {1: 2, 2: 1}        → 1: 1/2, 2: 0
    03-03: {1: 3, 2: 1, 3: 3}  → 1: 1/3, 2: 0, 3: 1/3
    03-04: {1: 3, 2: 2, 3: 3}  → 1: 1/3, 2: 0, 3: 1/3
    03-05: {1: 3, 2: 2, 3: 3, 4: 0} → 1: 2/4, 2: 1/4, 3: 2/4, 4: 0
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from pipelines.features.definitions import PRIORS, STRENGTH
from tests.conftest import feature_world

pytestmark = pytest.mark.integration

UNTIL = datetime(2026, 3, 10, tzinfo=UTC)
M = STRENGTH["video"]


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"2026-{text}+00:00")


WORLD = [
    "INSERT INTO users (user_id, region, signup_at) VALUES (1, 'us', '2026-02-01 00:00+00')",
    "INSERT INTO creators (creator_id, joined_at) VALUES (7, '2026-02-01 00:00+00')",
    "INSERT INTO videos (video_id, creator_id, uploaded_at, duration_s) VALUES "
    "(1, 7, '2026-03-01 00:00+00', 30), (2, NULL, '2026-03-01 10:00+00', NULL), "
    "(3, 7, '2026-03-02 10:02+00', 12.5), (4, 7, '2026-03-04 12:00+00', 8)",
    "INSERT INTO events (event_id, user_id, video_id, event_type, ts, watch_fraction) VALUES "
    "('a', 1, 1, 'impression', '2026-03-01 09:59+00', NULL), ('b', 1, 1, 'view', '2026-03-01 10:00+00', 0.9),"
    "('c', 1, 1, 'like', '2026-03-01 10:01+00', NULL), ('d', 1, 1, 'save', '2026-03-01 10:02+00', NULL),"
    "('e', 1, 1, 'view', '2026-03-01 11:00+00', 0.5), ('f', 1, 1, 'view', '2026-03-02 09:00+00', 1.0),"
    "('g', 1, 2, 'view', '2026-03-01 12:00+00', NULL), ('h', 1, 2, 'view', '2026-03-03 08:00+00', 0.4),"
    "('i', 1, 3, 'view', '2026-03-02 10:30+00', 0.8), ('j', 1, 3, 'view', '2026-03-02 10:31+00', 0.8),"
    "('k', 1, 3, 'view', '2026-03-02 10:32+00', 0.8)",
]


@pytest.fixture(scope="module")
def world(server_urls, template_database: str) -> Iterator[sa.Engine]:  # type: ignore[no-untyped-def]
    with feature_world(server_urls, template_database, WORLD, UNTIL, "video_stats") as engine:
        yield engine


def rows(engine: sa.Engine, video_id: int, columns: str) -> list[tuple]:
    sql = f"SELECT event_timestamp, {columns} FROM features.video_stats WHERE video_id = :v ORDER BY 1"
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), {"v": video_id})]


def test_lifetime_totals_and_rates(world: sa.Engine) -> None:
    assert rows(world, 1, "impressions_total, views_total, long_views_total, likes_total, saves_total") == [
        (at("03-01 00:00"), 0, 0, 0, 0, 0),  # the upload row (uploaded on a boundary, and at midnight)
        (at("03-01 10:00"), 1, 1, 1, 0, 0),
        (at("03-01 10:05"), 1, 1, 1, 1, 1),
        (at("03-01 11:00"), 1, 2, 1, 1, 1),
        (at("03-02 00:00"), 1, 2, 1, 1, 1),  # midnight after activity: the new popularity snapshot
        (at("03-02 09:00"), 1, 3, 2, 1, 1),
        (at("03-03 00:00"), 1, 3, 2, 1, 1),
    ]
    (_, like, save, long_view, mean) = rows(
        world, 1, "like_rate, save_rate, long_view_rate, mean_watch_fraction"
    )[5]
    assert like == pytest.approx((1 + PRIORS["like"] * M) / (3 + M))
    assert save == pytest.approx((1 + PRIORS["save"] * M) / (3 + M))
    assert long_view == pytest.approx((2 + PRIORS["long_view"] * M) / (3 + M))
    assert mean == pytest.approx((0.9 + 0.5 + 1.0) / 3, abs=1e-6)


def test_video_attributes_and_missing_values(world: sa.Engine) -> None:
    # Rows: upload (10:00), the view's bucket (12:00), the midnights after the upload and each active day.
    assert rows(world, 2, "creator_id, duration_s, views_total, mean_watch_fraction") == [
        (at("03-01 10:00"), -1, -1.0, 0, 0.0),
        (at("03-01 12:00"), -1, -1.0, 1, 0.0),  # a view without a watch fraction is not in the mean
        (at("03-02 00:00"), -1, -1.0, 1, 0.0),
        (at("03-03 08:00"), -1, -1.0, 2, pytest.approx(0.4, abs=1e-6)),
        (at("03-04 00:00"), -1, -1.0, 2, pytest.approx(0.4, abs=1e-6)),
    ]
    first = rows(world, 4, "creator_id, duration_s, uploaded_at_epoch_s, views_total")[0]
    assert first == (at("03-04 12:00"), 7, 8.0, at("03-04 12:00").timestamp(), 0)


@pytest.mark.parametrize(
    ("video_id", "t", "pct"),
    [
        (1, "03-01 00:00", 0.0),
        (1, "03-01 11:00", 0.0),  # snapshot 03-01: video 1 alone
        (1, "03-02 00:00", 1 / 2),
        (1, "03-02 09:00", 1 / 2),  # still the 03-02 snapshot (2 views then), though it has 3 now
        (1, "03-03 00:00", 1 / 3),
        (2, "03-02 00:00", 0.0),
        (2, "03-03 08:00", 0.0),
        (2, "03-04 00:00", 0.0),
        (3, "03-02 10:35", 0.0),  # uploaded after the last midnight: not in any snapshot yet
        (3, "03-03 00:00", 1 / 3),
        (4, "03-04 12:00", 0.0),
        (4, "03-05 00:00", 0.0),
    ],
)
def test_popularity_percentile_from_the_last_midnight(
    world: sa.Engine, video_id: int, t: str, pct: float
) -> None:
    with world.connect() as conn:
        got = conn.execute(
            sa.text(
                "SELECT popularity_pct FROM features.video_stats WHERE video_id = :v AND event_timestamp = :t"
            ),
            {"v": video_id, "t": at(t)},
        ).scalar_one()
    assert got == pytest.approx(pct)


def test_popularity_snapshots(world: sa.Engine) -> None:
    with world.connect() as conn:
        snapshot = {
            (r.snapshot_at, r.views_total): (r.videos, r.videos_below, r.videos_total)
            for r in conn.execute(sa.text("SELECT * FROM features.video_popularity"))
        }
    assert {k: v for k, v in snapshot.items() if k[0] <= at("03-05 00:00")} == {
        (at("03-01 00:00"), 0): (1, 0, 1),
        (at("03-02 00:00"), 1): (1, 0, 2),
        (at("03-02 00:00"), 2): (1, 1, 2),
        (at("03-03 00:00"), 1): (1, 0, 3),
        (at("03-03 00:00"), 3): (2, 1, 3),
        (at("03-04 00:00"), 2): (1, 0, 3),
        (at("03-04 00:00"), 3): (2, 1, 3),
        (at("03-05 00:00"), 0): (1, 0, 4),
        (at("03-05 00:00"), 2): (1, 1, 4),
        (at("03-05 00:00"), 3): (2, 2, 4),
    }
    # every later midnight up to the build's end carries the same distribution on
    assert snapshot[(at("03-10 00:00"), 3)] == (2, 2, 4)


def test_popularity_is_a_fraction_for_every_row(world: sa.Engine) -> None:
    with world.connect() as conn:
        low, high = conn.execute(
            sa.text("SELECT min(popularity_pct), max(popularity_pct) FROM features.video_stats")
        ).one()
    assert 0.0 <= low <= high < 1.0
