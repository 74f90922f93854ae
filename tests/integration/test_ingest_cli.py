"""The `foryou ingest` commands as a user runs them: a summary on success, one clear error otherwise."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from foryou.cli.ingest_cmd import app
from tests.conftest import run_cli, table_count

pytestmark = pytest.mark.integration

EVENTS = "user_id,video_id,event_type,ts\n1,10,view,2024-01-05T00:00:00Z\n1,10,like,2024-01-05T00:00:01Z\n"


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _batch(folder: Path) -> list[str]:
    users = _write(folder, "users.csv", "user_id\n1\n")
    videos = _write(folder, "videos.csv", "video_id,creator_id,uploaded_at\n10,7,2024-01-01T00:00:00Z\n")
    events = _write(folder, "events.csv", EVENTS)
    return ["--users", str(users), "--videos", str(videos), "--events", str(events)]


def test_files_prints_rows_in_and_new_rows_per_table(
    cli_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["files", *_batch(tmp_path)], env=cli_env, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert re.search(r"│ events\s+│\s+2 │\s+2 │", first.output), first.output
    assert re.search(r"│ creators\s+│\s+1 │\s+1 │", first.output), first.output

    again = runner.invoke(app, ["files", *_batch(tmp_path)], env=cli_env, catch_exceptions=False)
    assert again.exit_code == 0
    assert "this batch was first loaded at" in again.output
    assert re.search(r"│ events\s+│\s+2 │\s+0 │", again.output), again.output
    assert table_count(engine, "events") == 2 and table_count(engine, "ingest_batches") == 1


def test_bad_input_exits_non_zero_with_file_row_and_field(
    cli_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    args = _batch(tmp_path)
    _write(tmp_path, "events.csv", EVENTS + "1,10,view,tomorrow\n")
    result = run_cli(["ingest", "files", *args], cli_env)
    assert result.returncode == 5, result.stderr
    assert "events.csv, row 3, field ts: got 'tomorrow'; not a timestamp" in result.stderr
    assert "Traceback" not in result.stderr
    assert table_count(engine, "events") == 0 and table_count(engine, "users") == 0


def test_a_database_that_is_down_gives_one_line_and_no_traceback(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**cli_env, "FORYOU_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/foryou"}
    result = run_cli(["ingest", "files", "--events", str(_write(tmp_path, "events.csv", EVENTS))], env)
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Cannot reach Postgres at" in lines[0] and "127.0.0.1:1" in lines[0]
    assert "Traceback" not in result.stderr
