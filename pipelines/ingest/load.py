"""The one validated load path every ingest takes (generic files and data set adapters alike).

    raw tables → edge checks → defaults and derived rows → quality gate → one transaction:
    reference checks → COPY every table (existing keys skipped) → record the batch

Any problem found before the COPY raises InputValidationError and the transaction writes nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection, Engine

from foryou import migrate
from foryou.db import connect
from foryou.errors import InputValidationError
from foryou.schema import ingest_batches
from pipelines.ingest import batch as batch_mod
from pipelines.ingest import formats
from pipelines.ingest.batch import IngestBatch
from pipelines.ingest.copy_load import copy_rows
from pipelines.ingest.edge_checks import TABLE_COLUMNS, parse_table
from pipelines.ingest.problems import Problems
from pipelines.ingest.progress import Advance, NoProgress, ProgressSink
from pipelines.ingest.readers import RawTable
from pipelines.ingest.references import check_references

LOAD_ORDER = ("creators", "users", "videos", "follows", "events")
COPY_COLUMNS = {"creators": ("creator_id", "joined_at"), **TABLE_COLUMNS}


@dataclass
class TableCount:
    """Rows of one table in the batch, and how many of them were new to the database."""

    rows_in: int
    rows_new: int


@dataclass
class IngestReport:
    """What one ingest did."""

    batch_id: str
    source: str
    counts: dict[str, TableCount] = field(default_factory=dict)
    first_loaded_at: datetime | None = None
    """When this batch id was first recorded, if that was an earlier run (then every count is 0 new)."""
    seconds: float = 0.0

    @property
    def rerun(self) -> bool:
        return self.first_loaded_at is not None

    def row_counts(self) -> dict[str, dict[str, int]]:
        return {name: {"in": c.rows_in, "new": c.rows_new} for name, c in self.counts.items()}


def quality_gate(batch: IngestBatch, now: datetime) -> None:
    """Batch-level data-quality checks (the Great Expectations suites) on the parsed frames, before any write.

    Runs with the clock the edge checks used (`now`, `formats.FUTURE_TOLERANCE`); references to stored users
    and videos are checked afterwards, inside the transaction (references.py). Raises DataQualityError.
    """
    from validation.frames import validate_frames

    validate_frames(
        batch.frames(),
        now=now,
        future_tolerance=formats.FUTURE_TOLERANCE,
        check_references=False,
        source=batch.source,
    )


def _values(series: pd.Series) -> list[Any]:
    """A column as Python values for COPY, missing → None."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return [None if pd.isna(t) else t for t in series.array.to_pydatetime().tolist()]
    if series.dtype == object:
        return [None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else v for v in series]
    return series.astype(object).where(series.notna(), None).tolist()


def _rows(frame: pd.DataFrame, table: str) -> Iterable[tuple[Any, ...]]:
    columns = []
    for name in COPY_COLUMNS[table]:
        if name == "attributes":
            columns.append([json.dumps(a, sort_keys=True) for a in frame[name].tolist()])
        else:
            columns.append(_values(frame[name]))
    return zip(*columns, strict=True)


def _copy_batch(conn: Connection, batch: IngestBatch, progress: ProgressSink) -> dict[str, TableCount]:
    counts: dict[str, TableCount] = {}
    for table in LOAD_ORDER:
        frame = batch.frame(table)
        if frame is None:
            continue
        new = 0
        if len(frame):
            on_progress, inserted = _two_phase_progress(progress, table, len(frame))
            new = copy_rows(conn, table, COPY_COLUMNS[table], _rows(frame, table), on_progress=on_progress)
            inserted()
        counts[table] = TableCount(rows_in=len(frame), rows_new=new)
    return counts


def _two_phase_progress(progress: ProgressSink, table: str, rows: int) -> tuple[Advance, Callable[[], None]]:
    """Bars for the COPY into the staging table, then for Postgres' insert (keys, foreign keys, indexes).

    The insert is one statement and often the longer phase; without a bar of its own a finished COPY bar
    would look like a hang.
    """
    copy = progress.task(f"copy {table}", rows)
    copied = 0
    insert: Advance | None = None

    def advance(n: int) -> None:
        nonlocal copied, insert
        copy(n)
        copied += n
        if copied >= rows and insert is None:
            insert = progress.task(f"insert {table} (keys, indexes)", 1)

    def done() -> None:
        if insert is not None:
            insert(1)

    return advance, done


def _record(conn: Connection, report: IngestReport) -> datetime | None:
    """Insert the ingest_batches row; returns the first load time if the batch id was already recorded."""
    inserted = conn.execute(
        insert(ingest_batches)
        .values(batch_id=report.batch_id, source=report.source, row_counts=report.row_counts())
        .on_conflict_do_nothing(index_elements=["batch_id"])
        .returning(ingest_batches.c.batch_id)
    ).first()
    if inserted is not None:
        return None
    return conn.execute(
        sa.select(ingest_batches.c.loaded_at).where(ingest_batches.c.batch_id == report.batch_id)
    ).scalar_one()


def ingest_tables(
    engine: Engine,
    raws: list[RawTable],
    *,
    source: str,
    problems: Problems | None = None,
    progress: ProgressSink | None = None,
    now: datetime | None = None,
) -> IngestReport:
    """Validate `raws` completely, then load them in one transaction; any problem → nothing written.

    `problems` may already hold what the readers found (an unreadable file); they are reported together
    with everything else, so one run lists all the fixes a batch needs.
    """
    started = time.perf_counter()
    problems = problems if problems is not None else Problems()
    progress = progress or NoProgress()
    now = now or datetime.now(UTC)
    checked = progress.task("check rows", sum(len(raw.frame) for raw in raws))
    parsed = {}
    for raw in raws:
        table = parse_table(raw, problems, now)
        if table is not None:
            parsed[raw.table] = table
        checked(len(raw.frame))
    batch = IngestBatch(source=source, batch_id=batch_mod.batch_id_for(source, raws), tables=parsed)
    if not problems:
        derived = progress.task("derive ids and defaults", 1)
        batch_mod.complete(batch, now)
        derived(1)
        quality_gate(batch, now)
    migrate.require_head(engine)
    report = IngestReport(batch_id=batch.batch_id, source=source)
    with connect(engine) as conn:
        check_references(conn, batch.tables, problems)
        problems.raise_if_any()
        try:
            report.counts = _copy_batch(conn, batch, progress)
        except psycopg.Error as exc:  # a check the edge validation does not repeat (it should not happen)
            detail = str(exc).strip().splitlines()[0]
            raise InputValidationError(
                f"Postgres rejected batch {batch.batch_id} ({detail}); nothing was written. "
                "Check the rows against docs/ingest.md."
            ) from exc
        report.first_loaded_at = _record(conn, report)
    report.seconds = time.perf_counter() - started
    return report
