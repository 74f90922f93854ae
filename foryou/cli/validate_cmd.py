"""foryou validate: the Great Expectations suites of validation/ on the tables in Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from foryou.errors import DataQualityError

console = Console()
# Rows stamped by a writer whose clock runs a little ahead are not "in the future" (ingest allows the same).
CLOCK_SKEW = timedelta(minutes=5)


def validate(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as one JSON object.")] = False,
    html: Annotated[
        Path | None, typer.Option("--html", metavar="PATH", help="Also write an HTML report to PATH.")
    ] = None,
    tables: Annotated[
        list[str] | None,
        typer.Option("--table", help="Only this table (repeatable); default: every table with a suite."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="TIME",
            help="Only rows from TIME on (ISO date or datetime, UTC unless it has an offset).",
        ),
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="List passing expectations too, not only the failures.")
    ] = False,
) -> None:
    """Check the data in Postgres; exits non-zero when a CRITICAL expectation fails (warnings never do)."""
    # Imported here: the CLI starts without loading the suites (Great Expectations loads on first run).
    from foryou.runtime import open_runtime
    from validation.database import validate_database

    window_start = _utc(since)  # a typo fails here, before any store is started
    engine = open_runtime().engine
    try:
        report = validate_database(
            engine, future_tolerance=CLOCK_SKEW, since=window_start, tables=tables or None
        )
    finally:
        engine.dispose()
    if html is not None:
        report.write_html(html)
    if as_json:
        typer.echo(report.to_json())
    else:
        if show_all or report.failures():
            console.print(report.rich_table(failures_only=not show_all))
        for note in report.skipped:
            console.print(f"[dim]not checked: {note}[/]")
        console.print(report.summary(), style="bold green" if report.success else "bold red")
        if html is not None:
            console.print(f"HTML report: {html}")
    if not report.success:
        problems = report.problems()
        raise DataQualityError(
            f"{len(problems)} critical expectation(s) failed on {report.source}; fix or remove those rows:",
            problems=problems,
        )


def _utc(text: str | None) -> datetime | None:
    """An ISO date or datetime as an aware UTC datetime (a bare date or time is read as UTC)."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{text!r} is not an ISO date or datetime, e.g. 2026-11-24 or 2026-11-24T06:00Z"
        ) from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def register(app: typer.Typer) -> None:
    app.command()(validate)
