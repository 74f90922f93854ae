"""foryou features build: compute the timestamped feature tables in Postgres (incremental, idempotent)."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from foryou.errors import ConfigError

app = typer.Typer(help="Feature tables: build them from the event log.", no_args_is_help=True)
console = Console()


@app.callback()
def features() -> None:
    """Feature tables in schema `features`: definitions in docs/features.md."""


def _parse_until(value: str | None) -> datetime | None:
    """ISO 8601 → aware UTC datetime (a time without zone is read as UTC)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(
            f"--until {value!r} is not an ISO 8601 time; for example 2026-03-01T12:00:00Z"
        ) from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


VIEW_OPTION = typer.Option(None, "--view", help="Only this feature view (repeatable). Default: every view.")


def _short(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "…"


@app.command()
def build(
    until: str | None = typer.Option(
        None,
        "--until",
        help="Build rows up to this time (ISO 8601; no zone = UTC), rounded down to the 5-minute grain. "
        "Default: now. A future time is refused.",
    ),
    view: list[str] | None = VIEW_OPTION,
    jobs: int = typer.Option(1, "--jobs", min=1, help="Views built at the same time, one connection each."),
) -> None:
    """Build each feature view from its watermark up to --until, one transaction per view."""
    from foryou.runtime import open_runtime
    from pipelines.features.build import build as build_features
    from pipelines.features.build import resolve_until, resolve_views
    from validation.feature_gate import gx_feature_gate

    # Fail on bad arguments before starting any store; one `until` for every view.
    target = resolve_until(_parse_until(until))
    views = resolve_views(view)
    engine = open_runtime().engine
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.fields[view]:<15}"),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        tasks = {v.name: progress.add_task("waiting", view=v.name, total=None) for v in views}

        def report(name: str, message: str) -> None:
            progress.update(tasks[name], description=message)
            if message.startswith(("done", "up to date")):
                progress.update(tasks[name], total=1, completed=1)

        results = build_features(
            engine, target, views=[v.name for v in views], progress=report, jobs=jobs, gate=gx_feature_gate
        )
    table = Table("view", "event_timestamp in", "rows written", "seconds", "rows/s")
    for r in results:
        span = "up to date" if r.up_to_date else f"({_short(r.start)}, {_short(r.end)}]"
        rate = f"{r.rows_written / r.seconds:,.0f}" if r.seconds > 0 and r.rows_written else "-"
        table.add_row(r.view, span, f"{r.rows_written:,}", f"{r.seconds:.1f}", rate)
    console.print(table)
