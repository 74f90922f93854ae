"""`foryou bench materialize` and `foryou bench online-features`: ours vs stock Feast, same run, same data."""

from __future__ import annotations

import typer

from foryou.cli.bench_cmd import JSON_OPTION
from pipelines.bench.result import print_results

VIEW_OPTION = typer.Option(None, "--view", help="Only this view (repeatable). Default: all.")


def materialize(
    view: list[str] | None = VIEW_OPTION,
    stock_db: int = typer.Option(
        7, "--stock-db", min=0, max=15, help="Redis db stock writes into (flushed)."
    ),
    ours_db: int = typer.Option(8, "--ours-db", min=0, max=15, help="Redis db ours writes into (flushed)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Rows/s of `foryou materialize` against stock FeatureStore.materialize on the same rows."""
    from foryou.runtime import open_runtime
    from pipelines.bench.materialize_bench import run_materialize_bench

    runtime = open_runtime(upgrade_schema=False)
    print_results(
        run_materialize_bench(
            runtime.settings, runtime.stores, views=view or None, stock_db=stock_db, ours_db=ours_db
        ),
        as_json,
    )


def online_features(
    candidates: int = typer.Option(300, "--candidates", min=1, help="Candidates per request."),
    requests: int = typer.Option(300, "--requests", min=10, help="Requests timed (after 5 warm-up)."),
    seed: int = typer.Option(0),
    db: int = typer.Option(
        8, "--db", min=0, max=15, help="Scratch Redis db filled by our materialize (flushed)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """p50/p99 of OnlineFeatureReader.read against stock get_online_features(reranker), same entities."""
    from foryou.runtime import open_runtime
    from pipelines.bench.online_bench import run_online_bench

    runtime = open_runtime(upgrade_schema=False)
    print_results(
        run_online_bench(
            runtime.settings, runtime.stores, candidates=candidates, requests=requests, seed=seed, db=db
        ),
        as_json,
    )


def register(bench_app: typer.Typer) -> None:
    """Add `materialize` and `online-features` to the `foryou bench` Typer."""
    bench_app.command("materialize")(materialize)
    bench_app.command("online-features")(online_features)
