"""One error hierarchy: every failure a person can fix is a ForyouError whose message says what and how."""

from __future__ import annotations


class ForyouError(Exception):
    """Base of every error foryou raises on purpose; the CLI prints its message and exits non-zero."""

    exit_code: int = 1


class ConfigError(ForyouError):
    """A setting or configuration file is invalid."""

    exit_code = 2


class StoreUnavailableError(ForyouError):
    """Postgres or Redis cannot be reached or started."""

    exit_code = 3


class SchemaError(ForyouError):
    """The database schema is missing or at the wrong revision."""

    exit_code = 4


class InputValidationError(ForyouError):
    """Input data (a file, a row, a field) is invalid; nothing from its batch was written."""

    exit_code = 5

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = problems or []
        detail = "".join(f"\n  - {p}" for p in self.problems[:20])
        more = f"\n  … and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        super().__init__(message + detail + more)


class DataQualityError(InputValidationError):
    """A Great Expectations suite failed on a batch; the batch was not written."""
