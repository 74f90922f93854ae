"""foryou simulate: generate a seeded synthetic world and load it into the event log."""

from __future__ import annotations

import datetime as dt
import re

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from foryou.errors import ConfigError

console = Console()
progress_console = Console(stderr=True)
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def parse_start(value: str) -> dt.datetime:
    """ISO 8601 date or datetime; without an offset it is taken as UTC."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"--start {value!r} is not ISO 8601; write it like 2026-01-05T00:00Z.") from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def simulate(
    users: int = typer.Option(5_000, "--users", min=1, help="Users in the world."),
    creators: int = typer.Option(500, "--creators", min=1, help="Creators (some join during the window)."),
    videos: int = typer.Option(20_000, "--videos", min=1, help="Videos: back catalog plus new uploads."),
    days: int = typer.Option(7, "--days", min=1, help="Days of sessions to simulate."),
    seed: int = typer.Option(0, "--seed", min=0, help="Same seed and sizes → byte-identical tables."),
    start: str = typer.Option("2026-01-05T00:00Z", "--start", help="Window start, ISO 8601 (UTC default)."),
    replace: bool = typer.Option(False, "--replace", help="Empty the world tables (and events) first."),
    name: str = typer.Option("default", "--name", help="World name; truth goes to FORYOU_HOME/worlds/NAME."),
) -> None:
    """Simulate users, creators, videos, follows, blocks and logged sessions, loaded in one transaction."""
    from foryou.runtime import open_runtime
    from worldsim.config import WorldConfig
    from worldsim.simulate import simulate_into_database

    if not NAME_PATTERN.match(name):
        raise ConfigError(f"--name {name!r} must be letters, digits, '_', '-' or '.' (it names a folder).")
    config = WorldConfig(
        seed=seed, n_users=users, n_creators=creators, n_videos=videos, days=days, start=parse_start(start)
    )
    runtime = open_runtime()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=progress_console) as progress:
        report = simulate_into_database(
            runtime.engine, config, runtime.settings.home, name=name, replace=replace, progress=progress
        )
    rows = Table(title="rows written")
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    for table, count in report.rows.items():
        rows.add_row(table, f"{count:,}")
    events = Table(title="events by type")
    events.add_column("event_type")
    events.add_column("events", justify="right")
    events.add_column("share", justify="right")
    total = max(sum(report.events_by_type.values()), 1)
    for event_type, count in report.events_by_type.items():
        events.add_row(event_type, f"{count:,}", f"{count / total:.1%}")
    console.print(rows)
    console.print(events)
    console.print(
        f"seed {seed}: {report.sessions:,} sessions in {report.seconds:.1f} s; truth in {report.world_dir}"
    )


def register(app: typer.Typer) -> None:
    app.command()(simulate)
