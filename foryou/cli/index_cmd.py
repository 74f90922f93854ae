"""foryou index build|update|status: the candidate index over every video (artifacts/index/<version>/)."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="The ANN index of video embeddings that retrieval searches (build, update, status).",
    no_args_is_help=True,
)
console = Console()

EMBEDDER_OPTION = typer.Option(
    "two-tower",
    "--embedder",
    help="two-tower: the current two-tower model's video tower. content-projection: a fixed random "
    "projection of the content vectors, to try the pipeline before a model exists (not for serving).",
)
DIM_OPTION = typer.Option(32, "--dim", min=1, help="Output dimension of --embedder content-projection.")
BATCH_OPTION = typer.Option(2048, "--batch-size", min=1, help="Videos read and embedded per batch.")
VIDEO_ID_OPTION = typer.Option(
    None, "--video-id", help="Also re-embed this video (repeatable), even if its row did not change."
)
TARGET_OPTION = typer.Option(
    0.95, "--target-recall", min=0.0, max=1.0, help="Raise nprobe/efSearch until recall@100 reaches this."
)


def _embedder(runtime, name: str, dim: int):  # type: ignore[no-untyped-def]
    from foryou.errors import ConfigError
    from pipelines.index import default_embedder
    from pipelines.index.content_embedder import ContentProjectionEmbedder

    if name == "two-tower":
        return default_embedder(runtime)
    if name == "content-projection":
        return ContentProjectionEmbedder(dim=dim)
    raise ConfigError(f"Unknown embedder {name!r}; choose two-tower or content-projection.")


def _print_report(report, as_json: bool, target_recall: float) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import asdict

    if report.swapped and report.recall_at_100 < target_recall:
        Console(stderr=True).print(
            f"[yellow]warning:[/] recall@100 {report.recall_at_100:.3f} is below the target {target_recall} "
            f"even at {report.search_params} (the knob's ceiling); consider --kind ivf or a rebuild."
        )
    if as_json:
        print(json.dumps(asdict(report)), flush=True)
        return
    if not report.swapped:
        console.print(f"index {report.version} is up to date ({report.count:,} videos); no new version")
        return
    console.print(
        f"index [bold]{report.version}[/] is current: {report.count:,} {report.kind} vectors of dim "
        f"{report.dim} from {report.model_version}; recall@100 {report.recall_at_100:.3f} "
        f"at {report.search_params}; "
        f"+{report.added:,} added, {report.changed:,} re-embedded, {report.removed:,} removed "
        f"in {report.seconds:.1f} s" + (f" (from {report.base_version})" if report.base_version else "")
    )


@app.command()
def build(
    kind: str = typer.Option("ivf", "--kind", help="ivf (default, see docs/index.md) or hnsw."),
    embedder: str = EMBEDDER_OPTION,
    dim: int = DIM_OPTION,
    batch_size: int = BATCH_OPTION,
    target_recall: float = TARGET_OPTION,
    seed: int = typer.Option(0, "--seed", min=0),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
) -> None:
    """Embed every video, build the index, measure its recall, publish it and make it current."""
    from foryou.runtime import open_runtime
    from pipelines.index import build as build_index
    from pipelines.ingest.progress import RichProgress

    runtime = open_runtime()
    model = _embedder(runtime, embedder, dim)
    with RichProgress() as progress:
        report = build_index(
            runtime,
            model,
            kind=kind,
            batch_size=batch_size,
            progress=progress,
            target_recall=target_recall,
            seed=seed,
        )
    _print_report(report, as_json, target_recall)


@app.command()
def update(
    video_id: list[int] | None = VIDEO_ID_OPTION,
    embedder: str = EMBEDDER_OPTION,
    dim: int = DIM_OPTION,
    batch_size: int = BATCH_OPTION,
    target_recall: float = TARGET_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
) -> None:
    """Add new videos, re-embed changed ones, drop deleted ones: a new version, swapped in."""
    from foryou.runtime import open_runtime
    from pipelines.index import update as update_index
    from pipelines.ingest.progress import RichProgress

    runtime = open_runtime()
    model = _embedder(runtime, embedder, dim)
    with RichProgress() as progress:
        report = update_index(
            runtime,
            model,
            video_ids=video_id or [],
            batch_size=batch_size,
            progress=progress,
            target_recall=target_recall,
        )
    _print_report(report, as_json, target_recall)


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """The current index: version, size, kind, dim, model, watermark, age, and what it is missing."""
    from foryou.runtime import open_runtime
    from pipelines.index import status as index_status

    record = index_status(open_runtime(upgrade_schema=False)).as_dict()
    if as_json:
        print(json.dumps(record), flush=True)
        return
    table = Table(title="index (current)", show_header=False)
    for key, value in record.items():
        table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    console.print(table)
