"""foryou evaluate: retrieval recall and ranking NDCG on the time-based holdout, with an HTML/PNG report."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

console = Console(stderr=True)


def evaluate(
    until: str | None = typer.Option(
        None, "--until", help="Cut-off (ISO 8601). Default: features watermark."
    ),
    holdout_days: float = typer.Option(1.0, "--holdout-days", help="The last N days are the holdout."),
    max_queries: int = typer.Option(2000, "--max-queries", min=1, help="Sample of holdout users (seeded)."),
    seed: int = typer.Option(0, "--seed", min=0),
    world: str = typer.Option(
        "demo", "--world", help="Simulated world whose ground truth gives the oracle rows ('' for none)."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per figure on stdout."),
) -> None:
    """Evaluate every retrieval source and ranking stage on the holdout; print the table, write the report."""
    from foryou.runtime import open_runtime
    from pipelines.datasets.build import parse_time
    from pipelines.evaluate.models import model_sources, ranking_stages
    from pipelines.evaluate.run import EvaluateOptions
    from pipelines.evaluate.run import evaluate as run

    options = EvaluateOptions(
        until=parse_time(until, "--until"),
        holdout_days=holdout_days,
        max_queries=max_queries,
        seed=seed,
        world=world or None,
    )
    runtime = open_runtime()
    with console.status("evaluating") as status:
        result = run(
            runtime,
            options,
            model_sources=model_sources,
            ranking_stages=ranking_stages,
            say=lambda message: status.update(message),
        )
    if as_json:
        for record in result.metrics():
            print(json.dumps(record), flush=True)
        return
    print_evaluation(result, Console())


def print_evaluation(result, out: Console) -> None:  # type: ignore[no-untyped-def]
    """The evaluation's tables and notes, for people."""
    out.print(_table("Retrieval: recall@K (holdout)", result.recall))
    if len(result.ndcg):
        out.print(_table("Ranking: NDCG@K (holdout pools)", result.ndcg))
    if len(result.heads):
        out.print(_table("Re-ranker heads (holdout)", result.heads))
    for note in result.notes:
        out.print(f"• {note}", markup=False)
    out.print(f"report: {result.report}", markup=False)


def _table(title: str, frame) -> Table:  # type: ignore[no-untyped-def]
    table = Table(title=title)
    table.add_column("")
    for column in frame.columns:
        table.add_column(str(column), justify="right")
    for name, row in frame.iterrows():
        table.add_row(str(name), *(f"{v:.4f}" if v == v else "–" for v in row.to_numpy(dtype=float)))
    return table


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
