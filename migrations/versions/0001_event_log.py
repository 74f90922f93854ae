"""Event log: users, creators, videos, follows, blocks, events, ingest batches.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

EVENT_TYPES = ("impression", "view", "tap", "like", "save", "share", "comment", "follow", "skip")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("user_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("region", sa.Text, nullable=False),
        sa.Column("device", sa.Text),
        sa.Column("signup_at", TS, nullable=False),
        sa.Column("attributes", pg.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.CheckConstraint("user_id >= 0", name="users_id_nonnegative"),
    )
    op.create_table(
        "creators",
        sa.Column("creator_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("joined_at", TS, nullable=False),
        sa.Column("attributes", pg.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.CheckConstraint("creator_id >= 0", name="creators_id_nonnegative"),
    )
    op.create_table(
        "videos",
        sa.Column("video_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("creator_id", sa.BigInteger, sa.ForeignKey("creators.creator_id")),
        sa.Column("uploaded_at", TS, nullable=False),
        sa.Column("duration_s", sa.REAL),
        sa.Column("title", sa.Text),
        sa.Column("tags", pg.ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("allowed_regions", pg.ARRAY(sa.Text)),
        sa.Column("flagged", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("visual_vec", pg.ARRAY(sa.REAL)),
        sa.Column("text_vec", pg.ARRAY(sa.REAL)),
        sa.Column("audio_vec", pg.ARRAY(sa.REAL)),
        sa.CheckConstraint("video_id >= 0", name="videos_id_nonnegative"),
        sa.CheckConstraint("duration_s IS NULL OR duration_s > 0", name="videos_duration_positive"),
    )
    op.create_index("videos_uploaded_at", "videos", ["uploaded_at"])
    op.create_index("videos_creator_uploaded_at", "videos", ["creator_id", "uploaded_at"])
    for name in ("follows", "blocks"):
        op.create_table(
            name,
            sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.user_id"), primary_key=True),
            sa.Column("creator_id", sa.BigInteger, sa.ForeignKey("creators.creator_id"), primary_key=True),
            sa.Column("ts", TS, nullable=False),
        )
        op.create_index(f"{name}_creator", name, ["creator_id", "ts"])
    op.create_table(
        "events",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.user_id"), nullable=False),
        sa.Column("video_id", sa.BigInteger, sa.ForeignKey("videos.video_id"), nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("ts", TS, nullable=False),
        sa.Column("dwell_ms", sa.Integer),
        sa.Column("watch_fraction", sa.REAL),
        sa.Column("session_id", sa.Text),
        sa.Column("request_id", sa.Text),
        sa.Column("position", sa.Integer),
        sa.Column("device", sa.Text),
        sa.Column("region", sa.Text),
        sa.Column("propensity", sa.REAL),
        sa.CheckConstraint(
            "event_type IN (" + ", ".join(f"'{t}'" for t in EVENT_TYPES) + ")", name="events_type_known"
        ),
        sa.CheckConstraint("dwell_ms IS NULL OR dwell_ms >= 0", name="events_dwell_nonnegative"),
        sa.CheckConstraint(
            "watch_fraction IS NULL OR (watch_fraction >= 0 AND watch_fraction <= 10)",
            name="events_watch_fraction_range",
        ),
        sa.CheckConstraint(
            "propensity IS NULL OR (propensity > 0 AND propensity <= 1)", name="events_propensity_range"
        ),
    )
    # The feature SQL reads events per user / per video over time windows, and globally by time.
    op.create_index("events_user_ts", "events", ["user_id", "ts"])
    op.create_index("events_video_ts", "events", ["video_id", "ts"])
    op.create_index("events_ts", "events", ["ts"])
    op.create_table(
        "ingest_batches",
        sa.Column("batch_id", sa.Text, primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("loaded_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("row_counts", pg.JSONB, nullable=False),
    )


def downgrade() -> None:
    for name in ("ingest_batches", "events", "blocks", "follows", "videos", "creators", "users"):
        op.drop_table(name)
