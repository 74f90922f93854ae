"""foryou demo: the main job, end to end, on whatever stores are configured (embedded by default)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from foryou.errors import DataQualityError

console = Console()


def demo(
    users: int = typer.Option(5_000, "--users", min=1, help="Users in the demo world."),
    creators: int = typer.Option(500, "--creators", min=1),
    videos: int = typer.Option(20_000, "--videos", min=1),
    days: int = typer.Option(7, "--days", min=1),
    seed: int = typer.Option(0, "--seed", min=0),
    epochs: int | None = typer.Option(
        None, "--epochs", min=1, help="Training epochs (default: each model's)."
    ),
) -> None:
    """Stores and schema, simulate the demo world, validate it, build features, feast apply, materialize,
    train every model, build the ANN index, evaluate; summarise."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from foryou import feast_repo
    from foryou.runtime import open_runtime
    from validation import validate_database
    from worldsim import WorldConfig, simulate_into_database

    timings: dict[str, float] = {}

    def step(name: str, work: Callable[[], Any]) -> Any:
        console.rule(f"[bold]{name}")
        started = time.perf_counter()
        result = work()
        timings[name] = time.perf_counter() - started
        return result

    runtime = step("stores and schema", open_runtime)
    stores = runtime.stores
    console.print(f"postgres {stores.database_url}{' (embedded)' if stores.embedded_postgres else ''}")
    console.print(f"redis    {stores.redis_url}{' (embedded)' if stores.embedded_redis else ''}")

    config = WorldConfig(seed=seed, n_users=users, n_creators=creators, n_videos=videos, days=days)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())

    def simulate() -> Any:
        with Progress(*columns, console=console) as progress:
            return simulate_into_database(
                runtime.engine, config, runtime.settings.home, name="demo", replace=True, progress=progress
            )

    world = step("simulate the demo world", simulate)
    report = step("validate (Great Expectations)", lambda: validate_database(runtime.engine))
    reports_dir = runtime.settings.home / "reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    report.write_html(reports_dir / "validation.html")
    console.print(report.summary(), style="bold green" if report.success else "bold red")
    if not report.success:
        raise DataQualityError("The demo world failed validation:", problems=report.problems())

    until = config.start + dt.timedelta(days=days, hours=1)  # sessions may run a little past the window

    def build_features() -> Any:
        from pipelines.features.build import VIEWS, build
        from validation.feature_gate import gx_feature_gate

        # The world was just replaced: rebuild every feature table from scratch.
        tables = ", ".join(f"features.{name}" for name in VIEWS)
        with runtime.engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {tables}, features.build_state")

        def say(view: str, note: str) -> None:
            console.print(f"  {view}: {note}")

        return build(runtime.engine, until=until, progress=say, gate=gx_feature_gate)

    built = step("build feature tables (SQL in Postgres, GX gate)", build_features)

    def fresh_apply() -> Any:
        # A replaced world must not meet the last run's online rows or materialization watermarks.
        if (runtime.settings.home / "feast" / "registry.db").exists():
            feast_repo.feature_store(runtime.settings, runtime.stores).teardown()
        return feast_repo.apply(runtime.settings, runtime.stores)

    applied = step("feast apply", fresh_apply)
    console.print(", ".join(f"{kind}: {len(names)}" for kind, names in applied.items()))

    def materialize_online() -> Any:
        from pipelines.materialize.materialize import materialize

        store = feast_repo.feature_store(runtime.settings, runtime.stores)
        return materialize(store, stores.database_url, end=until, show_progress=True)

    materialized = step("materialize into Redis (foryou materialize)", materialize_online)

    def train_models() -> Any:
        import shutil

        from pipelines.train.common import TRAINERS, TrainOptions, trainer

        # Models of a replaced world were measured on another world's holdout: start a fresh artifacts folder.
        shutil.rmtree(runtime.settings.artifacts_dir, ignore_errors=True)
        options = TrainOptions(seed=seed, epochs=epochs)
        results = {}
        for name in TRAINERS:
            console.print(f"[bold]{name}")
            with Progress(*columns, console=console) as progress:
                results[name] = trainer(name).train(runtime, options, progress)
        return results

    trained = step("train models (foryou train all)", train_models)

    def build_index() -> Any:
        from pipelines.index.build import build
        from pipelines.index.embedder import default_embedder

        return build(runtime, default_embedder(runtime), seed=seed)

    index = step("build the ANN index (foryou index build)", build_index)

    def run_evaluation() -> Any:
        from foryou.cli.evaluate_cmd import print_evaluation
        from pipelines.evaluate.models import model_sources, ranking_stages
        from pipelines.evaluate.run import EvaluateOptions, evaluate

        result = evaluate(
            runtime,
            EvaluateOptions(seed=seed, world="demo"),
            model_sources=model_sources,
            ranking_stages=ranking_stages,
            say=lambda message: console.print(f"  {message}"),
        )
        print_evaluation(result, console)
        return result

    evaluation = step("evaluate (foryou evaluate)", run_evaluation)

    summary = Table(title="foryou demo")
    summary.add_column("what")
    summary.add_column("value", justify="right")
    for table, count in world.rows.items():
        summary.add_row(f"rows in {table}", f"{count:,}")
    for event_type, count in world.events_by_type.items():
        summary.add_row(f"  events: {event_type}", f"{count:,}")
    for view in built:
        summary.add_row(f"feature rows: {view.view}", f"{view.rows_written:,}")
    for result in materialized:
        summary.add_row(f"online rows: {result.view}", f"{result.rows_written:,}")
    for name, result in trained.items():
        m = result.artifact.manifest
        summary.add_row(f"model: {name}", f"{m.version} {m.primary_metric} {m.metrics[m.primary_metric]:.4f}")
    summary.add_row("ANN index", f"{index.version}: {index.count:,} vectors, {index.kind}")
    summary.add_row("evaluation report", str(evaluation.report))
    for name, seconds in timings.items():
        summary.add_row(f"time: {name}", f"{seconds:.1f} s")
    summary.add_row("validation report", str(reports_dir / "validation.html"))
    console.print(summary)


def register(app: typer.Typer) -> None:
    app.command()(demo)
