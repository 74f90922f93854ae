"""The embedded path: `foryou up/status/down` start real Postgres and Redis from the pip wheels."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psycopg
import pytest
import redis

from tests.conftest import run_cli

pytestmark = pytest.mark.integration


def _embedded_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORYOU_")}
    env["FORYOU_HOME"] = str(home)
    return env


def test_up_status_down_with_no_urls_runs_embedded_stores(tmp_path: Path) -> None:
    env = _embedded_env(tmp_path / "home")
    try:
        run_cli(["up"], env, check=True)
        status = json.loads(run_cli(["status", "--json"], env, check=True).stdout)
        assert status["embedded_postgres_running"] and status["embedded_redis_running"]
        assert status["database_url"].startswith("postgresql://postgres@127.0.0.1:")
        assert status["redis_url"].startswith("redis://127.0.0.1:")
        with psycopg.connect(status["database_url"]) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        client = redis.Redis.from_url(status["redis_url"])
        client.set("k", "v")
        assert client.get("k") == b"v"
        # A second `up` reuses the running servers instead of starting new ones.
        run_cli(["up"], env, check=True)
        assert json.loads(run_cli(["status", "--json"], env, check=True).stdout) == status
    finally:
        run_cli(["down"], env, check=True)
    after = json.loads(run_cli(["status", "--json"], env, check=True).stdout)
    assert not after["embedded_postgres_running"] and not after["embedded_redis_running"]
    assert after["database_url"] is None and after["redis_url"] is None


def test_status_json_reports_configured_urls_without_starting_anything(tmp_path: Path) -> None:
    env = _embedded_env(tmp_path / "home")
    env["FORYOU_DATABASE_URL"] = "postgresql://postgres@127.0.0.1:1/none"
    env["FORYOU_REDIS_URL"] = "redis://127.0.0.1:1/0"
    status = json.loads(run_cli(["status", "--json"], env, check=True).stdout)
    assert status["database_url"] == env["FORYOU_DATABASE_URL"]
    assert status["redis_url"] == env["FORYOU_REDIS_URL"]
    assert not (tmp_path / "home" / "postgres").exists()


def test_database_down_gives_one_clear_line(tmp_path: Path) -> None:
    env = _embedded_env(tmp_path / "home")
    env["FORYOU_DATABASE_URL"] = "postgresql://postgres@127.0.0.1:1/none"
    env["FORYOU_REDIS_URL"] = "redis://127.0.0.1:1/0"
    result = run_cli(["db", "upgrade"], env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "Cannot reach Postgres at postgresql+psycopg://postgres@127.0.0.1:1/none" in result.stderr
    assert "FORYOU_DATABASE_URL" in result.stderr


def test_invalid_setting_is_reported_not_raised(tmp_path: Path) -> None:
    env = _embedded_env(tmp_path / "home")
    env["FORYOU_REDIS_URL"] = "localhost:6379"
    result = run_cli(["status"], env)
    assert result.returncode == 2
    assert "FORYOU_REDIS_URL must start with redis://" in result.stderr
    assert "Traceback" not in result.stderr
