"""Reference checks: every user and video an event or follow names is in this batch or already stored.

Creators are never unknown: the batch creates the ones it names (see batch.derive_creators).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipelines.ingest.edge_checks import ParsedTable
from pipelines.ingest.problems import Problems

# (table that refers, its column, table referred to, the option that supplies the referred table)
REFERENCES = (
    ("events", "user_id", "users", "--users"),
    ("events", "video_id", "videos", "--videos"),
    ("follows", "user_id", "users", "--users"),
)


def _stored(conn: Connection, table: str, column: str, ids: np.ndarray) -> np.ndarray:
    """The subset of `ids` that already has a row in `table`."""
    if ids.size == 0:
        return ids
    found = conn.execute(
        sa.text(f"SELECT {column} FROM {table} WHERE {column} = ANY(:ids)"), {"ids": ids.tolist()}
    ).scalars()
    return np.fromiter(found, dtype=np.int64)


def check_references(conn: Connection, tables: dict[str, ParsedTable], problems: Problems) -> None:
    """Record a problem for each row naming a user or video found neither in the batch nor in the database."""
    for table, column, target, option in REFERENCES:
        if table not in tables:
            continue
        parsed = tables[table]
        values = parsed.frame[column]
        present = values.notna().to_numpy()
        ids = values[present].to_numpy(dtype=np.int64)
        in_batch = np.zeros(0, dtype=np.int64)
        if target in tables:
            in_batch = tables[target].frame[column].dropna().to_numpy(dtype=np.int64)
        candidates = np.setdiff1d(np.unique(ids), in_batch)
        unknown_ids = np.setdiff1d(candidates, _stored(conn, target, column, candidates))
        if unknown_ids.size == 0:
            continue
        unknown = np.zeros(len(values), dtype=bool)
        unknown[np.flatnonzero(present)] = np.isin(ids, unknown_ids)
        problems.rows(parsed.origin, column, unknown, values, _unknown_message(target, option))


def _unknown_message(target: str, option: str) -> Callable[[Any], str]:
    def message(value: Any) -> str:
        return (
            f"{target[:-1]} {value} is neither in this batch's {target} file nor in the database; "
            f"add it to the file given with {option}, or load it first"
        )

    return message
