"""foryou bench …: performance figures, each against the stock baseline measured in the same run."""

from __future__ import annotations

import typer

from pipelines.bench.result import print_results

app = typer.Typer(
    help="Benchmarks: ours vs the stock baseline, measured in the same run.", no_args_is_help=True
)

JSON_OPTION = typer.Option(
    False, "--json", help="One JSON object per line: metric, unit, ours, baseline, ratio."
)


@app.command()
def ingest(
    events: int = typer.Option(200_000, min=1_000, help="Events loaded through COPY."),
    insert_events: int = typer.Option(
        10_000, min=100, help="Events loaded by row-by-row INSERT (the baseline)."
    ),
    seed: int = typer.Option(0),
    as_json: bool = JSON_OPTION,
) -> None:
    """Events/s of COPY loading (our ingest path) against row-by-row INSERT, in a scratch database."""
    from foryou.runtime import open_runtime
    from pipelines.bench.ingest_bench import run_ingest_bench

    runtime = open_runtime(upgrade_schema=False)
    print_results([run_ingest_bench(runtime.stores.database_url, events, insert_events, seed)], as_json)
