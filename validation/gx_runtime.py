"""The process's Great Expectations context, and GX results read back as report outcomes.

One ephemeral context per process (creating it and importing GX take seconds); frames go through one
pandas data source whose assets are reused run after run.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from validation.report import MAX_EXAMPLES, ExpectationOutcome, Severity, json_safe

PANDAS_SOURCE = "foryou_frames"
BASIC: dict[str, Any] = {"result_format": "BASIC", "partial_unexpected_count": MAX_EXAMPLES}
# Query expectations only report the violating rows in COMPLETE; GX fetches at most 200 of them anyway.
COMPLETE: dict[str, Any] = {"result_format": "COMPLETE"}

_lock = threading.Lock()
_context: Any = None


def context() -> Any:
    """The ephemeral GX context of this process (created on first use, progress bars off)."""
    global _context
    with _lock:
        if _context is None:
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            ctx = gx.get_context(mode="ephemeral")
            ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
            _context = ctx
        return _context


def frame_batch(table: str, frame: Any) -> Any:
    """A GX batch over `frame`, through the pandas data source's asset for `table`."""
    ctx = context()
    with _lock:
        try:
            source = ctx.data_sources.get(PANDAS_SOURCE)
        except KeyError:
            source = ctx.data_sources.add_pandas(PANDAS_SOURCE)
        try:
            asset = source.get_asset(table)
        except LookupError:
            asset = source.add_dataframe_asset(table)
            asset.add_batch_definition_whole_dataframe("whole")
        definition = asset.get_batch_definition("whole")
    return definition.get_batch(batch_parameters={"dataframe": frame})


@contextmanager
def postgres_source(name: str, sqlalchemy_url: str) -> Iterator[Any]:
    """A GX Postgres data source for the duration of the block; removed (and its pool closed) after."""
    ctx = context()
    source = ctx.data_sources.add_postgres(name, connection_string=sqlalchemy_url)
    try:
        yield source
    finally:
        try:  # GX's own close() is a no-op; dispose the pools it opened so the database can be dropped
            source.get_execution_engine().engine.dispose()
            source.get_engine().dispose()
        finally:
            ctx.data_sources.delete(name)


def outcomes(result: Any) -> list[ExpectationOutcome]:
    """Report outcomes from a GX ExpectationSuiteValidationResult, in suite order."""
    return [outcome(r) for r in result.results]


def outcome(result: Any) -> ExpectationOutcome:
    """One report outcome from a GX ExpectationValidationResult (labels come from the expectation's meta)."""
    config = result.expectation_config
    meta = config.meta or {}
    details = result.result or {}
    unexpected = details.get("unexpected_count")
    examples = list(details.get("partial_unexpected_list") or [])
    observed = details.get("observed_value")
    if "unexpected_rows" in (details.get("details") or {}):  # UnexpectedRowsExpectation
        unexpected, observed = observed, None
        examples = [_row_example(row) for row in details["details"]["unexpected_rows"]]
    error = _first_line(_exception_message(result.exception_info))
    return ExpectationOutcome(
        table=str(meta.get("table", "")),
        column=meta.get("column"),
        expectation=config.type,
        description=config.description or config.type,
        severity=Severity(_severity_value(config)),
        success=bool(result.success) and error is None,
        unexpected_count=None if unexpected is None else int(unexpected),
        element_count=details.get("element_count"),
        examples=_distinct(examples)[:MAX_EXAMPLES],
        observed=None if observed is None else str(observed),
        error=error,
        hint=str(meta.get("hint", "")),
    )


def _distinct(values: list[Any]) -> list[Any]:
    """Examples without repeats (a duplicated id would fill every slot) or nulls (they say nothing)."""
    seen: list[Any] = []
    for value in values:
        if json_safe(value) is not None and value not in seen:
            seen.append(value)
    return seen


def _first_line(message: str | None, limit: int = 300) -> str | None:
    """The first line of an error (GX appends the SQL and a traceback link), cut to `limit` characters."""
    if not message:
        return message
    line = message.strip().splitlines()[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _severity_value(config: Any) -> str:
    severity = getattr(config, "severity", None) or Severity.CRITICAL
    return str(getattr(severity, "value", severity))


def _row_example(row: Any) -> Any:
    """A violating row as an example: the bare value when the query selects one column."""
    if isinstance(row, dict) and len(row) == 1:
        return next(iter(row.values()))
    return dict(row) if isinstance(row, dict) else row


def _exception_message(info: Any) -> str | None:
    """The first exception message in GX's exception_info (flat, or keyed by metric), else None."""
    if not info:
        return None
    if isinstance(info, dict) and "raised_exception" in info:
        return str(info.get("exception_message")) if info.get("raised_exception") else None
    if isinstance(info, dict):
        for value in info.values():
            message = _exception_message(value if isinstance(value, dict) else getattr(value, "__dict__", {}))
            if message:
                return message
    raised = getattr(info, "raised_exception", False)
    return str(getattr(info, "exception_message", "")) if raised else None
