"""ValidationReport without Great Expectations: verdicts, messages, JSON, HTML; and the lazy import rule."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from foryou.errors import DataQualityError
from validation.report import ExpectationOutcome, Severity, ValidationReport, json_safe

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def outcome(success: bool, severity: Severity = Severity.CRITICAL, **kwargs: object) -> ExpectationOutcome:
    fields: dict[str, object] = {
        "table": "events",
        "column": "dwell_ms",
        "expectation": "expect_column_values_to_be_between",
        "description": "dwell_ms ≥ 0",
        "severity": severity,
        "success": success,
        "unexpected_count": 0 if success else 2,
        "element_count": 10,
        "examples": [] if success else [-5, -1],
        "hint": "dwell is milliseconds",
    }
    fields.update(kwargs)
    return ExpectationOutcome(**fields)  # type: ignore[arg-type]


def report(*outcomes: ExpectationOutcome) -> ValidationReport:
    return ValidationReport(source="events.csv", now=NOW, outcomes=list(outcomes), row_counts={"events": 10})


def test_only_critical_failures_fail_the_report() -> None:
    assert report(outcome(True)).success
    warned = report(outcome(True), outcome(False, Severity.WARNING))
    assert warned.success and warned.max_severity == Severity.WARNING
    failed = report(outcome(False, Severity.WARNING), outcome(False))
    assert not failed.success and failed.max_severity == Severity.CRITICAL
    assert [o.severity for o in failed.failures(Severity.CRITICAL)] == [Severity.CRITICAL]


def test_problem_line_names_place_check_count_examples_and_fix() -> None:
    line = outcome(False).problem()
    assert line == (
        "events.dwell_ms: dwell_ms ≥ 0 [expect_column_values_to_be_between, critical] "
        "2 of 10 rows fail, e.g. -5, -1 — dwell is milliseconds"
    )
    broken = outcome(False, error="column dwell_ms not found", unexpected_count=None).problem()
    assert "could not be checked: column dwell_ms not found" in broken
    typed = outcome(False, unexpected_count=None, examples=[], observed="float64").problem()
    assert "observed float64" in typed


def test_raise_for_critical_lists_only_critical_problems() -> None:
    report(outcome(True), outcome(False, Severity.WARNING)).raise_for_critical()  # no error
    with pytest.raises(DataQualityError) as info:
        report(outcome(False, Severity.WARNING), outcome(False, column="ts")).raise_for_critical()
    assert "events.csv" in str(info.value) and "nothing was written" in str(info.value)
    assert len(info.value.problems) == 1 and info.value.problems[0].startswith("events.ts:")


def test_json_is_plain_and_complete() -> None:
    weird = outcome(
        False,
        examples=[
            np.int64(3),
            pd.Timestamp("2025-12-01", tz="UTC"),
            float("nan"),
            pd.NA,
            {"id": np.float32(1.5)},
        ],
    )
    data = json.loads(report(outcome(True), weird).to_json())
    assert data["success"] is False and data["max_severity"] == "critical"
    assert data["failed"] == {"critical": 1, "warning": 0, "info": 0}
    assert data["row_counts"] == {"events": 10}
    assert data["outcomes"][1]["examples"] == [3, "2025-12-01T00:00:00+00:00", None, None, {"id": 1.5}]
    assert data["outcomes"][1]["severity"] == "critical"


def test_json_safe_renders_numpy_datetimes_as_utc_text() -> None:
    assert json_safe(np.datetime64("2025-12-01T01:02:03.000000000")) == "2025-12-01T01:02:03+00:00"
    assert json_safe(np.datetime64("2025-12-01T01:02:03.250000000")) == "2025-12-01T01:02:03.250000+00:00"


def test_html_report_is_escaped_and_shows_failures_with_their_fix(tmp_path: Path) -> None:
    bad = outcome(False, examples=["<script>"], hint="drop rows with <b>negative</b> dwell")
    path = tmp_path / "report.html"
    report(outcome(True, column="ts", description="ts ≤ now"), bad).write_html(path)
    page = path.read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "drop rows with &lt;b&gt;negative&lt;/b&gt; dwell" in page
    assert "FAILED" in page and "ts ≤ now" in page and "events (10 rows)" in page
    assert page.index("dwell_ms ≥ 0") < page.index("ts ≤ now")  # failures first


def test_rich_table_can_show_failures_only() -> None:
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(
        report(outcome(True, column="ts", description="ts ≤ now"), outcome(False)).rich_table(
            failures_only=True
        )
    )
    text = console.export_text()
    assert "dwell_ms ≥ 0" in text and "ts ≤ now" not in text


def test_importing_validation_and_the_cli_command_does_not_import_great_expectations() -> None:
    code = (
        "import sys, validation.frames, validation.database, validation.suites, foryou.cli.validate_cmd;"
        "sys.exit('great_expectations' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
