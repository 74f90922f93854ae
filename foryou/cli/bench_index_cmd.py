"""`foryou bench index`: recall@100 and query latency of our ANN index against exact search, same run."""

from __future__ import annotations

import typer
from rich.console import Console

from foryou.cli.bench_cmd import JSON_OPTION
from pipelines.bench.result import print_results


def index(
    n: int = typer.Option(1_000_000, "--n", min=1_000, help="Vectors indexed."),
    kind: str = typer.Option("ivf", "--kind", help="ivf (what `foryou index build` uses) or hnsw."),
    source: str = typer.Option(
        "auto",
        "--vectors",
        help="auto (two-tower model if one exists, else clustered), two-tower, content-projection, "
        "clustered.",
    ),
    dim: int | None = typer.Option(None, "--dim", min=1, help="Dimension of synthetic vectors (default 64)."),
    queries: int = typer.Option(1_000, "--queries", min=10, help="Queries timed against our index."),
    exact_queries: int = typer.Option(200, "--exact-queries", min=10, help="Queries timed on exact search."),
    target_recall: float = typer.Option(0.95, "--target-recall", min=0.0, max=1.0),
    seed: int = typer.Option(0, "--seed", min=0),
    as_json: bool = JSON_OPTION,
) -> None:
    """Recall@100 vs exact IndexFlatIP and p50/p99 per-query latency on one thread (ratio = speedup)."""
    from foryou.runtime import open_runtime
    from pipelines.bench.index_bench import run_index_bench

    runtime = open_runtime(upgrade_schema=False)
    results = run_index_bench(
        runtime,
        n=n,
        kind=kind,
        source=source,
        dim=dim,
        queries=queries,
        exact_queries=exact_queries,
        target_recall=target_recall,
        seed=seed,
    )
    print_results(results, as_json)
    if not as_json:  # the table rounds recall to one decimal and has no room for where the vectors came from
        d = results[0].details
        Console().print(
            f"recall@100 {results[0].ours:.4f} · {d['n']:,} × {d['dim']} vectors: {d['vectors']} · "
            f"{kind} {d['build']} {d['search']} (recall while tuning: {d['tuning_recall']}) · "
            f"built in {d['build_s']} s · one query per call, one thread",
            highlight=False,
        )


def register(bench_app: typer.Typer) -> None:
    """Add `index` to the `foryou bench` Typer."""
    bench_app.command("index")(index)
