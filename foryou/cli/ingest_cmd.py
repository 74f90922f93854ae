"""foryou ingest files | movielens | lastfm: validated loads into the event log (docs/ingest.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from foryou.runtime import open_runtime
from pipelines.ingest.progress import RichProgress

if TYPE_CHECKING:  # the loader pulls in pandas and alembic: keep `foryou --help` fast
    from pipelines.ingest.load import IngestReport

app = typer.Typer(
    help="Load data into the event log: files in the generic format, or a public data set.",
    no_args_is_help=True,
)
console = Console()


def print_report(report: IngestReport) -> None:
    """Rows read and new rows written per table, and whether this batch had been loaded before."""
    console.print(f"batch {report.batch_id} ({report.source})", highlight=False, soft_wrap=True)
    table = Table()
    table.add_column("table")
    table.add_column("rows in", justify="right")
    table.add_column("new rows", justify="right")
    for name, count in report.counts.items():
        table.add_row(name, f"{count.rows_in:,}", f"{count.rows_new:,}")
    console.print(table)
    if report.rerun and report.first_loaded_at is not None:
        console.print(
            f"this batch was first loaded at {report.first_loaded_at:%Y-%m-%d %H:%M:%S %Z}; "
            "rows already stored were skipped"
        )
    console.print(f"done in {report.seconds:.1f} s")


def _file(option: str, what: str) -> Any:
    return typer.Option(
        option, help=f"{what}: CSV or Parquet (by extension) in the generic format (docs/ingest.md)."
    )


@app.command()
def files(
    users: Annotated[Path | None, _file("--users", "Users")] = None,
    videos: Annotated[Path | None, _file("--videos", "Videos")] = None,
    follows: Annotated[Path | None, _file("--follows", "Follows")] = None,
    events: Annotated[Path | None, _file("--events", "Events")] = None,
) -> None:
    """Validate and load any of --users/--videos/--follows/--events as ONE batch (all or nothing)."""
    from pipelines.ingest.files import ingest_files

    runtime = open_runtime()
    with RichProgress() as progress:
        report = ingest_files(
            runtime.engine, users=users, videos=videos, follows=follows, events=events, progress=progress
        )
    print_report(report)


@app.command()
def movielens(
    directory: Annotated[
        Path, typer.Argument(help="The unzipped ml-latest-small folder (ratings.csv, tags.csv, movies.csv).")
    ],
) -> None:
    """Load MovieLens: ratings → view (+ like when ≥ 4 stars), tags → comment, movies → videos."""
    from pipelines.ingest.movielens import ingest_movielens

    runtime = open_runtime()
    with RichProgress() as progress:
        report = ingest_movielens(runtime.engine, directory, progress=progress)
    print_report(report)


@app.command()
def lastfm(
    directory: Annotated[
        Path, typer.Argument(help="The unzipped hetrec2011-lastfm-2k folder (artists.dat, …).")
    ],
) -> None:
    """Load Last.fm HetRec 2011: artists → videos and creators, listens → view, tags → comment.

    Friends become follows: each user also gets a creator profile (id 1,000,000,000 + user id).
    """
    from pipelines.ingest.lastfm import ingest_lastfm

    runtime = open_runtime()
    with RichProgress() as progress:
        report = ingest_lastfm(runtime.engine, directory, progress=progress)
    print_report(report)
