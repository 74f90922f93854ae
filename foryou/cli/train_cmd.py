"""foryou train two-tower|session|first-stage|reranker|all: train on point-in-time sets, write artifacts."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()
PARAM_OPTION = typer.Option(
    None,
    "--param",
    help="A trainer parameter, KEY=VALUE (VALUE as JSON, else a string); with `all`, MODEL.KEY=VALUE. "
    "Repeatable. Keys: each trainer's DEFAULTS (pipelines/train/<model>.py).",
)


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
    param: list[str] | None = PARAM_OPTION,
) -> None:
    """Train one model (or all) and write artifacts/<model>/<version>/ with its manifest."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from foryou.runtime import open_runtime
    from pipelines.datasets.build import parse_time
    from pipelines.train.common import TRAINERS, TrainOptions, trainer

    names = list(TRAINERS) if model == "all" else [model]
    modules = [trainer(name) for name in names]  # unknown names fail here, before any store starts
    params = parse_params(param or [], names)
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
            result = module.train(runtime, replace(options, params=params[name]), progress)
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(result.metrics.items()))
        table.add_row(name, result.artifact.manifest.version, metrics, result.promotion.reason)
    console.print(table)


def parse_params(items: list[str], models: list[str]) -> dict[str, dict[str, Any]]:
    """`--param` values → per-model overrides. KEY=VALUE (one model) or MODEL.KEY=VALUE; VALUE is JSON
    (`3`, `0.5`, `true`, `["mlp"]`) or else taken as a string. Trainers reject unknown keys themselves."""
    from foryou.errors import ConfigError

    out: dict[str, dict[str, Any]] = {name: {} for name in models}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param {item!r}: expected KEY=VALUE (for example --param epochs=3).")
        target, dot, name = key.strip().rpartition(".")
        if not dot:
            if len(models) > 1:
                raise ConfigError(
                    f"--param {item!r}: with several models say which one, MODEL.KEY=VALUE "
                    f"(models: {', '.join(models)})."
                )
            target, name = models[0], key.strip()
        if target not in out:
            raise ConfigError(
                f"--param {item!r}: {target!r} is not being trained (models: {', '.join(models)})."
            )
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[target][name] = value
    return out


def register(app: typer.Typer) -> None:
    app.command("train")(train)
