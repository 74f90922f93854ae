"""`foryou ingest files` against a real Postgres: good batches load once, bad batches write nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from foryou.db import make_engine
from foryou.errors import DataQualityError, InputValidationError, StoreUnavailableError
from pipelines.ingest import load
from pipelines.ingest.files import ingest_files
from tests.conftest import table_count

pytestmark = pytest.mark.integration

TABLES = ("users", "creators", "videos", "follows", "blocks", "events", "ingest_batches")

USERS = """user_id,region,device,signup_at,age
1,us,ios,2024-01-01T00:00:00Z,31
2,,android,,
3,de,web,,
"""
VIDEOS = """video_id,creator_id,uploaded_at,duration_s,title,tags,region,flagged
10,100,2024-01-02T00:00:00Z,15.5,"Cats, in a box",cats|funny,us|de,false
11,,1704240000,,,,,true
"""
FOLLOWS = """user_id,creator_id,ts
2,100,2024-01-03T00:00:00Z
3,200,2024-01-04T00:00:00Z
"""
EVENTS = """user_id,video_id,event_type,ts,dwell_ms,watch_fraction,session_id
1,10,view,2024-01-05T00:00:00Z,1200,0.5,s1
1,10,view,2024-01-05T00:00:00Z,1200,0.5,s1
2,11,like,1704412800,,,
3,10,comment,2024-01-06 10:00:00+02:00,,,
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _good_batch(folder: Path) -> dict[str, Path]:
    return {
        "users": _write(folder, "users.csv", USERS),
        "videos": _write(folder, "videos.csv", VIDEOS),
        "follows": _write(folder, "follows.csv", FOLLOWS),
        "events": _write(folder, "events.csv", EVENTS),
    }


def _counts(engine: sa.Engine) -> dict[str, int]:
    return {table: table_count(engine, table) for table in TABLES}


def test_a_good_batch_loads_every_table_with_the_documented_defaults(
    engine: sa.Engine, tmp_path: Path
) -> None:
    report = ingest_files(engine, **_good_batch(tmp_path))

    assert report.row_counts() == {
        "creators": {"in": 2, "new": 2},
        "users": {"in": 3, "new": 3},
        "videos": {"in": 2, "new": 2},
        "follows": {"in": 2, "new": 2},
        "events": {"in": 4, "new": 4},
    }
    assert _counts(engine) == {
        "users": 3,
        "creators": 2,
        "videos": 2,
        "follows": 2,
        "blocks": 0,
        "events": 4,
        "ingest_batches": 1,
    }
    with engine.connect() as conn:
        users = conn.execute(
            sa.text("SELECT user_id, region, signup_at, attributes FROM users ORDER BY 1")
        ).all()
        creators = dict(conn.execute(sa.text("SELECT creator_id, joined_at FROM creators")).all())
        video = conn.execute(sa.text("SELECT * FROM videos WHERE video_id = 10")).mappings().one()
        untitled = conn.execute(sa.text("SELECT * FROM videos WHERE video_id = 11")).mappings().one()
        comment_ts = conn.execute(sa.text("SELECT ts FROM events WHERE event_type = 'comment'")).scalar_one()
        batch = conn.execute(sa.text("SELECT batch_id, source, row_counts FROM ingest_batches")).one()
    assert [(u.user_id, u.region, u.signup_at.isoformat(), u.attributes) for u in users] == [
        (1, "us", "2024-01-01T00:00:00+00:00", {"age": "31"}),
        (2, "unknown", "2024-01-03T00:00:00+00:00", {}),  # earliest activity: the follow
        (3, "de", "2024-01-04T00:00:00+00:00", {}),
    ]
    assert {k: v.date().isoformat() for k, v in creators.items()} == {100: "2024-01-02", 200: "2024-01-04"}
    assert (
        video["title"],
        video["tags"],
        video["allowed_regions"],
        video["duration_s"],
        video["flagged"],
    ) == ("Cats, in a box", ["cats", "funny"], ["us", "de"], 15.5, False)
    assert (untitled["creator_id"], untitled["tags"], untitled["allowed_regions"], untitled["flagged"]) == (
        None,
        [],
        None,
        True,
    )
    assert comment_ts.isoformat() == "2024-01-06T08:00:00+00:00"
    assert batch.batch_id == report.batch_id and batch.row_counts["events"] == {"in": 4, "new": 4}


def test_running_the_same_files_again_writes_nothing_twice(engine: sa.Engine, tmp_path: Path) -> None:
    files = _good_batch(tmp_path)
    first = ingest_files(engine, **files)
    before = _counts(engine)

    again = ingest_files(engine, **files)

    assert again.batch_id == first.batch_id and again.rerun
    assert all(count.rows_new == 0 for count in again.counts.values())
    assert _counts(engine) == before

    # The same events re-ordered, with ISO times rewritten as unix seconds, in a renamed file: the
    # content-derived event ids match, so still nothing new (a new batch id, though: other bytes).
    lines = EVENTS.strip().splitlines()
    moved = "\n".join([lines[0], *reversed(lines[1:])]).replace("2024-01-05T00:00:00Z", "1704412800") + "\n"
    reordered = ingest_files(engine, events=_write(tmp_path, "events-again.csv", moved))
    assert reordered.counts["events"].rows_new == 0 and not reordered.rerun
    assert table_count(engine, "events") == before["events"]


def test_events_may_refer_to_users_and_videos_already_stored(engine: sa.Engine, tmp_path: Path) -> None:
    ingest_files(engine, **_good_batch(tmp_path))
    later = _write(tmp_path, "later.csv", "user_id,video_id,event_type,ts\n2,10,share,2024-02-01T00:00:00Z\n")
    report = ingest_files(engine, events=later)
    assert report.counts["events"].rows_new == 1
    assert table_count(engine, "events") == 5


def test_parquet_input_loads_the_same_rows_as_csv(engine: sa.Engine, tmp_path: Path) -> None:
    ingest_files(engine, **_good_batch(tmp_path))
    events = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 3],
            "video_id": [10, 10, 11, 10],
            "event_type": ["view", "view", "like", "comment"],
            "ts": pd.to_datetime(
                ["2024-01-05", "2024-01-05", "2024-01-05", "2024-01-06T08:00:00"], utc=True, format="ISO8601"
            ),
            "dwell_ms": [1200.0, 1200.0, None, None],
        }
    )
    events.to_parquet(tmp_path / "events.parquet")
    report = ingest_files(engine, events=tmp_path / "events.parquet")
    assert report.counts["events"].rows_in == 4 and report.counts["events"].rows_new == 0


GOOD_ROW = "1,11,view,2024-02-01T00:00:00Z"
BAD_EVENTS = [
    pytest.param("1,11,view", "row 2, all fields (malformed row)", id="malformed-row"),
    pytest.param(
        "1,11,watch,2024-02-01T00:00:00Z", "row 2, field event_type: got 'watch'", id="unknown-event-type"
    ),
    pytest.param(
        "1,11,view,31/01/2024", "row 2, field ts: got '31/01/2024'; not a timestamp", id="bad-timestamp"
    ),
    pytest.param(
        "1,11,view,2999-01-01T00:00:00Z",
        "row 2, field ts: got '2999-01-01T00:00:00Z', which is in the future",
        id="future-timestamp",
    ),
    pytest.param(
        "99,11,view,2024-02-01T00:00:00Z",
        "row 2, field user_id: user 99 is neither in this batch",
        id="unknown-user",
    ),
    pytest.param(
        "1,999,view,2024-02-01T00:00:00Z",
        "row 2, field video_id: video 999 is neither in this batch",
        id="unknown-video",
    ),
    pytest.param(
        "-1,11,view,2024-02-01T00:00:00Z",
        "row 2, field user_id: got '-1'; ids must be whole numbers ≥ 0",
        id="negative-id",
    ),
    pytest.param(
        "1,1.5,view,2024-02-01T00:00:00Z",
        "row 2, field video_id: got '1.5'; ids must be whole numbers",
        id="non-integer-id",
    ),
]


@pytest.mark.parametrize(("bad_row", "expected"), BAD_EVENTS)
def test_a_bad_row_rejects_the_whole_batch(
    engine: sa.Engine, tmp_path: Path, bad_row: str, expected: str
) -> None:
    ingest_files(engine, **_good_batch(tmp_path))
    before = _counts(engine)
    # A good users file and a good first event ride in the same batch: neither may be written.
    users = _write(tmp_path, "new-users.csv", "user_id\n4\n")
    events = _write(tmp_path, "new-events.csv", f"user_id,video_id,event_type,ts\n{GOOD_ROW}\n{bad_row}\n")

    with pytest.raises(InputValidationError) as caught:
        ingest_files(engine, users=users, events=events)

    message = str(caught.value)
    assert f"new-events.csv, {expected}" in message, message
    assert "nothing from this batch was written" in message
    assert "rows are numbered from 1 = the first data row after the header" in message
    assert caught.value.exit_code != 0
    assert _counts(engine) == before


def test_a_missing_required_column_names_the_file_and_the_column(engine: sa.Engine, tmp_path: Path) -> None:
    ingest_files(engine, **_good_batch(tmp_path))
    before = _counts(engine)
    events = _write(tmp_path, "no-ts.csv", "user_id,video_id,event_type\n1,10,view\n")
    with pytest.raises(InputValidationError) as caught:
        ingest_files(engine, users=_write(tmp_path, "u.csv", "user_id\n4\n"), events=events)
    assert "no-ts.csv: header: the required column 'ts' is missing" in str(caught.value)
    assert _counts(engine) == before


def test_problems_in_several_files_are_reported_together(engine: sa.Engine, tmp_path: Path) -> None:
    users = _write(tmp_path, "users.csv", "user_id,signup_at\n1,never\n")
    videos = _write(tmp_path, "videos.csv", "video_id,creator_id,uploaded_at\nx,1,2024-01-01T00:00:00Z\n")
    events = _write(tmp_path, "events.csv", "user_id,video_id,event_type,ts\n1,7,view,2024-01-02T00:00:00Z\n")
    with pytest.raises(InputValidationError) as caught:
        ingest_files(engine, users=users, videos=videos, events=events)
    problems = caught.value.problems
    assert any(p.startswith("users.csv, row 1, field signup_at") for p in problems)
    assert any(p.startswith("videos.csv, row 1, field video_id") for p in problems)
    assert any(p.startswith("events.csv, row 1, field video_id: video 7") for p in problems)
    assert _counts(engine) == dict.fromkeys(TABLES, 0)


def test_the_quality_gate_runs_on_the_parsed_frames_before_anything_is_written(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, int] = {}

    def failing_gate(batch, now) -> None:  # type: ignore[no-untyped-def]
        seen.update({name: len(frame) for name, frame in batch.frames().items()})
        raise DataQualityError("suite events failed")

    monkeypatch.setattr(load, "quality_gate", failing_gate)
    with pytest.raises(DataQualityError):
        ingest_files(engine, **_good_batch(tmp_path))
    assert seen == {"creators": 2, "users": 3, "videos": 2, "follows": 2, "events": 4}
    assert _counts(engine) == dict.fromkeys(TABLES, 0)


def test_a_database_that_is_down_is_one_clear_error(tmp_path: Path) -> None:
    engine = make_engine("postgresql://postgres@127.0.0.1:1/nowhere")
    with pytest.raises(StoreUnavailableError) as caught:
        ingest_files(engine, events=_write(tmp_path, "events.csv", EVENTS))
    assert "Cannot reach Postgres at" in str(caught.value)
