"""Cron jobs: the crontab names real commands; a job never overlaps itself; a failed step stops the job."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
import sqlalchemy as sa
import typer

from foryou import feast_repo
from foryou.settings import Settings
from foryou.stores import ensure_stores
from pipelines.jobs import JOBS, JobError, crontab, lock_key, run
from tests.conftest import run_cli
from worldsim import WorldConfig, simulate_into_database

pytestmark = pytest.mark.integration


def _cli():  # type: ignore[no-untyped-def]
    """The root command as Typer builds it (Typer ships its own click; duck-typed below)."""
    from foryou.cli import _register, app

    _register()
    return typer.main.get_command(app)


def test_crontab_lines_run_real_commands_on_valid_schedules() -> None:
    text = crontab("/opt/foryou/bin/foryou", {"FORYOU_HOME": "/srv/foryou"}, "/var/log/foryou")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[0] == "FORYOU_HOME=/srv/foryou"
    assert len(lines) == 1 + len(JOBS)
    for line, job in zip(lines[1:], JOBS, strict=True):
        fields = line.split()
        assert " ".join(fields[:5]) == job.schedule
        assert fields[5:9] == ["/opt/foryou/bin/foryou", "jobs", "run", job.name]
        assert line.endswith(f">> /var/log/foryou/{job.name}.log 2>&1")
    root = _cli()
    for job in JOBS:
        for step in job.steps:
            group = root
            words = list(step)
            while hasattr(group, "get_command") and words and not words[0].startswith("-"):
                found = group.get_command(None, words.pop(0))
                assert found is not None, f"{job.name}: `foryou {' '.join(step)}` is not a command"
                group = found
            params = {o for p in group.params for o in [*p.opts, *getattr(p, "secondary_opts", [])]}
            assert all(w in params for w in words if w.startswith("-")), (job.name, step)


def test_a_job_never_overlaps_itself_and_a_failed_step_stops_it(engine: sa.Engine) -> None:
    ran: list[Sequence[str]] = []

    def record(step: Sequence[str]) -> int:
        ran.append(tuple(step))
        return 0

    messages: list[str] = []
    with engine.connect() as holder:  # another run of `features` holds the lock
        holder.execute(sa.text("SELECT pg_advisory_lock(hashtext(:k))"), {"k": lock_key("features")})
        assert run(engine, "features", runner=record, say=messages.append) is False
        assert ran == [] and "skipped, another run holds its lock" in messages[-1]
        assert run(engine, "index-build", runner=record, say=messages.append) is True  # other jobs go on
        holder.execute(sa.text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": lock_key("features")})
    assert run(engine, "features", runner=record, say=messages.append) is True
    assert ran == [("index", "build"), ("features", "build"), ("materialize", "--no-progress")]

    ran.clear()
    with pytest.raises(JobError, match=r"`foryou train all` exited with 3; later steps skipped"):
        run(engine, "retrain", runner=lambda step: ran.append(tuple(step)) or 3, say=messages.append)
    assert ran == [("train", "all")]
    with engine.connect() as conn:  # the failed run released its lock
        assert conn.execute(
            sa.text("SELECT pg_try_advisory_lock(hashtext(:k))"), {"k": lock_key("retrain")}
        ).scalar_one()


def test_features_job_end_to_end(settings: Settings, engine: sa.Engine, cli_env: dict[str, str]) -> None:
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=1)
    simulate_into_database(
        engine,
        WorldConfig(seed=3, n_users=40, n_creators=5, n_videos=60, days=1, start=start),
        settings.home,
        name="t",
    )
    feast_repo.apply(settings, ensure_stores(settings))
    done = run_cli(["jobs", "run", "features"], cli_env, check=True)
    assert "features: foryou materialize --no-progress done" in done.stdout
    with engine.connect() as conn:
        built = conn.execute(sa.text("SELECT min(built_until) FROM features.build_state")).scalar_one()
    assert built >= dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    again = run_cli(["jobs", "run", "features"], cli_env, check=True)  # idempotent: nothing new to do
    assert again.returncode == 0
    bad = run_cli(["jobs", "run", "nightly"], cli_env)
    assert bad.returncode == 2 and "Unknown job 'nightly'; jobs are: features, index-update" in bad.stderr
