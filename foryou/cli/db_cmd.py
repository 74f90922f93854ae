"""foryou db upgrade | downgrade | current: the event-log schema (Alembic)."""

from __future__ import annotations

import typer
from rich.console import Console

from foryou.settings import get_settings
from foryou.stores import ensure_stores

app = typer.Typer(help="Database schema migrations (Alembic).", no_args_is_help=True)
console = Console()


def _migrate():  # type: ignore[no-untyped-def]
    from foryou import migrate  # alembic is slow to import; only the db commands need it

    return migrate


def _database_url() -> str:
    return ensure_stores(get_settings()).database_url


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Upgrade the schema (default: to the newest revision)."""
    url = _database_url()
    _migrate().upgrade(url, revision)
    console.print(f"schema at revision {_migrate().current_revision(url)}")


@app.command()
def downgrade(
    revision: str = typer.Argument(..., help="Target revision, or 'base' to drop everything."),
) -> None:
    """Downgrade the schema to REVISION."""
    url = _database_url()
    _migrate().downgrade(url, revision)
    console.print(f"schema at revision {_migrate().current_revision(url) or 'base'}")


@app.command()
def current() -> None:
    """Print the schema revision of the database."""
    console.print(_migrate().current_revision(_database_url()) or "base")
