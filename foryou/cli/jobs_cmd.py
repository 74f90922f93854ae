"""foryou jobs crontab | run NAME: the cron cadence of the offline jobs, each locked against itself."""

from __future__ import annotations

import shutil
import sys

import typer

app = typer.Typer(help="Cron jobs: the schedule, and running one job under its lock.", no_args_is_help=True)


@app.command()
def crontab() -> None:
    """Print crontab lines for every job (install with: foryou jobs crontab | crontab -)."""
    from foryou.settings import get_settings
    from pipelines.jobs import crontab as render

    settings = get_settings()
    env = {"FORYOU_HOME": str(settings.home)}
    if settings.database_url:
        env["FORYOU_DATABASE_URL"] = settings.database_url
    if settings.redis_url:
        env["FORYOU_REDIS_URL"] = settings.redis_url
    command = shutil.which("foryou") or f"{sys.executable} -m foryou"
    log_dir = settings.home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    typer.echo(render(command, env, str(log_dir)), nl=False)


@app.command()
def run(name: str = typer.Argument(..., help="The job (see `foryou jobs crontab`).")) -> None:
    """Run one job's steps, unless another run of it holds its lock (then: skipped, exit 0)."""
    from foryou.runtime import open_runtime
    from pipelines.jobs import job
    from pipelines.jobs import run as run_job

    job(name)  # an unknown name fails before any store starts
    run_job(open_runtime().engine, name, say=typer.echo)
