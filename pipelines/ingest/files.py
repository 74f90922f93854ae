"""`foryou ingest files`: load users, videos, follows and events files of the generic format (docs/ingest.md).

All the files given form one batch: they are read and validated completely, then written in one
transaction, or not at all.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from foryou.errors import InputValidationError
from pipelines.ingest.load import IngestReport, ingest_tables
from pipelines.ingest.problems import Problems
from pipelines.ingest.progress import NoProgress, ProgressSink
from pipelines.ingest.readers import RawTable, read_table_file


def _labels(paths: dict[str, Path]) -> dict[str, str]:
    """File names in messages; the full path when two files of the batch share a name."""
    names = [p.name for p in paths.values()]
    return {table: (p.name if names.count(p.name) == 1 else str(p)) for table, p in paths.items()}


def ingest_files(
    engine: Engine,
    *,
    users: Path | str | None = None,
    videos: Path | str | None = None,
    follows: Path | str | None = None,
    events: Path | str | None = None,
    progress: ProgressSink | None = None,
    now: datetime | None = None,
) -> IngestReport:
    """Validate and load any subset of the four files as one batch; InputValidationError if any is bad."""
    given = {"users": users, "videos": videos, "follows": follows, "events": events}
    paths = {table: Path(path) for table, path in given.items() if path is not None}
    if not paths:
        raise InputValidationError(
            "No files given: pass at least one of --users, --videos, --follows, --events."
        )
    progress = progress or NoProgress()
    problems = Problems()
    labels = _labels(paths)
    raws: list[RawTable] = []
    for table, path in paths.items():
        raw = read_table_file(table, path, problems, progress, label=labels[table])
        if raw is not None:
            raws.append(raw)
    source = "files:" + ",".join(f"{table}={labels[table]}" for table in paths)
    return ingest_tables(engine, raws, source=source, problems=problems, progress=progress, now=now)
