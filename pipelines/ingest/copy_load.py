"""Bulk loading through Postgres COPY, idempotent by primary key, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

Row = Sequence[Any]


def _psycopg(conn: Connection) -> Any:
    """The psycopg 3 connection under a SQLAlchemy connection (same transaction)."""
    return conn.connection.driver_connection


def copy_rows(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Row],
    *,
    skip_existing: bool = True,
    on_progress: Callable[[int], None] | None = None,
    progress_every: int = 50_000,
) -> int:
    """COPY `rows` into `table` and return how many new rows were written.

    With `skip_existing` the rows go to a temporary staging table first and are inserted with
    `ON CONFLICT DO NOTHING`, so re-loading the same batch (same primary keys) writes nothing twice.
    Without it rows are copied straight into the table (fastest; any duplicate key fails the batch).
    Nothing is committed here: the caller's transaction decides, so a failed batch writes nothing.
    """
    cols = ", ".join(f'"{c}"' for c in columns)
    target = table
    cursor = _psycopg(conn).cursor()
    if skip_existing:
        target = f"_stage_{table}"
        cursor.execute(f'CREATE TEMP TABLE "{target}" (LIKE "{table}" INCLUDING DEFAULTS) ON COMMIT DROP')
    written = 0
    with cursor.copy(f'COPY "{target}" ({cols}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(row)
            written += 1
            if on_progress is not None and written % progress_every == 0:
                on_progress(progress_every)
    if on_progress is not None:
        on_progress(written % progress_every)
    if not skip_existing:
        return written
    cursor.execute(f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM "{target}" ON CONFLICT DO NOTHING')
    inserted = cursor.rowcount
    cursor.execute(f'DROP TABLE "{target}"')
    return int(inserted)


def insert_rows_one_by_one(conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Row]) -> int:
    """The naive baseline: one INSERT statement per row (what `foryou bench ingest` compares COPY with)."""
    cols = ", ".join(f'"{c}"' for c in columns)
    params = ", ".join(f":p{i}" for i in range(len(columns)))
    statement = sa.text(f'INSERT INTO "{table}" ({cols}) VALUES ({params}) ON CONFLICT DO NOTHING')
    written = 0
    for row in rows:
        written += conn.execute(statement, {f"p{i}": v for i, v in enumerate(row)}).rowcount
    return written
