"""The main job end to end on the embedded default (no URLs set), as on a fresh machine."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psycopg
import pytest

from tests.conftest import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Four days: the rankers train on the last two days of the training window, scored by a two-tower fitted on
# the days before (docs/models-ranking.md), and the last day is the holdout.
DEMO = ["demo", "--users", "150", "--creators", "15", "--videos", "400", "--days", "4"]


def test_demo_runs_end_to_end_on_embedded_stores(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORYOU_")}
    env["FORYOU_HOME"] = str(tmp_path / "home")
    try:
        result = run_cli(DEMO, env)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert "(embedded)" in result.stdout and "PASSED" in result.stdout
        assert (tmp_path / "home" / "reports" / "validation.html").exists()
        # Every model trained, verified and current; the index built; the evaluation printed and reported.
        artifacts = tmp_path / "home" / "artifacts"
        for model in ("two-tower", "session", "reranker", "first-stage", "index"):
            assert (artifacts / model / "current").is_symlink(), model
        assert "Retrieval: recall@K" in result.stdout and "two-tower" in result.stdout
        assert (tmp_path / "home" / "reports" / "evaluation" / "index.html").exists()
        records = {
            r["metric"]: r
            for r in json.loads((tmp_path / "home" / "reports" / "evaluation" / "metrics.json").read_text())
        }
        assert {"recall@300 union (learned shares)", "recall@300 session", "ndcg@20 re-ranker"} <= set(
            records
        )
        gap = records["ndcg@20 re-ranker - first stage"]  # with its paired-bootstrap interval
        lo, hi = gap["diff_ci95"]
        assert lo <= gap["diff"] <= hi and abs(gap["diff"] - (gap["ours"] - gap["baseline"])) < 1e-5
        status = json.loads(run_cli(["status", "--json"], env, check=True).stdout)
        assert status["embedded_postgres_running"] and status["embedded_redis_running"]
        with psycopg.connect(status["database_url"]) as conn:
            users = conn.execute("SELECT count(*) FROM users").fetchone()
            feature_rows = conn.execute("SELECT count(*) FROM features.user_stats").fetchone()
            impressions = conn.execute(
                "SELECT count(*) FROM events WHERE event_type = 'impression'"
            ).fetchone()
        assert users == (150,)
        assert feature_rows is not None and feature_rows[0] > 0
        assert impressions is not None and impressions[0] > 0
        # The main job is re-runnable: a second run replaces the world instead of failing.
        again = run_cli(DEMO, env)
        assert again.returncode == 0, again.stderr[-3000:]
    finally:
        run_cli(["down"], env)
