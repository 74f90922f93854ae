"""validate_database and `foryou validate` on a real Postgres: a clean database passes, bad rows are flagged.

The schema's constraints (foreign keys, CHECKs, primary keys) keep most bad rows out, so the violations here
are the ones that can exist: rows the constraints allow (future timestamps, events older than their video,
one event under two ids) and rows loaded around the constraints (triggers off, a CHECK dropped).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from foryou.cli import validate_cmd
from foryou.errors import DataQualityError
from validation.database import validate_database
from validation.report import Severity, ValidationReport

pytestmark = pytest.mark.integration

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CRIT, WARN = Severity.CRITICAL, Severity.WARNING
CLEAN_ROWS = """
INSERT INTO users (user_id, region, device, signup_at) VALUES
    (1, 'us', 'ios', '2025-11-01T00:00:00Z'), (2, 'de', NULL, '2025-11-02T00:00:00Z');
INSERT INTO creators (creator_id, joined_at) VALUES (7, '2025-10-01T00:00:00Z');
INSERT INTO videos (video_id, creator_id, uploaded_at, duration_s, title) VALUES
    (10, 7, '2025-11-10T00:00:00Z', 12.5, 'a'), (11, NULL, '2025-11-11T00:00:00Z', NULL, NULL);
INSERT INTO follows (user_id, creator_id, ts) VALUES (1, 7, '2025-11-12T00:00:00Z');
INSERT INTO blocks (user_id, creator_id, ts) VALUES (2, 7, '2025-11-12T00:00:00Z');
INSERT INTO events (event_id, user_id, video_id, event_type, ts, dwell_ms, watch_fraction, propensity,
                    position, device) VALUES
    ('e1', 1, 10, 'impression', '2025-12-01T00:00:00Z', NULL, NULL, 0.5, 0, 'ios'),
    ('e2', 1, 10, 'view', '2025-12-01T00:00:01Z', 1500, 0.8, NULL, 0, 'ios'),
    ('e3', 2, 11, 'like', '2025-12-02T00:00:00Z', NULL, NULL, NULL, NULL, NULL);
"""


def execute(engine: sa.Engine, sql: str) -> None:
    with engine.begin() as conn:
        for statement in filter(str.strip, sql.split(";")):
            conn.execute(sa.text(statement))


@pytest.fixture
def clean_engine(engine: sa.Engine) -> sa.Engine:
    execute(engine, CLEAN_ROWS)
    return engine


def failed(report: ValidationReport) -> list[tuple[str, str | None, str, int | None, Severity]]:
    return sorted(
        (o.table, o.column, o.expectation, o.unexpected_count, o.severity) for o in report.failures()
    )


def test_clean_database_passes(clean_engine: sa.Engine, database_url: str) -> None:
    report = validate_database(database_url, now=NOW)  # a URL works as well as an engine
    assert report.success and report.failures() == []
    assert all(o.error is None for o in report.outcomes)
    # primary keys are unique by construction: listed as not re-checked, one per table
    assert len(report.skipped) == 6 and all("primary key" in s for s in report.skipped)
    assert report.row_counts == {
        "users": 2,
        "creators": 1,
        "videos": 2,
        "follows": 1,
        "blocks": 1,
        "events": 3,
    }
    queries = {(o.table, o.column) for o in report.outcomes if o.expectation == "unexpected_rows_expectation"}
    assert queries == {
        ("videos", "creator_id"),
        ("follows", "user_id"),
        ("follows", "creator_id"),
        ("blocks", "user_id"),
        ("blocks", "creator_id"),
        ("events", "user_id"),
        ("events", "video_id"),
        ("events", "ts"),
    }


def test_event_in_the_future_is_critical(clean_engine: sa.Engine) -> None:
    execute(
        clean_engine,
        "INSERT INTO events (event_id, user_id, video_id, event_type, ts) "
        "VALUES ('e9', 1, 10, 'view', '2026-02-01T00:00:00Z')",
    )
    report = validate_database(clean_engine, now=NOW, tables=["events"])
    assert failed(report) == [("events", "ts", "expect_column_values_to_be_between", 1, CRIT)]
    (outcome,) = report.failures()
    assert [v.isoformat() for v in outcome.examples] == ["2026-02-01T00:00:00+00:00"]
    assert not report.success


def test_event_before_upload_and_one_event_under_two_ids_are_warnings(clean_engine: sa.Engine) -> None:
    execute(
        clean_engine,
        "INSERT INTO events (event_id, user_id, video_id, event_type, ts) VALUES "
        "('early', 2, 11, 'like', '2025-11-01T00:00:00Z'), "
        "('e2-again', 1, 10, 'view', '2025-12-01T00:00:01Z')",
    )
    report = validate_database(clean_engine, now=NOW, tables=["events"])
    assert failed(report) == [
        ("events", "ts", "unexpected_rows_expectation", 1, WARN),
        ("events", "user_id,video_id,event_type,ts", "expect_compound_columns_to_be_unique", 2, WARN),
    ]
    assert report.success  # warnings never fail a run
    early = next(o for o in report.failures() if o.expectation == "unexpected_rows_expectation")
    assert early.examples[0]["event_id"] == "early"
    assert early.examples[0]["videos_uploaded_at"].isoformat() == "2025-11-11T00:00:00+00:00"
    # with a window that starts after the early event, only the repeated event is left to see
    recent = validate_database(
        clean_engine, now=NOW, since=datetime(2025, 11, 15, tzinfo=UTC), tables=["events"]
    )
    assert [o.expectation for o in recent.failures()] == ["expect_compound_columns_to_be_unique"]
    assert recent.row_counts == {"events": 4}  # the early event is outside the window


def test_rows_loaded_around_the_foreign_keys_are_found(clean_engine: sa.Engine) -> None:
    # What a restore with triggers disabled leaves behind: the FK triggers do not fire for this session.
    with clean_engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        conn.execute(
            sa.text(
                "INSERT INTO events (event_id, user_id, video_id, event_type, ts) "
                "VALUES ('orphan', 99, 10, 'view', '2025-12-03T00:00:00Z')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO videos (video_id, creator_id, uploaded_at) "
                "VALUES (12, 8, '2025-11-12T00:00:00Z')"
            )
        )
    report = validate_database(clean_engine, now=NOW, tables=["videos", "events"])
    assert failed(report) == [
        ("events", "user_id", "unexpected_rows_expectation", 1, CRIT),
        ("videos", "creator_id", "unexpected_rows_expectation", 1, CRIT),
    ]
    assert {o.column: o.examples for o in report.failures()} == {"user_id": [99], "creator_id": [8]}


def test_rows_loaded_without_a_check_constraint_are_found(clean_engine: sa.Engine) -> None:
    execute(
        clean_engine,
        "ALTER TABLE events DROP CONSTRAINT events_dwell_nonnegative;"
        "INSERT INTO events (event_id, user_id, video_id, event_type, ts, dwell_ms) "
        "VALUES ('neg', 1, 10, 'view', '2025-12-03T00:00:00Z', -5)",
    )
    report = validate_database(clean_engine, now=NOW, tables=["events"])
    assert failed(report) == [("events", "dwell_ms", "expect_column_values_to_be_between", 1, CRIT)]
    assert report.failures()[0].examples == [-5]


def _cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """A tiny app holding only the validate command."""

    validate_cmd.register(app)
    return app


def test_validate_command_reports_json_html_and_fails_on_critical(
    clean_engine: sa.Engine, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for key, value in cli_env.items():
        if key.startswith("FORYOU_"):
            monkeypatch.setenv(key, value)
    app, runner, page = _cli(), CliRunner(), tmp_path / "report.html"

    passed = runner.invoke(app, ["validate", "--json", "--html", str(page)])
    assert passed.exit_code == 0, passed.output
    data = json.loads(passed.stdout)
    assert data["success"] is True and data["row_counts"]["events"] == 3
    assert "Data-quality validation" in page.read_text(encoding="utf-8")

    execute(
        clean_engine,
        "INSERT INTO users (user_id, region, signup_at) VALUES (3, 'fr', '2027-01-01T00:00:00Z')",
    )
    failing = runner.invoke(app, ["validate", "--table", "users", "--since", "2025-12-01"])
    assert isinstance(failing.exception, DataQualityError)
    assert "users.signup_at" in str(failing.exception)
    assert "signup_at" in failing.stdout and "FAILED" in failing.stdout
