"""`foryou bench ingest --json` measures both paths in a scratch database and leaves nothing behind."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from foryou.db import make_engine
from tests.conftest import run_cli

pytestmark = pytest.mark.integration


def _bench_databases(database_url: str) -> set[str]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT datname FROM pg_database WHERE datname LIKE 'foryou_bench_%'")
            )
            return {row[0] for row in rows}
    finally:
        engine.dispose()


def test_bench_ingest_prints_one_json_line_with_both_figures(
    cli_env: dict[str, str], database_url: str
) -> None:
    result = run_cli(["bench", "ingest", "--events", "2000", "--insert-events", "200", "--json"], cli_env)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["metric"] == "ingest_events_per_s" and record["unit"] == "events/s"
    assert record["copy_events"] == 2000 and record["insert_events"] == 200
    assert record["ours"] > 0 and record["baseline"] > 0
    assert record["ratio"] == pytest.approx(record["ours"] / record["baseline"], rel=1e-3)
    # Other benchmarks may share the server: this run's own scratch database must be gone.
    assert record["scratch_database"].startswith("foryou_bench_")
    assert record["scratch_database"] not in _bench_databases(database_url)
