"""The MovieLens and Last.fm adapters on the real files: every source row arrives, counted by type."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.ingest.lastfm import USER_CREATOR_OFFSET, ingest_lastfm
from pipelines.ingest.movielens import ingest_movielens
from tests.conftest import datasets_dir, table_count

pytestmark = [pytest.mark.integration, pytest.mark.datasets, pytest.mark.slow]


def _rows(path: Path, delimiter: str = ",", encoding: str = "utf-8") -> list[dict[str, str]]:
    with path.open(newline="", encoding=encoding) as handle:
        return list(csv.DictReader(handle, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL))


def _scalar(engine: sa.Engine, sql: str) -> object:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar_one()


def _event_types(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT event_type, count(*) FROM events GROUP BY 1")).all())


def test_movielens_latest_small_arrives_row_for_row(engine: sa.Engine) -> None:
    folder = datasets_dir("movielens-latest-small")
    ratings = _rows(folder / "ratings.csv")
    tags = _rows(folder / "tags.csv")
    movies = _rows(folder / "movies.csv")
    # The official figures (README), checked against the files themselves.
    assert (len(ratings), len(tags), len(movies)) == (100_836, 3_683, 9_742)
    assert len({r["userId"] for r in ratings}) == 610
    likes = sum(float(r["rating"]) >= 4 for r in ratings)

    report = ingest_movielens(engine, folder)

    assert report.counts["events"].rows_new == len(ratings) + likes + len(tags)
    assert _event_types(engine) == {"view": len(ratings), "like": likes, "comment": len(tags)}
    assert table_count(engine, "users") == 610
    assert table_count(engine, "videos") == 9_742
    assert table_count(engine, "creators") == 0
    assert table_count(engine, "ingest_batches") == 1
    # Toy Story: title kept, genres as tags, no creator; no event precedes any video's upload.
    with engine.connect() as conn:
        toy = conn.execute(sa.text("SELECT title, tags, creator_id FROM videos WHERE video_id = 1")).one()
    assert toy == ("Toy Story (1995)", ["Adventure", "Animation", "Children", "Comedy", "Fantasy"], None)
    assert (
        _scalar(
            engine, "SELECT count(*) FROM events e JOIN videos v USING (video_id) WHERE e.ts < v.uploaded_at"
        )
        == 0
    )
    assert _scalar(engine, "SELECT count(*) FROM users WHERE region = 'unknown' AND attributes = '{}'") == 610


def test_lastfm_hetrec_arrives_row_for_row(engine: sa.Engine) -> None:
    folder = datasets_dir("lastfm-hetrec2011")
    artists = _rows(folder / "artists.dat", "\t")
    listens = _rows(folder / "user_artists.dat", "\t")
    friends = _rows(folder / "user_friends.dat", "\t")
    assignments = _rows(folder / "user_taggedartists.dat", "\t")
    tag_values = _rows(folder / "tags.dat", "\t", encoding="latin-1")
    users = (
        {r["userID"] for r in listens} | {r["userID"] for r in friends} | {r["userID"] for r in assignments}
    )
    # The official figures (readme.txt), checked against the files themselves.
    assert (len(users), len(artists), len(listens), len(friends), len(assignments), len(tag_values)) == (
        1_892,
        17_632,
        92_834,
        25_434,
        186_479,
        11_946,
    )
    tag_only_artists = {r["artistID"] for r in assignments} - {r["id"] for r in artists}

    report = ingest_lastfm(engine, folder)

    assert report.counts["events"].rows_new == len(listens) + len(assignments)
    assert _event_types(engine) == {"view": len(listens), "comment": len(assignments)}
    assert table_count(engine, "users") == 1_892
    assert table_count(engine, "follows") == 25_434
    assert table_count(engine, "videos") == len(artists) + len(tag_only_artists)
    assert _scalar(engine, "SELECT count(*) FROM videos WHERE title IS NOT NULL") == 17_632
    # Creators: each artist, plus one profile per user in its own id range (friends are followed there).
    assert table_count(engine, "creators") == len(artists) + len(tag_only_artists) + 1_892
    assert (
        _scalar(engine, f"SELECT count(*) FROM creators WHERE creator_id >= {USER_CREATOR_OFFSET}") == 1_892
    )
    assert _scalar(engine, "SELECT min(creator_id) FROM follows") == USER_CREATOR_OFFSET + min(
        int(r["friendID"]) for r in friends
    )
    # Listening counts survive as dwell_ms / 1000; tags.dat is Latin-1 and reaches the videos intact.
    assert _scalar(
        engine, "SELECT sum(dwell_ms::bigint) / 1000 FROM events WHERE event_type = 'view'"
    ) == sum(int(r["weight"]) for r in listens)
    with engine.connect() as conn:
        stored_non_ascii = set(
            conn.execute(
                sa.text("SELECT DISTINCT t FROM videos, unnest(tags) AS t WHERE t !~ '^[[:ascii:]]*$'")
            ).scalars()
        )
    assert stored_non_ascii and stored_non_ascii <= {r["tagValue"] for r in tag_values}
    assert "düsseldorf" in stored_non_ascii
    assert _scalar(engine, "SELECT max(ts)::date::text FROM events") == "2011-05-09"
