"""What a validation run found: one outcome per expectation, grouped by table, for people and for scripts.

This module never imports Great Expectations, so a report can be read, rendered and raised cheaply.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from foryou.errors import DataQualityError

MAX_EXAMPLES = 5


class Severity(StrEnum):
    """How bad a failed expectation is; the values are Great Expectations' `FailureSeverity` values."""

    CRITICAL = "critical"  # the data is wrong: nothing is written, `foryou validate` exits non-zero
    WARNING = "warning"  # suspicious but loadable: reported, never blocks
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "critical": 2}[self.value]


@dataclass(frozen=True)
class ExpectationOutcome:
    """The result of one expectation on one table."""

    table: str
    column: str | None
    expectation: str
    """Great Expectations' expectation type, e.g. expect_column_values_to_be_between."""
    description: str
    """The check in words, e.g. "dwell_ms ≥ 0"."""
    severity: Severity
    success: bool
    unexpected_count: int | None = None
    """Rows that break the expectation (None for checks on the whole column, like its type)."""
    element_count: int | None = None
    examples: list[Any] = field(default_factory=list)
    observed: str | None = None
    """What was seen, for checks without rows (e.g. the column's type)."""
    error: str | None = None
    """Set when the expectation itself could not run (a missing column, an incomparable type)."""
    hint: str = ""
    """What to do about a failure."""

    @property
    def failed(self) -> bool:
        return not self.success

    def problem(self) -> str:
        """One line for a person: where, which check, how many rows, examples, what to do."""
        where = f"{self.table}.{self.column}" if self.column else self.table
        if self.error:
            what = f"could not be checked: {self.error}"
        elif self.unexpected_count is not None:
            of = f" of {self.element_count:,}" if self.element_count is not None else ""
            what = f"{self.unexpected_count:,}{of} rows fail"
            if self.examples:
                what += ", e.g. " + ", ".join(_show(v) for v in self.examples[:3])
        else:
            what = f"observed {self.observed}" if self.observed else "failed"
        hint = f" — {self.hint}" if self.hint else ""
        return f"{where}: {self.description} [{self.expectation}, {self.severity.value}] {what}{hint}"


@dataclass
class ValidationReport:
    """Every expectation outcome of one run over a batch of frames or over the database."""

    source: str
    now: datetime
    outcomes: list[ExpectationOutcome] = field(default_factory=list)
    row_counts: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    """Checks that could not run and why (e.g. references to a table whose ids were not given)."""
    seconds: float = 0.0

    @property
    def success(self) -> bool:
        """True when no CRITICAL expectation failed (warnings never block)."""
        return not self.failures(Severity.CRITICAL)

    def failures(self, severity: Severity | None = None) -> list[ExpectationOutcome]:
        """Failed outcomes, optionally only those of exactly `severity`."""
        return [o for o in self.outcomes if o.failed and (severity is None or o.severity == severity)]

    @property
    def max_severity(self) -> Severity | None:
        """The worst severity among failures, None when everything passed."""
        failed = self.failures()
        return max((o.severity for o in failed), key=lambda s: s.rank) if failed else None

    def problems(self, severity: Severity | None = Severity.CRITICAL) -> list[str]:
        """One line per failure (critical ones by default), worst first."""
        failed = sorted(self.failures(severity), key=lambda o: -o.severity.rank)
        return [o.problem() for o in failed]

    def raise_for_critical(self) -> None:
        """Raise DataQualityError listing every critical failure; do nothing when there is none."""
        critical = self.failures(Severity.CRITICAL)
        if not critical:
            return
        tables = sorted({o.table for o in critical})
        raise DataQualityError(
            f"Data-quality checks failed for {self.source} ({len(critical)} critical expectation(s) on "
            f"{', '.join(tables)}); nothing was written. Fix the rows below and run again:",
            problems=self.problems(Severity.CRITICAL),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: summary first, then every outcome."""
        return {
            "source": self.source,
            "now": self.now.isoformat(),
            "success": self.success,
            "max_severity": self.max_severity.value if self.max_severity else None,
            "seconds": round(self.seconds, 3),
            "row_counts": dict(self.row_counts),
            "failed": {s.value: len(self.failures(s)) for s in Severity},
            "skipped": list(self.skipped),
            "outcomes": [_outcome_dict(o) for o in self.outcomes],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=str)

    def rich_table(self, *, failures_only: bool = False) -> Any:
        """A rich Table: one row per expectation (or per failure), failures first within each table."""
        from rich.table import Table

        table = Table(title=f"validation of {self.source}", show_lines=False)
        for name in ("table", "column", "check", "severity", "result", "unexpected", "examples"):
            table.add_column(name, overflow="fold")
        for o in self._ordered():
            if failures_only and o.success:
                continue
            style = "" if o.success else ("bold red" if o.severity == Severity.CRITICAL else "yellow")
            result = "ok" if o.success else ("error" if o.error else "FAIL")
            unexpected = "" if o.unexpected_count is None else f"{o.unexpected_count:,}"
            examples = o.error or ", ".join(_show(v) for v in o.examples[:3]) or (o.observed or "")
            table.add_row(
                o.table,
                o.column or "",
                o.description,
                o.severity.value,
                result,
                unexpected,
                examples,
                style=style,
            )
        return table

    def summary(self) -> str:
        """One line: passed or not, counts of failures by severity, rows seen, time taken."""
        failed = {s: len(self.failures(s)) for s in Severity}
        verdict = "PASSED" if self.success else "FAILED"
        rows = ", ".join(f"{t} {n:,}" for t, n in self.row_counts.items())
        return (
            f"{verdict}: {len(self.outcomes)} expectations, {failed[Severity.CRITICAL]} critical and "
            f"{failed[Severity.WARNING]} warning failures ({rows}) in {self.seconds:.1f} s"
        )

    def write_html(self, path: str | Path) -> None:
        """Write a self-contained HTML page a person can open in a browser."""
        from validation.html_report import render_html

        Path(path).write_text(render_html(self), encoding="utf-8")

    def _ordered(self) -> list[ExpectationOutcome]:
        tables = list(dict.fromkeys(o.table for o in self.outcomes))
        return sorted(self.outcomes, key=lambda o: (tables.index(o.table), o.success, -o.severity.rank))


def _outcome_dict(outcome: ExpectationOutcome) -> dict[str, Any]:
    data = asdict(outcome)
    data["severity"] = outcome.severity.value
    data["examples"] = [json_safe(v) for v in outcome.examples]
    return data


def json_safe(value: Any) -> Any:
    """Example values as plain JSON: timestamps as ISO text, numpy scalars as numbers, rows as dicts."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if type(value).__name__ in ("NAType", "NaTType"):  # pandas.NA / NaT, without importing pandas here
        return None
    if isinstance(value, np.datetime64):  # GX hands pair values over as UTC datetime64
        whole = value.astype("datetime64[s]")
        return f"{whole if whole == value else value.astype('datetime64[us]')}+00:00"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _show(value: Any) -> str:
    value = json_safe(value)
    text = json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
