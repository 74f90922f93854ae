"""Throw-away databases on the same server (benchmarks and tests), created and dropped around a block."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import sqlalchemy as sa

from foryou.db import libpq_url


def with_database(database_url: str, name: str) -> str:
    """The same server URL, pointing at database `name`."""
    return (
        sa.engine.make_url(libpq_url(database_url)).set(database=name).render_as_string(hide_password=False)
    )


def admin_connection(database_url: str) -> psycopg.Connection:
    """An autocommit connection to the server's `postgres` database (for CREATE/DROP DATABASE)."""
    return psycopg.connect(with_database(database_url, "postgres"), autocommit=True, connect_timeout=5)


def create_database(database_url: str, name: str, template: str | None = None) -> str:
    """Create database `name` (optionally from a template) and return its URL."""
    with admin_connection(database_url) as conn:
        suffix = f' TEMPLATE "{template}"' if template else ""
        conn.execute(f'CREATE DATABASE "{name}"{suffix}')
    return with_database(database_url, name)


def drop_database(database_url: str, name: str) -> None:
    """Drop database `name`, closing any connection still open on it."""
    with admin_connection(database_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def scratch_database(
    database_url: str, prefix: str = "foryou_scratch", template: str | None = None
) -> Iterator[str]:
    """A fresh database for the duration of the block; dropped afterwards even on error."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    url = create_database(database_url, name, template)
    try:
        yield url
    finally:
        drop_database(database_url, name)
