"""SQLAlchemy engine for the event log; one clear line when the database is down."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from foryou.errors import StoreUnavailableError


def sqlalchemy_url(database_url: str) -> str:
    """postgresql://… → postgresql+psycopg://… (psycopg 3 driver)."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url[len(prefix) :]
    raise StoreUnavailableError(f"Not a Postgres URL: {database_url!r}")


def libpq_url(database_url: str) -> str:
    """postgresql+psycopg://… → postgresql://… for psycopg.connect and libpq tools."""
    return "postgresql://" + sqlalchemy_url(database_url)[len("postgresql+psycopg://") :]


def make_engine(database_url: str) -> Engine:
    """An engine that fails fast (5 s connect timeout) instead of hanging on a dead server."""
    return sa.create_engine(
        sqlalchemy_url(database_url),
        pool_pre_ping=True,
        connect_args={"connect_timeout": 5},
    )


def describe_url(database_url: str) -> str:
    """The URL without its password, for messages."""
    return sa.engine.make_url(sqlalchemy_url(database_url)).render_as_string(hide_password=True)


@contextmanager
def connect(engine: Engine, *, transaction: bool = True) -> Iterator[Connection]:
    """A connection (inside one transaction by default); a down database becomes StoreUnavailableError."""
    try:
        conn_cm = engine.begin() if transaction else engine.connect()
        conn = conn_cm.__enter__()
    except sa.exc.OperationalError as exc:
        raise StoreUnavailableError(
            f"Cannot reach Postgres at {engine.url.render_as_string(hide_password=True)}: "
            f"{str(exc.orig).strip().splitlines()[0] if exc.orig else exc}. "
            "Start it (foryou up) or fix FORYOU_DATABASE_URL."
        ) from exc
    try:
        yield conn
    except BaseException as exc:
        if not conn_cm.__exit__(type(exc), exc, exc.__traceback__):
            raise
    else:
        conn_cm.__exit__(None, None, None)
