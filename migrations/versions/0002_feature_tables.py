"""Feature tables: schema `features` with one timestamped table per feature view, plus build watermarks.

Every feature table is keyed by (entity id, event_timestamp) and carries `created` (when the row was
written); pipelines/features fills them and docs/features.md defines every column. This migration spells
the columns out instead of importing them, so it stays what it was when it ran.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = "features"
TS = sa.DateTime(timezone=True)
INT = sa.BigInteger  # int64: what Feast accepts for numeric features
BIG = sa.BigInteger
DBL = sa.Double()  # DOUBLE PRECISION

USER_WINDOWS = ("1h", "24h", "7d", "28d")
USER_COUNTS = (
    "impressions",
    "views",
    "long_views",
    "likes",
    "shares",
    "saves",
    "comments",
    "follows",
    "skips",
    "sessions",
)
USER_RATES = ("like_rate", "long_view_rate", "share_rate", "mean_watch_fraction")
CREATOR_WINDOWS = ("7d", "28d")
VIDEO_TOTALS = ("impressions", "views", "long_views", "likes", "shares", "saves", "comments")


def _user_stats() -> list[tuple[str, sa.types.TypeEngine]]:
    columns: list[tuple[str, sa.types.TypeEngine]] = []
    for window in USER_WINDOWS:
        columns += [(f"{name}_{window}", INT()) for name in USER_COUNTS]
        columns += [(f"{name}_{window}", DBL) for name in USER_RATES]
    return columns + [("active_days_7d", INT()), ("active_days_28d", INT()), ("days_since_signup", DBL)]


def _creator_stats() -> list[tuple[str, sa.types.TypeEngine]]:
    columns: list[tuple[str, sa.types.TypeEngine]] = []
    for window in CREATOR_WINDOWS:
        columns += [(f"uploads_{window}", INT()), (f"views_{window}", INT())]
        columns += [
            (f"{name}_{window}", DBL) for name in ("like_rate", "long_view_rate", "share_rate", "follow_rate")
        ]
    return columns + [("followers", BIG()), ("is_new_creator", INT())]


def _video_stats() -> list[tuple[str, sa.types.TypeEngine]]:
    return [
        ("creator_id", BIG()),
        ("duration_s", DBL),
        ("uploaded_at_epoch_s", DBL),
        *[(f"{name}_total", BIG()) for name in VIDEO_TOTALS],
        *[(name, DBL) for name in ("like_rate", "long_view_rate", "share_rate", "save_rate")],
        ("mean_watch_fraction", DBL),
        ("popularity_pct", DBL),
        # Bookkeeping for incremental builds (the exact sums behind mean_watch_fraction), not features.
        ("watch_fraction_count_total", BIG()),
        ("watch_fraction_micros_total", BIG()),
    ]


def _video_velocity() -> list[tuple[str, sa.types.TypeEngine]]:
    return [
        ("views_15m", INT()),
        ("likes_15m", INT()),
        ("views_1h", INT()),
        ("likes_1h", INT()),
        ("velocity", DBL),
        ("acceleration", DBL),
    ]


TABLES = {
    "user_stats": ("user_id", _user_stats),
    "creator_stats": ("creator_id", _creator_stats),
    "video_stats": ("video_id", _video_stats),
    "video_velocity": ("video_id", _video_velocity),
}


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    for table, (entity, columns) in TABLES.items():
        op.create_table(
            table,
            sa.Column(entity, BIG(), nullable=False),
            sa.Column("event_timestamp", TS, nullable=False),
            sa.Column("created", TS, nullable=False),
            *[sa.Column(name, type_, nullable=False) for name, type_ in columns()],
            sa.PrimaryKeyConstraint(entity, "event_timestamp", name=f"{table}_pkey"),
            schema=SCHEMA,
        )
        # Feast materialization reads a time range of a view; the primary key serves point-in-time joins.
        # BRIN, not btree: each build appends a batch of one time range, so block ranges line up with time,
        # and a btree on time costs more than the rest of the insert (keys arrive in entity order).
        op.create_index(
            f"{table}_event_timestamp", table, ["event_timestamp"], schema=SCHEMA, postgresql_using="brin"
        )
    # The distribution of lifetime views over all videos at each UTC midnight; video_stats.popularity_pct
    # looks a video up in the snapshot of the last midnight <= its event_timestamp.
    op.create_table(
        "video_popularity",
        sa.Column("snapshot_at", TS, nullable=False),
        sa.Column("views_total", BIG(), nullable=False),
        sa.Column("videos", BIG(), nullable=False),
        sa.Column("videos_below", BIG(), nullable=False),
        sa.Column("videos_total", BIG(), nullable=False),
        sa.PrimaryKeyConstraint("snapshot_at", "views_total", name="video_popularity_pkey"),
        schema=SCHEMA,
    )
    op.create_table(
        "build_state",
        sa.Column("view", sa.Text, primary_key=True),
        sa.Column("built_until", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        schema=SCHEMA,
    )
    # An incremental user_stats build asks, for each session seen in its window, whether the session already
    # had events before the window (then it did not start inside it): one probe of this index per session.
    op.create_index(
        "events_user_session_ts",
        "events",
        ["user_id", "session_id", "ts"],
        postgresql_where=sa.text("session_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("events_user_session_ts", table_name="events")
    for table in ("build_state", "video_popularity", *TABLES):
        op.drop_table(table, schema=SCHEMA)
    op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA}")
