"""Sanity checks on a staged feature batch, run before anything is written: one aggregate query per batch."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from foryou.errors import DataQualityError
from pipelines.features.spec import BuildWindow, Column, FeatureView

_NOT_FINITE = "IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8)"


class FeatureBatchError(DataQualityError):
    """A feature batch failed a check (built-in or the gate); nothing of it was committed."""


def _column_checks(column: Column) -> list[tuple[str, str]]:
    """(description, condition true for a bad row) for one column; NULL is always bad."""
    name = column.name
    checks = [(f"{name} is NULL", f"{name} IS NULL")]
    double = column.sql_type == "DOUBLE PRECISION"
    if double:
        checks.append((f"{name} is NaN or infinite", f"{name} {_NOT_FINITE}"))
    if column.kind in ("count", "id"):
        checks.append((f"{name} < 0", f"{name} < 0"))
    elif column.kind == "rate":
        checks.append((f"{name} outside [0, 1]", f"NOT ({name} >= 0 AND {name} <= 1)"))
    elif column.kind == "flag":
        checks.append((f"{name} not 0 or 1", f"{name} NOT IN (0, 1)"))
    elif column.kind == "nonneg":
        checks.append((f"{name} < 0", f"{name} < 0"))
    elif column.kind == "ref":
        checks.append((f"{name} < -1 (-1 means none)", f"{name} < -1"))
    return checks


def batch_checks(view: FeatureView, window: BuildWindow) -> list[tuple[str, str]]:
    """Every check of a batch of `view` built over `window`, as (description, bad-row condition)."""
    inside = "event_timestamp <= :end" + (" AND event_timestamp > :start" if window.start is not None else "")
    checks = [
        (f"{view.entity} is NULL or negative", f"{view.entity} IS NULL OR {view.entity} < 0"),
        ("event_timestamp outside the batch window", f"event_timestamp IS NULL OR NOT ({inside})"),
    ]
    for column in view.columns:
        checks += _column_checks(column)
    return checks


def _grouped_checks(view: FeatureView, window: BuildWindow) -> list[str]:
    """The same checks folded into a few conditions over all columns (LEAST/GREATEST), for the fast pass."""
    inside = "event_timestamp <= :end" + (" AND event_timestamp > :start" if window.start is not None else "")
    everything = ", ".join([view.entity, "event_timestamp", *view.column_names])
    conditions = [f"num_nulls({everything}) > 0", f"{view.entity} < 0 OR NOT ({inside})"]
    doubles = [c.name for c in view.columns if c.sql_type == "DOUBLE PRECISION"]
    if doubles:
        listed = ", ".join(doubles)
        # NaN sorts above every number in Postgres, so GREATEST finds it.
        conditions.append(
            f"GREATEST({listed}) IN ('NaN'::float8, 'Infinity'::float8) "
            f"OR LEAST({listed}) = '-Infinity'::float8"
        )
    lower = {"count": 0, "id": 0, "rate": 0, "flag": 0, "nonneg": 0, "ref": -1}
    for bound in sorted(set(lower.values())):
        names = [c.name for c in view.columns if lower.get(c.kind) == bound]
        if names:
            conditions.append(f"LEAST({', '.join(names)}) < {bound}")
    upper = [c.name for c in view.columns if c.kind in ("rate", "flag")]
    if upper:
        conditions.append(f"GREATEST({', '.join(upper)}) > 1")
    return conditions


def _count_bad(conn: Connection, staging: str, conditions: list[str], window: BuildWindow) -> list[int]:
    counts = ", ".join(f"count(*) FILTER (WHERE {condition})" for condition in conditions)
    row = conn.execute(sa.text(f"SELECT count(*), {counts} FROM {staging}"), window.params()).one()
    return [int(n) for n in row]


def check_batch(conn: Connection, view: FeatureView, window: BuildWindow, staging: str) -> int:
    """Run the checks on temporary table `staging`; return its row count or raise FeatureBatchError.

    A fast pass folds the checks into a few conditions; only when one fails does a second pass name the
    columns and count the bad rows of each.
    """
    rows, *bad = _count_bad(conn, staging, _grouped_checks(view, window), window)
    if not any(bad):
        return rows
    checks = batch_checks(view, window)
    _, *bad = _count_bad(conn, staging, [condition for _, condition in checks], window)
    problems = [f"{n} row(s): {description}" for (description, _), n in zip(checks, bad, strict=True) if n]
    raise FeatureBatchError(
        f"{view.table} batch for event_timestamp in ({window.start or '-infinity'}, {window.end}] "
        f"failed {len(problems)} check(s); nothing was written. This is a bug in the feature SQL or bad "
        "rows in the event log: inspect the rows named below.",
        problems,
    )
