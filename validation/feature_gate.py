"""The Great Expectations gate on a staged feature batch: it must pass before the batch is written.

`pipelines.features.build` stages each batch in a temporary table and calls the gate on the same connection;
raising rolls the whole batch back, so nothing of a bad batch can ever be materialized.

The build's own SQL checks (pipelines/features/checks.py) cover every row of every batch with the same rules.
Great Expectations on a pandas frame costs about 0.2 ms per row for a 60-column view, so batches above
GX_MAX_ROWS (only the first, full build) are validated on a Bernoulli sample of that size.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from validation import gx_runtime
from validation.report import ValidationReport

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from pipelines.features.build import FeatureBatch
    from pipelines.features.spec import Column

GX_MAX_ROWS = 50_000

RANGES: dict[str, tuple[float | None, float | None]] = {
    "id": (0, None),
    "count": (0, None),
    "nonneg": (0, None),
    "ref": (-1, None),
    "rate": (0, 1),
}


def _labelled(expectation: Any, table: str, column: str, description: str, hint: str) -> Any:
    expectation.description = description
    expectation.meta = {"table": table, "column": column, "hint": hint}
    return expectation


def feature_suite(
    table: str, entity: str, columns: list[Column], start: datetime | None, end: datetime
) -> Any:
    """Expectations for one view's batch: keys present, timestamps inside the window, values in range."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    fix = "fix the feature SQL in pipelines/features; the batch was not written"
    expectations = [
        _labelled(gxe.ExpectColumnValuesToNotBeNull(column=entity), table, entity, f"{entity} is set", fix),
        _labelled(
            gxe.ExpectColumnValuesToBeBetween(column=entity, min_value=0), table, entity, f"{entity} ≥ 0", fix
        ),
        _labelled(
            gxe.ExpectColumnValuesToBeBetween(
                column="event_timestamp", min_value=start, max_value=end, strict_min=start is not None
            ),
            table,
            "event_timestamp",
            "event_timestamp inside the batch window",
            fix,
        ),
    ]
    for column in columns:
        expectations.append(
            _labelled(
                gxe.ExpectColumnValuesToNotBeNull(column=column.name),
                table,
                column.name,
                f"{column.name} is set",
                fix,
            )
        )
        if column.kind == "flag":
            expectations.append(
                _labelled(
                    gxe.ExpectColumnValuesToBeInSet(column=column.name, value_set=[0, 1]),
                    table,
                    column.name,
                    f"{column.name} is 0 or 1",
                    fix,
                )
            )
        elif column.kind in RANGES:
            low, high = RANGES[column.kind]
            words = f"{column.name} in [{low}, {high}]" if high is not None else f"{column.name} ≥ {low}"
            expectations.append(
                _labelled(
                    gxe.ExpectColumnValuesToBeBetween(column=column.name, min_value=low, max_value=high),
                    table,
                    column.name,
                    words,
                    fix,
                )
            )
    return gx.ExpectationSuite(name=f"feature_batch_{table}", expectations=expectations)


def validate_feature_frame(
    view_name: str, frame: pd.DataFrame, start: datetime | None, end: datetime
) -> ValidationReport:
    """Run the batch suite of `view_name` on `frame` (rows of that view's table) and return the report."""
    from pipelines.features.build import VIEWS

    view = VIEWS[view_name]
    report = ValidationReport(source=f"feature batch {view.table} ({start}, {end}]", now=end)
    report.row_counts[view.table] = len(frame)
    if not frame.empty:
        suite = feature_suite(view.table, view.entity, list(view.columns), start, end)
        result = gx_runtime.frame_batch(f"feature_batch_{view_name}", frame).validate(
            suite, result_format=gx_runtime.BASIC
        )
        report.outcomes.extend(gx_runtime.outcomes(result))
    return report


def gx_feature_gate(conn: Connection, batch: FeatureBatch) -> None:
    """Validate the staged rows of `batch` with Great Expectations; raise DataQualityError on failure."""
    sample = ""
    if batch.rows > GX_MAX_ROWS:
        sample = f" TABLESAMPLE BERNOULLI ({100.0 * GX_MAX_ROWS / batch.rows:.6f})"
    frame = pd.read_sql_query(f"SELECT * FROM {batch.staging}{sample}", conn)
    validate_feature_frame(batch.view, frame, batch.start, batch.end).raise_for_critical()
