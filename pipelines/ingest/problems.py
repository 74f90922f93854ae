"""Collect per-row input problems from vectorised checks and turn them into one InputValidationError.

A check hands over a boolean mask of bad rows; only the first few rows per check become messages, so a
file with a million bad rows is reported in milliseconds, with a count of the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from foryou.errors import InputValidationError

ROW_CONVENTION = "rows are numbered from 1 = the first data row after the header"


@dataclass
class RowOrigin:
    """Where the rows of a frame came from: a file label (one, or one per row), 1-based data row numbers."""

    label: str | np.ndarray
    rows: np.ndarray

    @classmethod
    def of_file(cls, label: str, n_rows: int) -> RowOrigin:
        return cls(label=label, rows=np.arange(1, n_rows + 1, dtype=np.int64))

    def at(self, position: int) -> tuple[str, int]:
        label = self.label if isinstance(self.label, str) else str(self.label[position])
        return label, int(self.rows[position])

    def labels(self) -> list[str]:
        return [self.label] if isinstance(self.label, str) else sorted({str(x) for x in self.label})


def show(value: Any) -> str:
    """A value as it appears in a message: quoted, shortened, '(empty)' for a missing value."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return "(empty)"
    text = str(value)
    return repr(text if len(text) <= 60 else text[:57] + "...")


@dataclass
class Problems:
    """Problems found in one batch: messages for the first `per_check` rows of each check, counts of all."""

    per_check: int = 5
    messages: list[str] = field(default_factory=list)
    total: int = 0
    files: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return self.total > 0

    def file_problem(self, label: str, message: str) -> None:
        """A problem with a whole file (unreadable, a missing or unknown column)."""
        self.total += 1
        self.files.add(label)
        self.messages.append(f"{label}: {message}")

    def rows(
        self,
        origin: RowOrigin,
        column: str,
        bad: np.ndarray | pd.Series,
        values: pd.Series | None,
        what: str | Callable[[Any], str],
        *,
        place: str | None = None,
    ) -> None:
        """Record every row where `bad` is true; `what` says what is wrong and what to do (given the value).

        `place` replaces "field COLUMN" in the message when the problem is not about one field.
        """
        mask = np.asarray(bad, dtype=bool)
        positions = np.flatnonzero(mask)
        if positions.size == 0:
            return
        self.total += int(positions.size)
        for position in positions[: self.per_check]:
            label, row = origin.at(int(position))
            self.files.add(label)
            value = values.iloc[position] if values is not None else None
            text = what(value) if callable(what) else f"got {show(value)}; {what}"
            self.messages.append(f"{label}, row {row}, {place or 'field ' + column}: {text}")
        rest = int(positions.size) - self.per_check
        if rest > 0:
            labels = ", ".join(origin.labels())
            self.messages.append(
                f"{labels}, {place or 'field ' + column}: {rest:,} more rows with the same problem"
            )

    def raise_if_any(self) -> None:
        """Raise one InputValidationError listing the problems; nothing of the batch has been written."""
        if not self:
            return
        files = ", ".join(sorted(self.files)) or "the input"
        noun = "problem" if self.total == 1 else "problems"
        raise InputValidationError(
            f"{self.total:,} {noun} in {files}; nothing from this batch was written. "
            f"Fix the rows below and run the same command again ({ROW_CONVENTION}).",
            problems=self.messages,
        )
