"""validate_frames: the table suites on a batch of pandas frames, before any of it is written.

References between tables (events.user_id → users, …) are checked against the ids of the same batch plus
the ids the caller says already exist (`known_ids`). Great Expectations' `expect_column_values_to_be_in_set`
is not used for them: GX 1.24 re-serialises an expectation's value set ~100 times per run, which costs
about 0.1 ms per id — 50 s for 500k known video ids on 1M events. Instead pandas computes, per row, the id
if it is *unknown* (a hash lookup, ~0.1 s for 1M rows) and GX expects that derived column to be empty; the
failing examples are then the unknown ids themselves.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from validation import gx_runtime
from validation.report import Severity, ValidationReport
from validation.suites import SUITES, TABLES
from validation.suites.builder import ColumnKind, SuiteBuilder, gx_expectations

IdCollection: TypeAlias = Collection[int] | np.ndarray | pd.Series | pd.Index

_INTEGER = [
    *(f"int{bits}" for bits in (8, 16, 32, 64)),
    *(f"uint{bits}" for bits in (8, 16, 32)),  # not uint64: it does not fit a Postgres BIGINT
    *(f"Int{bits}Dtype" for bits in (8, 16, 32, 64)),
    *(f"UInt{bits}Dtype" for bits in (8, 16, 32)),
    "int",  # Python ints in an object column
]
_FLOAT = ["float32", "float64", "Float32Dtype", "Float64Dtype", "float"]
# GX 1.24 matches a tz-aware pandas dtype only by its scalar type (pd.Timestamp) and a string dtype only by
# `str`, so those kinds use expect_column_values_to_be_of_type; the rest take a list of dtypes.
_PANDAS_TYPES: dict[str, list[str] | str] = {
    "id": _INTEGER,
    "integer": _INTEGER,
    "real": _FLOAT + _INTEGER,
    "text": "str",
    "timestamp": "Timestamp",
    "boolean": ["bool", "BooleanDtype"],
}
_PANDAS_HINTS: dict[str, str] = {
    "id": "ids are whole numbers; a float column loses precision: convert with .astype('Int64')",
    "integer": "convert with .astype('Int64') (a float column cannot be loaded into an integer column)",
    "real": "convert with pd.to_numeric",
    "text": "convert with .astype('string')",
    "timestamp": "parse with pd.to_datetime(..., utc=True); naive timestamps are ambiguous",
    "boolean": "convert with .astype('boolean')",
}


class FrameBatch:
    """The frames of one batch and the ids known to exist outside it; answers id and lookup questions."""

    def __init__(
        self,
        frames: Mapping[str, pd.DataFrame],
        known_ids: Mapping[str, IdCollection] | None,
        check_references: bool = True,
    ) -> None:
        self.frames = frames
        self.known_ids = known_ids or {}
        self.check_references = check_references

    def ids(self, table: str, column: str) -> np.ndarray | None:
        """Ids of `table` from the caller's known ids and the batch's frame; None when neither is given."""
        parts = []
        if table in self.known_ids:
            parts.append(_as_array(self.known_ids[table]))
        frame = self.frames.get(table)
        if frame is not None and column in frame:
            parts.append(frame[column].dropna().to_numpy())
        return np.concatenate(parts) if parts else None

    def lookup(self, table: str, key: str, column: str) -> pd.Series | None:
        """`column` of `table` indexed by `key` (first row per key), when the batch has that frame."""
        frame = self.frames.get(table)
        if frame is None or key not in frame or column not in frame:
            return None
        rows = frame[[key, column]].dropna(subset=[key]).drop_duplicates(subset=[key])
        return rows.set_index(key)[column]


class FrameSuiteBuilder(SuiteBuilder):
    """Builds a table's suite for one pandas frame; `derived` holds the extra columns its checks read."""

    def __init__(
        self,
        table: str,
        now: datetime,
        frame: pd.DataFrame,
        batch: FrameBatch,
        future_tolerance: timedelta = timedelta(0),
    ) -> None:
        super().__init__(table, now, future_tolerance)
        self.frame = frame
        self.batch = batch
        self.derived: dict[str, pd.Series] = {}

    def has_column(self, column: str) -> bool:
        return column in self.frame.columns

    def type_expectation(self, column: str, kind: ColumnKind) -> Any:
        gxe = gx_expectations()
        types = _PANDAS_TYPES[kind]
        if isinstance(types, str):
            return gxe.ExpectColumnValuesToBeOfType(column=column, type_=types)
        return gxe.ExpectColumnValuesToBeInTypeList(column=column, type_list=types)

    def type_hint(self, kind: ColumnKind) -> str:
        return _PANDAS_HINTS[kind]

    def references(self, column: str, parent: str, parent_column: str | None = None) -> None:
        if not self.has_column(column):
            return
        parent_column = parent_column or column
        if not self.batch.check_references:
            self.skipped.append(f"{self.table}.{column} → {parent}.{parent_column}: left to the caller")
            return
        known = self.batch.ids(parent, parent_column)
        if known is None:
            self.skipped.append(
                f"{self.table}.{column} → {parent}.{parent_column}: not checked (no {parent} in the batch "
                f"and no known_ids['{parent}'])"
            )
            return
        values = self.frame[column]
        if pd.api.types.is_integer_dtype(values.dtype):
            values = values.astype("Int64")
        derived = f"{column} not in {parent}"
        # The derived column holds the unknown ids only, so "it is empty" == "every id is known".
        self.derived[derived] = values.where(~values.isin(known))
        self.add(
            gx_expectations().ExpectColumnValuesToBeNull(column=derived),
            column=column,
            description=f"{column} refers to a {parent} row",
            hint=f"add the missing {parent} (in this batch, or load them first)",
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
        lookup = self.batch.lookup(parent, key, parent_column)
        if lookup is None:
            self.skipped.append(
                f"{self.table}.{column} ≥ {parent}.{parent_column}: not checked ({parent} not in the batch)"
            )
            return
        derived = f"{parent}.{parent_column}"
        self.derived[derived] = self.frame[key].map(lookup)
        self.add(
            gx_expectations().ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=column,
                column_B=derived,
                or_equal=True,
                ignore_row_if="either_value_is_missing",
                severity=severity,
            ),
            column=column,
            description=f"{column} ≥ {parent}.{parent_column} of its {key}",
            hint=hint,
        )


def validate_frames(
    frames: Mapping[str, pd.DataFrame],
    *,
    known_ids: Mapping[str, IdCollection] | None = None,
    now: datetime | None = None,
    future_tolerance: timedelta = timedelta(0),
    check_references: bool = True,
    source: str = "batch",
    raise_on_critical: bool = True,
) -> ValidationReport:
    """Run the suites of every table in `frames` (users, creators, videos, follows, blocks, events).

    `known_ids` maps a table name to ids that already exist outside the batch (e.g. {"users": ids in the
    database}); references are checked against those plus the batch's own rows, and skipped (listed in
    `report.skipped`) for a parent table that is neither. A parent frame in the batch counts as complete:
    for an incremental batch whose rows may name parents stored earlier, pass those in `known_ids`, or
    `check_references=False` when the caller checks references against the database itself.

    Timestamps must not be later than `now` (default: the current time) plus `future_tolerance` (clock
    skew the caller accepts).

    Raises DataQualityError when a CRITICAL expectation fails, unless `raise_on_critical` is False;
    otherwise returns the report (warnings never raise).
    """
    unknown = sorted(set(frames) - set(TABLES))
    if unknown:
        raise ValueError(f"No suite for table(s) {', '.join(unknown)}; frames may be: {', '.join(TABLES)}")
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    batch = FrameBatch(frames, known_ids, check_references)
    report = ValidationReport(source=source, now=now)
    for table in TABLES:
        frame = frames.get(table)
        if frame is None:
            continue
        builder = FrameSuiteBuilder(table, now, frame, batch, future_tolerance)
        SUITES[table](builder)
        report.row_counts[table] = len(frame)
        report.skipped.extend(builder.skipped)
        data = frame.assign(**builder.derived) if builder.derived else frame
        result = gx_runtime.frame_batch(table, data).validate(builder.suite(), result_format=gx_runtime.BASIC)
        report.outcomes.extend(gx_runtime.outcomes(result))
    report.seconds = time.perf_counter() - started
    if raise_on_critical:
        report.raise_for_critical()
    return report


def _as_array(ids: IdCollection) -> np.ndarray:
    if isinstance(ids, (set, frozenset)):
        return np.fromiter(ids, dtype=np.int64, count=len(ids))
    return np.asarray(ids)
