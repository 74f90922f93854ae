"""Build one table's Great Expectations suite from short declarations, for frames or for Postgres.

A suite module (users.py, events.py, …) says what must hold — "event_id is a required, unique text column",
"dwell_ms ≥ 0" — through a SuiteBuilder. The two builders differ only where the engines do:

- FrameSuiteBuilder (validation/frames.py): pandas dtypes; references and cross-table checks are evaluated
  against id sets and lookups from the batch (or ids the caller knows) through derived columns.
- TableSuiteBuilder (validation/database.py): SQL column types; references and cross-table checks are
  queries that select the violating rows (`UnexpectedRowsExpectation`), run inside Postgres.

Great Expectations is imported on first use only (it takes seconds), so importing a suite module is free.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from validation.report import Severity

ColumnKind = Literal["id", "integer", "real", "text", "timestamp", "boolean"]


def gx_expectations() -> Any:
    """`great_expectations.expectations`, imported on first use."""
    import great_expectations.expectations as gxe

    return gxe


def gx_column(name: str) -> Any:
    """A column for a Great Expectations row condition (`gx_column("event_type") == "impression"`)."""
    from great_expectations.expectations.row_conditions import Column

    return Column(name)


class SuiteBuilder(ABC):
    """Collects the expectations of one table; checks on columns the data lacks are left out."""

    def __init__(self, table: str, now: datetime, future_tolerance: timedelta = timedelta(0)) -> None:
        if now.tzinfo is None:
            raise ValueError(f"now must be timezone-aware (got {now!r}); use datetime.now(UTC)")
        self.table = table
        self.now = now
        self.future_tolerance = future_tolerance
        self.expectations: list[Any] = []
        self.skipped: list[str] = []

    # --- what differs between engines -------------------------------------------------------------

    @abstractmethod
    def has_column(self, column: str) -> bool:
        """Whether the data has this column."""

    @abstractmethod
    def type_expectation(self, column: str, kind: ColumnKind) -> Any:
        """The expectation that `column` holds values of `kind`."""

    @abstractmethod
    def type_hint(self, kind: ColumnKind) -> str:
        """What to do when a column is not of `kind`."""

    @abstractmethod
    def references(self, column: str, parent: str, parent_column: str | None = None) -> None:
        """Every non-null `column` value is a `parent_column` of a row in table `parent`."""

    @abstractmethod
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
        """`column` ≥ `parent.parent_column` of the parent row that `key` names (rows without one pass)."""

    # --- declarations shared by both engines ------------------------------------------------------

    def column(self, name: str, kind: ColumnKind, *, required: bool = False, hint: str = "") -> None:
        """Declare a column: its type; a required column must exist and be non-null in every row."""
        gxe = gx_expectations()
        if not self.has_column(name):
            if required:
                self.add(
                    gxe.ExpectColumnToExist(column=name),
                    column=name,
                    description=f"column {name} is present",
                    hint=f"add the {name} column; it is required",
                )
            return
        self.add(
            self.type_expectation(name, kind),
            column=name,
            description=f"{name} holds {KIND_WORDS[kind]}",
            hint=hint or self.type_hint(kind),
        )
        if required:
            self.add(
                gxe.ExpectColumnValuesToNotBeNull(column=name),
                column=name,
                description=f"{name} is never empty",
                hint=f"fill in {name} in every row",
            )

    def unique(self, *columns: str, severity: Severity = Severity.CRITICAL, hint: str = "") -> None:
        """No two rows share the value (or the combination of values) of `columns`."""
        if not all(self.has_column(c) for c in columns):
            return
        gxe = gx_expectations()
        if len(columns) == 1:
            expectation = gxe.ExpectColumnValuesToBeUnique(column=columns[0], severity=severity)
            description = f"{columns[0]} is unique"
        else:
            expectation = gxe.ExpectCompoundColumnsToBeUnique(column_list=list(columns), severity=severity)
            description = f"({', '.join(columns)}) is unique"
        self.add(expectation, column=",".join(columns), description=description, hint=hint)

    def between(
        self,
        column: str,
        min_value: float | None = None,
        max_value: float | None = None,
        *,
        strict_min: bool = False,
        severity: Severity = Severity.CRITICAL,
        hint: str = "",
    ) -> None:
        """min_value ≤ column ≤ max_value (strict_min: min_value < column); nulls pass."""
        if not self.has_column(column):
            return
        low = None if min_value is None else f"{min_value:g} {'<' if strict_min else '≤'} "
        high = None if max_value is None else f" ≤ {max_value:g}"
        if low and high:
            words = f"{low}{column}{high}"
        elif low:
            words = f"{column} {'>' if strict_min else '≥'} {min_value:g}"
        else:
            words = f"{column}{high}"
        self.add(
            gx_expectations().ExpectColumnValuesToBeBetween(
                column=column,
                min_value=min_value,
                max_value=max_value,
                strict_min=strict_min,
                severity=severity,
            ),
            column=column,
            description=words,
            hint=hint,
        )

    def one_of(
        self, column: str, values: Iterable[str], *, severity: Severity = Severity.CRITICAL, hint: str = ""
    ) -> None:
        """Every non-null value is one of `values` (a short, fixed vocabulary)."""
        if not self.has_column(column):
            return
        allowed = list(values)
        expectation = gx_expectations().ExpectColumnValuesToBeInSet(
            column=column, value_set=allowed, severity=severity
        )
        self.add(
            expectation,
            column=column,
            description=f"{column} is one of {', '.join(allowed)}",
            hint=hint,
        )

    def not_in_future(self, column: str, *, hint: str = "") -> None:
        """Timestamps are not later than the run's `now` (plus the tolerance for clock skew)."""
        if not self.has_column(column):
            return
        bound = self.now + self.future_tolerance
        skew = f" + {self.future_tolerance}" if self.future_tolerance else ""
        self.add(
            gx_expectations().ExpectColumnValuesToBeBetween(
                column=column, max_value=bound, severity=Severity.CRITICAL
            ),
            column=column,
            description=f"{column} ≤ now{skew} ({bound.isoformat(timespec='seconds')})",
            hint=hint or "timestamps must be UTC and not in the future; check the time zone of the source",
        )

    def not_null_where(
        self, column: str, *, where: tuple[str, str], severity: Severity = Severity.WARNING, hint: str = ""
    ) -> None:
        """`column` is filled in on every row whose `where[0]` equals `where[1]`."""
        other, value = where
        if not (self.has_column(column) and self.has_column(other)):
            return
        self.add(
            gx_expectations().ExpectColumnValuesToNotBeNull(
                column=column, row_condition=gx_column(other) == value, severity=severity
            ),
            column=column,
            description=f"{column} is filled in when {other} = {value}",
            hint=hint,
        )

    def add(self, expectation: Any, *, column: str | None, description: str, hint: str) -> None:
        """Append `expectation`, labelled for the report (table, column, words, what to do)."""
        expectation.description = description
        expectation.meta = {"table": self.table, "column": column, "hint": hint}
        self.expectations.append(expectation)

    def suite(self) -> Any:
        """The Great Expectations suite of everything declared so far."""
        import great_expectations as gx

        return gx.ExpectationSuite(name=self.table, expectations=list(self.expectations))


KIND_WORDS: dict[str, str] = {
    "id": "integer ids",
    "integer": "integers",
    "real": "numbers",
    "text": "text",
    "timestamp": "timezone-aware timestamps",
    "boolean": "true/false values",
}
