"""foryou features apply | yaml: register the Feast repo in feature_repo/ against the configured stores."""

from __future__ import annotations

import typer
from rich.console import Console

console = Console()


def apply() -> None:
    """`feast apply` for feature_repo/ (checks every view's fields against its table first)."""
    from foryou import feast_repo
    from foryou.runtime import open_runtime

    runtime = open_runtime()
    applied = feast_repo.apply(runtime.settings, runtime.stores)
    for kind, names in applied.items():
        console.print(f"{kind}: {', '.join(names)}")
    console.print(
        f"feature_store.yaml for the feast CLI: {feast_repo.render_yaml(runtime.settings, runtime.stores)}"
    )


def register(features_app: typer.Typer) -> None:
    features_app.command()(apply)
