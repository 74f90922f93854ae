"""Great Expectations suites and the gates that run them.

    validate_frames(frames, known_ids=…, now=…)   a batch before it is written (raises DataQualityError)
    validate_database(engine_or_url, now=…)      the tables already in Postgres (`foryou validate`)

Both return a ValidationReport. Importing this package is cheap: Great Expectations is imported only when a
validation runs.
"""

from __future__ import annotations

from validation.database import validate_database
from validation.frames import validate_frames
from validation.report import ExpectationOutcome, Severity, ValidationReport

__all__ = ["ExpectationOutcome", "Severity", "ValidationReport", "validate_database", "validate_frames"]
