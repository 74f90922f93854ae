"""Alembic upgrade and downgrade on a real database; the Core tables in foryou.schema match the head."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from foryou import migrate, schema
from foryou.db import make_engine
from foryou.errors import SchemaError

pytestmark = pytest.mark.integration


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_creates_every_table_and_downgrade_removes_them(empty_database_url: str) -> None:
    assert migrate.current_revision(empty_database_url) is None
    migrate.upgrade(empty_database_url)
    assert migrate.current_revision(empty_database_url) == migrate.head_revision()
    assert set(schema.metadata.tables) <= _tables(empty_database_url)
    migrate.downgrade(empty_database_url, "base")
    assert migrate.current_revision(empty_database_url) is None
    assert _tables(empty_database_url) <= {"alembic_version"}
    migrate.upgrade(empty_database_url)  # and back up again: the round trip is clean
    assert set(schema.metadata.tables) <= _tables(empty_database_url)


def test_core_tables_match_the_migrated_columns(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        inspector = sa.inspect(engine)
        for table in schema.metadata.sorted_tables:
            migrated = {c["name"]: c for c in inspector.get_columns(table.name)}
            assert list(migrated) == [c.name for c in table.columns], table.name
            for column in table.columns:
                assert migrated[column.name]["nullable"] == column.nullable, f"{table.name}.{column.name}"
        indexed = {tuple(i["column_names"]) for i in inspector.get_indexes("events")}
        assert {("user_id", "ts"), ("video_id", "ts"), ("ts",)} <= indexed
    finally:
        engine.dispose()


def test_event_constraints_reject_bad_rows(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO users (user_id, region, signup_at) VALUES (1, 'us', now())"))
        conn.execute(sa.text("INSERT INTO videos (video_id, uploaded_at) VALUES (1, now())"))
    bad = {
        "unknown type": "('e1', 1, 1, 'dislike', now())",
        "unknown user": "('e2', 99, 1, 'view', now())",
        "unknown video": "('e3', 1, 99, 'view', now())",
    }
    for label, values in bad.items():
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(
                sa.text(f"INSERT INTO events (event_id, user_id, video_id, event_type, ts) VALUES {values}")
            )
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one() == 0, label


def test_require_head_names_the_fix(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        with pytest.raises(SchemaError, match="foryou db upgrade"):
            migrate.require_head(engine)
    finally:
        engine.dispose()
