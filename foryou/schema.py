"""The event-log schema as SQLAlchemy Core tables (the current head of migrations/, for queries and loads).

Ids are non-negative 64-bit integers everywhere (they double as FAISS ids and Feast join keys);
timestamps are timezone-aware UTC.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

EVENT_TYPES: tuple[str, ...] = (
    "impression",
    "view",
    "tap",
    "like",
    "save",
    "share",
    "comment",
    "follow",
    "skip",
)
DEVICES: tuple[str, ...] = ("ios", "android", "web")

metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("user_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("region", sa.Text, nullable=False),
    sa.Column("device", sa.Text),
    sa.Column("signup_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("attributes", pg.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
)

creators = sa.Table(
    "creators",
    metadata,
    sa.Column("creator_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("attributes", pg.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
)

videos = sa.Table(
    "videos",
    metadata,
    sa.Column("video_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("creator_id", sa.BigInteger, sa.ForeignKey("creators.creator_id")),
    sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("duration_s", sa.REAL),
    sa.Column("title", sa.Text),
    sa.Column("tags", pg.ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'")),
    # NULL = available everywhere; otherwise the regions where the video may be shown.
    sa.Column("allowed_regions", pg.ARRAY(sa.Text)),
    sa.Column("flagged", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("visual_vec", pg.ARRAY(sa.REAL)),
    sa.Column("text_vec", pg.ARRAY(sa.REAL)),
    sa.Column("audio_vec", pg.ARRAY(sa.REAL)),
)

follows = sa.Table(
    "follows",
    metadata,
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.user_id"), primary_key=True),
    sa.Column("creator_id", sa.BigInteger, sa.ForeignKey("creators.creator_id"), primary_key=True),
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
)

blocks = sa.Table(
    "blocks",
    metadata,
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.user_id"), primary_key=True),
    sa.Column("creator_id", sa.BigInteger, sa.ForeignKey("creators.creator_id"), primary_key=True),
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    # Idempotency: a retried batch carries the same event ids and writes nothing twice.
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.user_id"), nullable=False),
    sa.Column("video_id", sa.BigInteger, sa.ForeignKey("videos.video_id"), nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    sa.Column("dwell_ms", sa.Integer),
    sa.Column("watch_fraction", sa.REAL),
    sa.Column("session_id", sa.Text),
    sa.Column("request_id", sa.Text),
    sa.Column("position", sa.Integer),
    sa.Column("device", sa.Text),
    sa.Column("region", sa.Text),
    # Logging-policy propensity of an impression (for off-policy evaluation); NULL for other events.
    sa.Column("propensity", sa.REAL),
)

ingest_batches = sa.Table(
    "ingest_batches",
    metadata,
    sa.Column("batch_id", sa.Text, primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("row_counts", pg.JSONB, nullable=False),
)
