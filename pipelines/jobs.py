"""The cron cadence: which job runs when, and the lock that keeps a job from overlapping itself.

`foryou jobs crontab` prints `JOBS` as crontab lines; each line runs `foryou jobs run <name>`, which takes a
Postgres advisory lock named after the job (so two hosts, or a slow run and the next tick, never run the same
job at once — the second one logs "skipped" and exits 0) and runs the job's steps one after another as
`foryou …` subprocesses, stopping at the first failure. Every step is idempotent on its own (features build
and materialize advance watermarks in transactions; index update/build write a new version and swap
`current` atomically; train promotes only a version that is not worse), so a killed run is simply re-run by
the next tick, and all of them are safe beside a running server, which only reads Redis and `current`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from foryou.errors import ConfigError, ForyouError


@dataclass(frozen=True)
class Job:
    name: str
    schedule: str  # five crontab fields
    steps: tuple[tuple[str, ...], ...]  # each a `foryou` command line
    why: str


JOBS: tuple[Job, ...] = (
    Job(
        "features",
        "*/5 * * * *",
        (("features", "build"), ("materialize", "--no-progress")),
        "feature tables up to now (GX gate on each batch), then materialize-incremental into Redis",
    ),
    Job(
        "index-update",
        "2-59/5 * * * *",
        (("index", "update"),),
        "add new uploads to the ANN index and re-embed recently changed videos; atomic swap",
    ),
    Job(
        "index-build",
        "30 2 * * *",
        (("index", "build"),),
        "nightly full rebuild of the ANN index from every video",
    ),
    Job(
        "retrain",
        "0 3 * * 0",
        (("train", "all"), ("index", "build")),
        "weekly retrain of every model (promoted only if not worse on the holdout), then re-index",
    ),
)


class JobError(ForyouError):
    """A job step failed; the steps after it did not run."""

    exit_code = 8


def job(name: str) -> Job:
    for candidate in JOBS:
        if candidate.name == name:
            return candidate
    raise ConfigError(f"Unknown job {name!r}; jobs are: {', '.join(j.name for j in JOBS)}.")


def crontab(foryou_command: str, env: dict[str, str], log_dir: str) -> str:
    """Crontab text: environment lines, then one line per job appending to its log file."""
    lines = ["# foryou jobs (foryou jobs crontab); every job is idempotent and locked against itself"]
    lines += [f"{key}={value}" for key, value in sorted(env.items())]
    for j in JOBS:
        lines.append(f"# {j.name}: {j.why}")
        lines.append(f"{j.schedule} {foryou_command} jobs run {j.name} >> {log_dir}/{j.name}.log 2>&1")
    return "\n".join(lines) + "\n"


def lock_key(name: str) -> str:
    return f"foryou.job.{name}"


def run(
    engine: Engine,
    name: str,
    *,
    say: Callable[[str], None] = print,
    runner: Callable[[Sequence[str]], int] | None = None,
) -> bool:
    """Run job `name` under its lock; False when another run holds the lock (nothing was done)."""
    chosen = job(name)
    execute = runner or _foryou_subprocess
    with engine.connect() as conn:
        got = conn.execute(
            sa.text("SELECT pg_try_advisory_lock(hashtext(:key))"), {"key": lock_key(name)}
        ).scalar_one()
        conn.commit()
        if not got:
            say(f"{name}: skipped, another run holds its lock")
            return False
        try:
            for step in chosen.steps:
                started = time.perf_counter()
                say(f"{name}: foryou {' '.join(step)}")
                code = execute(step)
                if code != 0:
                    raise JobError(
                        f"Job {name}: `foryou {' '.join(step)}` exited with {code}; later steps skipped."
                    )
                say(f"{name}: foryou {' '.join(step)} done in {time.perf_counter() - started:.1f} s")
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(hashtext(:key))"), {"key": lock_key(name)})
            conn.commit()
    return True


def _foryou_subprocess(step: Sequence[str]) -> int:
    return subprocess.run([sys.executable, "-m", "foryou", *step], check=False).returncode
