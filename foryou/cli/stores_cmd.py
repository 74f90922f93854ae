"""foryou up | down | status: the embedded stores (or the configured ones)."""

from __future__ import annotations

import json

import typer
from rich.console import Console

from foryou.settings import get_settings
from foryou.stores import ensure_stores, stop_embedded_stores, store_status

console = Console()


def up() -> None:
    """Start embedded Postgres and Redis (for whichever URL is not configured) and print the URLs."""
    urls = ensure_stores(get_settings())
    console.print(f"postgres: {urls.database_url}{'  (embedded)' if urls.embedded_postgres else ''}")
    console.print(f"redis:    {urls.redis_url}{'  (embedded)' if urls.embedded_redis else ''}")


def down() -> None:
    """Stop the embedded stores under FORYOU_HOME (configured services are left alone)."""
    stopped = stop_embedded_stores(get_settings())
    for name, was_running in stopped.items():
        console.print(f"{name}: {'stopped' if was_running else 'was not running'}")


def status(as_json: bool = typer.Option(False, "--json", help="One JSON object for scripts.")) -> None:
    """Print the database and Redis URLs in use and whether the embedded servers run."""
    info = store_status(get_settings())
    if as_json:
        typer.echo(json.dumps(info))
        return
    for key, value in info.items():
        console.print(f"{key:28} {value}")


def register(app: typer.Typer) -> None:
    app.command()(up)
    app.command()(down)
    app.command()(status)
