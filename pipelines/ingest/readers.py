"""Read one table file (CSV or Parquet, by extension) into a raw frame, reporting unreadable rows by number.

CSV cells are read as text and parsed later by pipelines.ingest.columns, so a bad cell becomes a message
about that row rather than a failed file. Parquet columns keep their types (the parsers accept both).
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from pipelines.ingest.problems import Problems, RowOrigin
from pipelines.ingest.progress import Advance, NoProgress, ProgressSink

CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass
class RawTable:
    """The rows of one generic-format table as read, before any parsing."""

    table: str
    frame: pd.DataFrame
    origin: RowOrigin
    label: str
    fingerprint: str
    """A hash of the content (file bytes, or what an adapter read), for the deterministic batch id."""


def file_fingerprint(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    mapping = {pa.string(): pd.StringDtype("pyarrow"), pa.large_string(): pd.StringDtype("pyarrow")}
    return table.to_pandas(types_mapper=mapping.get)


class _CountingReader(io.RawIOBase):
    """A binary file that reports the bytes read to a progress bar."""

    def __init__(self, path: Path, advance: Advance) -> None:
        self._handle = path.open("rb")
        self._advance = advance

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._handle.readinto(buffer)
        self._advance(n or 0)
        return n or 0

    def close(self) -> None:
        self._handle.close()
        super().close()


def _read_header(path: Path, label: str, problems: Problems) -> list[str] | None:
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        header = next(csv.reader(handle), None)
    if not header or not any(name.strip() for name in header):
        problems.file_problem(
            label, "the file is empty; the first line must be a header with the column names"
        )
        return None
    names = [name.strip() for name in header]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        problems.file_problem(label, f"column {', '.join(duplicated)} appears twice in the header; keep one")
        return None
    return names


def read_csv(
    table: str, path: Path, label: str, problems: Problems, progress: ProgressSink
) -> RawTable | None:
    """A CSV file with a header row; every cell as text (empty → missing)."""
    header = _read_header(path, label, problems)
    if header is None:
        return None
    bad_rows: list[tuple[int | None, int, int, str]] = []

    def on_bad_row(row: Any) -> str:
        bad_rows.append((row.number, row.expected_columns, row.actual_columns, row.text))
        return "skip"

    reader = _CountingReader(path, progress.task(f"read {label}", path.stat().st_size, unit="bytes"))
    try:
        arrow = pa_csv.read_csv(
            reader,
            # Single-threaded: the only mode in which pyarrow reports the number of a malformed row.
            read_options=pa_csv.ReadOptions(use_threads=False, block_size=8 << 20),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_bad_row),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        problems.file_problem(label, f"cannot be read as CSV ({exc}); save it as UTF-8 CSV with a header row")
        return None
    finally:
        reader.close()
    frame = _arrow_to_pandas(arrow)
    frame.columns = header
    rows = _data_row_numbers(arrow.num_rows, bad_rows)
    if bad_rows:
        _report_malformed(label, bad_rows, len(header), problems)
    return RawTable(table, frame, RowOrigin(label, rows), label, file_fingerprint(path))


def _data_row_numbers(kept: int, bad_rows: list[tuple[int | None, int, int, str]]) -> np.ndarray:
    """Data row numbers (1-based, header excluded) of the rows pyarrow kept, skipping the malformed ones."""
    skipped = np.array([number - 1 for number, *_ in bad_rows if number is not None], dtype=np.int64)
    all_rows = np.arange(1, kept + len(bad_rows) + 1, dtype=np.int64)
    if skipped.size != len(bad_rows):  # numbers unknown: keep a plain count
        return np.arange(1, kept + 1, dtype=np.int64)
    return np.setdiff1d(all_rows, skipped, assume_unique=True)


def _report_malformed(
    label: str, bad_rows: list[tuple[int | None, int, int, str]], n_columns: int, problems: Problems
) -> None:
    numbers = np.array([(number or 1) - 1 for number, *_ in bad_rows], dtype=np.int64)
    details = pd.Series([f"{text!r} has {actual} fields" for _, _, actual, text in bad_rows])
    problems.rows(
        RowOrigin(label, numbers),
        "*",
        np.ones(len(bad_rows), dtype=bool),
        details,
        lambda detail: (
            f"{detail}, the header has {n_columns}; "
            "quote a value that contains a comma, or fill in the missing cells"
        ),
        place="all fields (malformed row)",
    )


def read_parquet(
    table: str, path: Path, label: str, problems: Problems, progress: ProgressSink
) -> RawTable | None:
    """A Parquet file; columns keep their types."""
    try:
        parquet = pq.ParquetFile(path)
        advance = progress.task(f"read {label}", parquet.metadata.num_rows)
        pieces = []
        for group in range(parquet.num_row_groups):
            piece = parquet.read_row_group(group)
            pieces.append(piece)
            advance(piece.num_rows)
        arrow = pa.concat_tables(pieces) if pieces else parquet.schema_arrow.empty_table()
    except (pa.ArrowInvalid, OSError) as exc:
        problems.file_problem(label, f"cannot be read as Parquet ({exc}); write it with pandas or pyarrow")
        return None
    frame = _arrow_to_pandas(arrow)
    return RawTable(table, frame, RowOrigin.of_file(label, len(frame)), label, file_fingerprint(path))


def read_table_file(
    table: str,
    path: Path | str,
    problems: Problems,
    progress: ProgressSink | None = None,
    *,
    label: str | None = None,
) -> RawTable | None:
    """Read `path` as the `table` file of a batch; None (with a problem recorded) if it cannot be read.

    `label` names the file in messages (default: its file name).
    """
    path = Path(path)
    label = label or path.name
    progress = progress or NoProgress()
    if not path.is_file():
        problems.file_problem(label, f"no such file: {path}")
        return None
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return read_csv(table, path, label, problems, progress)
    if suffix in PARQUET_SUFFIXES:
        return read_parquet(table, path, label, problems, progress)
    problems.file_problem(label, f"unknown file type {suffix or '(none)'!r}; name it .csv or .parquet")
    return None
