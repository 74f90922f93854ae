"""foryou dataset build: a training set (labels from the event log, features by Feast point-in-time join)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(help="Training sets: labels plus point-in-time features, as Parquet.", no_args_is_help=True)
console = Console()


OUT_OPTION = typer.Option(..., "--out", help="Parquet file to write (its folder must exist).")


@app.callback()
def dataset() -> None:
    """Training sets: definitions in docs/datasets.md."""


@app.command()
def build(
    task: str = typer.Option(
        ..., "--task", help="ranking (one row per impression) or retrieval (positives)."
    ),
    until: str = typer.Option(
        ...,
        "--until",
        help="Cut-off (ISO 8601; no zone = UTC). No label reads an event after it. Not future.",
    ),
    out: Path = OUT_OPTION,
    since: str | None = typer.Option(None, "--since", help="Only rows after this time (ISO 8601)."),
    horizon_s: int = typer.Option(3600, "--horizon-s", help="Ranking label horizon after each impression."),
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="Only the first N rows by time (sampling)."
    ),
    join: str = typer.Option(
        "sql",
        "--join",
        help="sql: Feast's point-in-time join, driven by the registry, as one index-driven LATERAL query "
        "(equal values, tested; linear cost). feast: store.get_historical_features itself (the reference; "
        "too slow past ~10k rows on Postgres, docs/datasets.md).",
    ),
    filter_created: bool = typer.Option(
        True,
        "--filter-created/--no-filter-created",
        help="filter_by_created_timestamp: use only feature rows available (`created`, the end of their "
        "build window) by the row's time, i.e. what serving had then.",
    ),
) -> None:
    """Build one training set up to --until and write it as Parquet."""
    from foryou.runtime import open_runtime
    from pipelines.datasets.build import build_dataset, parse_time, validate

    until_t = parse_time(until, "--until")
    since_t = parse_time(since, "--since")
    assert until_t is not None
    validate(task, until_t, since_t, out, horizon_s=horizon_s)  # before starting any store
    runtime = open_runtime()
    with console.status("building") as status:
        result = build_dataset(
            runtime.settings,
            runtime.stores,
            runtime.engine,
            task=task,
            until=until_t,
            since=since_t,
            out=out,
            horizon_s=horizon_s,
            limit=limit,
            filter_by_created_timestamp=filter_created,
            engine_kind=join,
            progress=lambda message: status.update(message),
        )
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items())
    console.print(
        f"{result.task}: {result.rows:,} rows × {len(result.columns)} columns "
        f"(service {result.feature_service}) → {result.out}  ({timings})",
        markup=False,
    )
