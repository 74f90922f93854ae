"""foryou train two-tower|session|first-stage|reranker|all: train on point-in-time sets, write artifacts."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def train(
    model: str = typer.Argument(
        ..., help="two-tower, session, first-stage, reranker, or all (in that order)."
    ),
    until: str | None = typer.Option(
        None, "--until", help="Cut-off (ISO 8601). Default: the feature tables' watermark."
    ),
    since: str | None = typer.Option(None, "--since", help="Only rows after this time (ISO 8601)."),
    holdout_days: float = typer.Option(1.0, "--holdout-days", help="The last N days are the holdout."),
    seed: int = typer.Option(0, "--seed", min=0),
    epochs: int | None = typer.Option(None, "--epochs", min=1, help="Default: each model's own."),
    promote: bool = typer.Option(
        True, "--promote/--no-promote", help="Make the new version `current` if it is not worse."
    ),
) -> None:
    """Train one model (or all) and write artifacts/<model>/<version>/ with its manifest."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from foryou.runtime import open_runtime
    from pipelines.datasets.build import parse_time
    from pipelines.train.common import TRAINERS, TrainOptions, trainer

    names = list(TRAINERS) if model == "all" else [model]
    modules = [trainer(name) for name in names]  # unknown names fail here, before any store starts
    options = TrainOptions(
        until=parse_time(until, "--until"),
        since=parse_time(since, "--since"),
        holdout_days=holdout_days,
        seed=seed,
        epochs=epochs,
        promote=promote,
    )
    runtime = open_runtime()
    table = Table(title="trained")
    for column in ("model", "version", "metrics (holdout)", "current"):
        table.add_column(column)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    for name, module in zip(names, modules, strict=True):
        console.rule(f"[bold]train {name}")
        with Progress(*columns, console=console) as progress:
            result = module.train(runtime, options, progress)
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(result.metrics.items()))
        table.add_row(name, result.artifact.manifest.version, metrics, result.promotion.reason)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
