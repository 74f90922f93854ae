"""Reading table files: CSV as text with malformed rows located by number, Parquet with its types."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.ingest.problems import Problems
from pipelines.ingest.readers import read_table_file


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_cells_are_text_and_empty_cells_missing(tmp_path: Path) -> None:
    path = _write(tmp_path, "events.csv", 'user_id,title\n1,"a, quoted\nvalue"\n2,\n')
    problems = Problems()
    raw = read_table_file("events", path, problems)
    assert raw is not None and not problems
    assert raw.frame["user_id"].tolist() == ["1", "2"]
    assert raw.frame["title"][0] == "a, quoted\nvalue" and pd.isna(raw.frame["title"][1])
    assert raw.origin.rows.tolist() == [1, 2]


def test_malformed_rows_are_reported_by_data_row_and_later_rows_keep_their_numbers(tmp_path: Path) -> None:
    path = _write(tmp_path, "events.csv", "a,b,c\n1,2,3\n4,5\n6,7,8\n9,10,11,12\n13,14,15\n")
    problems = Problems()
    raw = read_table_file("events", path, problems)
    assert raw is not None
    assert problems.total == 2
    assert problems.messages[0].startswith(
        "events.csv, row 2, all fields (malformed row): '4,5' has 2 fields"
    )
    assert problems.messages[1].startswith(
        "events.csv, row 4, all fields (malformed row): '9,10,11,12' has 4"
    )
    # Kept rows are numbered as in the file, so a later problem in row 5 is reported as row 5.
    assert raw.origin.rows.tolist() == [1, 3, 5]
    assert raw.frame["a"].tolist() == ["1", "6", "13"]


def test_unreadable_files_are_problems_not_exceptions(tmp_path: Path) -> None:
    problems = Problems()
    assert read_table_file("events", tmp_path / "missing.csv", problems) is None
    assert read_table_file("events", _write(tmp_path, "events.txt", "a\n1\n"), problems) is None
    assert read_table_file("events", _write(tmp_path, "empty.csv", ""), problems) is None
    assert read_table_file("events", _write(tmp_path, "dup.csv", "a,a\n1,2\n"), problems) is None
    bad_utf8 = tmp_path / "latin.csv"
    bad_utf8.write_bytes(b"a,b\n1,caf\xe9\n")
    assert read_table_file("events", bad_utf8, problems) is None
    text = "\n".join(problems.messages)
    assert "missing.csv: no such file" in text
    assert "events.txt: unknown file type '.txt'" in text
    assert "empty.csv: the file is empty" in text
    assert "dup.csv: column a appears twice" in text
    assert "latin.csv: cannot be read as CSV" in text and "UTF-8" in text


def test_parquet_keeps_types(tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    pd.DataFrame(
        {"user_id": [1, 2], "ts": pd.to_datetime(["2024-01-01", "2024-01-02"], utc=True)}
    ).to_parquet(path)
    problems = Problems()
    raw = read_table_file("events", path, problems)
    assert raw is not None and not problems
    assert str(raw.frame["user_id"].dtype) == "int64"
    assert isinstance(raw.frame["ts"].dtype, pd.DatetimeTZDtype)
    assert len(raw.fingerprint) == 64
