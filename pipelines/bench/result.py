"""One benchmark figure and how it is printed (a rich table, or one JSON object per line)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass(frozen=True)
class BenchResult:
    """`ours` against `baseline`; `ratio` is how many times better ours is (above 1: ours wins)."""

    metric: str
    unit: str
    ours: float
    baseline: float
    higher_is_better: bool
    baseline_name: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        if self.higher_is_better:
            return self.ours / self.baseline if self.baseline else float("inf")
        return self.baseline / self.ours if self.ours else float("inf")

    def as_json(self) -> str:
        record = asdict(self)
        record["ratio"] = round(self.ratio, 3)
        details = record.pop("details")
        return json.dumps({**record, **details})


def print_results(results: Sequence[BenchResult], as_json: bool, console: Console | None = None) -> None:
    """Print results for people (a table) or for scripts (JSON lines on stdout)."""
    if as_json:
        for result in results:
            print(result.as_json(), flush=True)
        return
    table = Table(title="benchmark (ours vs stock, same run)")
    for column in ("metric", "ours", "baseline", "ratio", "baseline is"):
        table.add_column(column, justify="right" if column in ("ours", "baseline", "ratio") else "left")
    for r in results:
        table.add_row(
            r.metric,
            f"{r.ours:,.1f} {r.unit}",
            f"{r.baseline:,.1f} {r.unit}",
            f"{r.ratio:,.1f}×",
            r.baseline_name,
        )
    (console or Console()).print(table)
