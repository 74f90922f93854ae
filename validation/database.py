"""validate_database: the table suites on the rows already in Postgres (what `foryou validate` runs).

Column checks run on GX table assets (GX turns them into aggregate queries). Checks across tables —
references and "an event is not older than its video" — are SQL that selects the violating rows
(`UnexpectedRowsExpectation`), so an anti-join over 10M events runs inside Postgres instead of pulling ids
into Python. Several checks are also guarded by the schema's foreign keys and CHECKs: they pass on a
database written through migrations/, and catch rows loaded around them (triggers disabled during a
restore, a constraint added NOT VALID). Uniqueness of a primary key cannot be bypassed, so it is not
re-checked (the report lists it under `skipped`).

`since` limits every table to its rows from that time on (a query asset per table; column types still come
from the table), which keeps a nightly run proportional to a day's data; references still look at the
whole parent table.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from foryou.db import connect, describe_url, make_engine, sqlalchemy_url
from foryou.errors import SchemaError
from validation import gx_runtime
from validation.report import Severity, ValidationReport
from validation.suites import SUITES, TABLES, TIME_COLUMNS
from validation.suites.builder import ColumnKind, SuiteBuilder, gx_expectations

# Postgres type names as GX reports them (compared case-insensitively).
_SQL_TYPES: dict[str, list[str]] = {
    "id": ["BIGINT"],
    "integer": ["SMALLINT", "INTEGER", "BIGINT"],
    "real": ["REAL", "DOUBLE PRECISION", "NUMERIC", "SMALLINT", "INTEGER", "BIGINT"],
    "text": ["TEXT", "VARCHAR"],
    "timestamp": ["TIMESTAMP WITH TIME ZONE"],
    "boolean": ["BOOLEAN"],
}


@dataclass(frozen=True)
class TableShape:
    """What the database says about one table: its columns and its primary key."""

    columns: frozenset[str]
    primary_key: frozenset[str]


class TableSuiteBuilder(SuiteBuilder):
    """Builds a table's suite for a Postgres table of the given shape."""

    def __init__(
        self, table: str, now: datetime, shape: TableShape, future_tolerance: timedelta = timedelta(0)
    ) -> None:
        super().__init__(table, now, future_tolerance)
        self.shape = shape

    def has_column(self, column: str) -> bool:
        return column in self.shape.columns

    def unique(self, *columns: str, severity: Severity = Severity.CRITICAL, hint: str = "") -> None:
        if frozenset(columns) == self.shape.primary_key:
            self.skipped.append(
                f"{self.table}: ({', '.join(columns)}) is unique — the primary key guarantees it"
            )
            return
        super().unique(*columns, severity=severity, hint=hint)

    def type_expectation(self, column: str, kind: ColumnKind) -> Any:
        return gx_expectations().ExpectColumnValuesToBeInTypeList(column=column, type_list=_SQL_TYPES[kind])

    def type_hint(self, kind: ColumnKind) -> str:
        return f"the schema makes this column {' or '.join(_SQL_TYPES[kind][:2])}: run `foryou db upgrade`"

    def references(self, column: str, parent: str, parent_column: str | None = None) -> None:
        if not self.has_column(column):
            return
        parent_column = parent_column or column
        # Written as a join: GX wraps a join query's {batch} without an alias of its own, so `t` is ours.
        query = (
            f"SELECT t.{column} FROM {{batch}} t LEFT JOIN {parent} p ON p.{parent_column} = t.{column} "
            f"WHERE t.{column} IS NOT NULL AND p.{parent_column} IS NULL"
        )
        self.add(
            gx_expectations().UnexpectedRowsExpectation(unexpected_rows_query=query),
            column=column,
            description=f"{column} refers to a {parent} row",
            hint=f"insert the missing {parent} or delete the rows that name them",
        )

    def not_before(
        self,
        column: str,
        *,
        parent: str,
        key: str,
        parent_column: str,
        show: Sequence[str],
        severity: Severity,
        hint: str,
    ) -> None:
        if not (self.has_column(column) and self.has_column(key)):
            return
        shown = ", ".join(f"t.{c}" for c in dict.fromkeys([*show, column]))
        query = (
            f"SELECT {shown}, p.{parent_column} AS {parent}_{parent_column} "
            f"FROM {{batch}} t JOIN {parent} p ON p.{key} = t.{key} WHERE t.{column} < p.{parent_column}"
        )
        self.add(
            gx_expectations().UnexpectedRowsExpectation(unexpected_rows_query=query, severity=severity),
            column=column,
            description=f"{column} ≥ {parent}.{parent_column} of its {key}",
            hint=hint,
        )


def validate_database(
    db: sa.Engine | str,
    *,
    now: datetime | None = None,
    future_tolerance: timedelta = timedelta(0),
    since: datetime | None = None,
    tables: Sequence[str] | None = None,
) -> ValidationReport:
    """Run the suites on the tables in Postgres (`db`: an engine or a postgresql:// URL).

    Timestamps must not be later than `now` (default: the current time) plus `future_tolerance`
    (clock skew between the writers and this check); with `since`, only rows whose
    time column (events.ts, videos.uploaded_at, …) is at or after it are checked. Never raises on failed
    expectations: read `report.success` (False when a CRITICAL expectation failed).
    """
    tables = list(tables or TABLES)
    unknown = sorted(set(tables) - set(TABLES))
    if unknown:
        raise ValueError(f"No suite for table(s) {', '.join(unknown)}; tables may be: {', '.join(TABLES)}")
    if since is not None and since.tzinfo is None:
        raise ValueError(f"since must be timezone-aware (got {since!r})")
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    engine = make_engine(db) if isinstance(db, str) else db
    url = engine.url.render_as_string(hide_password=False)
    try:
        shapes = _shapes(engine, tables)
    finally:
        if isinstance(db, str):
            engine.dispose()
    source_label = describe_url(url) + (f" (rows since {since.isoformat()})" if since else "")
    report = ValidationReport(source=source_label, now=now)
    with gx_runtime.postgres_source(f"foryou_db_{uuid.uuid4().hex[:8]}", sqlalchemy_url(url)) as source:
        for table in tables:
            builder = TableSuiteBuilder(table, now, shapes[table], future_tolerance)
            SUITES[table](builder)
            report.skipped.extend(builder.skipped)
            whole = _batch(source.add_table_asset(table, table_name=table))
            window = whole if since is None else _batch(_window_asset(source, table, since))
            outcomes = []
            for expectations, result_format, on_whole_table in _runs(builder):
                batch = whole if on_whole_table else window
                result = batch.validate(_suite(table, expectations), result_format=result_format)
                outcomes.extend(gx_runtime.outcomes(result))
            report.outcomes.extend(outcomes)
            counts = [o.element_count for o in outcomes if o.element_count is not None]
            if counts:
                report.row_counts[table] = max(counts)
    report.seconds = time.perf_counter() - started
    return report


def _batch(asset: Any) -> Any:
    return asset.add_batch_definition_whole_table("all").get_batch()


def _window_asset(source: Any, table: str, since: datetime) -> Any:
    """A query asset over the rows of `table` whose time column is at or after `since`."""
    query = f"SELECT * FROM {table} WHERE {TIME_COLUMNS[table]} >= '{since.isoformat()}'::timestamptz"
    return source.add_query_asset(f"{table}_since", query=query)


def _shapes(engine: sa.Engine, tables: Sequence[str]) -> dict[str, TableShape]:
    """Columns and primary key per table; SchemaError when a table is missing."""
    with connect(engine, transaction=False) as conn:
        inspector = sa.inspect(conn)
        present = set(inspector.get_table_names())
        missing = [t for t in tables if t not in present]
        if missing:
            raise SchemaError(
                f"Table(s) {', '.join(missing)} missing in {describe_url(str(engine.url))}: "
                "run `foryou db upgrade`."
            )
        return {
            t: TableShape(
                columns=frozenset(c["name"] for c in inspector.get_columns(t)),
                primary_key=frozenset(inspector.get_pk_constraint(t)["constrained_columns"]),
            )
            for t in tables
        }


def _runs(builder: SuiteBuilder) -> list[tuple[list[Any], dict[str, Any], bool]]:
    """The suite in three runs: (expectations, result format, on the whole table rather than the window).

    Column types are table metadata (GX cannot read them from a query asset), so they always run on the
    table. Column checks run with BASIC (counts and a few values); COMPLETE there would fetch every
    failing value. Row queries need COMPLETE to return the violating rows at all (GX caps them at 200).
    """
    by_type: dict[str, list[Any]] = {"types": [], "columns": [], "queries": []}
    for expectation in builder.expectations:
        kind = {
            "expect_column_values_to_be_in_type_list": "types",
            "unexpected_rows_expectation": "queries",
        }.get(expectation.expectation_type, "columns")
        by_type[kind].append(expectation)
    runs = [
        (by_type["types"], gx_runtime.BASIC, True),
        (by_type["columns"], gx_runtime.BASIC, False),
        (by_type["queries"], gx_runtime.COMPLETE, False),
    ]
    return [run for run in runs if run[0]]


def _suite(table: str, expectations: list[Any]) -> Any:
    import great_expectations as gx

    return gx.ExpectationSuite(name=table, expectations=expectations)
