"""`foryou ingest movielens DIR`: MovieLens (ml-latest-small layout) as generic-format tables.

Mapping (docs/ingest.md has the reasons):
- every rating → one `view` event at the rating time, plus one `like` event when rating ≥ 4;
- every tag application → one `comment` event at its time (the tag text is not stored: the event log has
  no text column);
- movies → videos: title as is, genres as tags ('(no genres listed)' → no tags), no creator,
  uploaded_at = the movie's first rating or tag (so no event precedes its video); a movie with neither
  gets the data set's first timestamp;
- users → users with no attributes (region and signup_at take the generic defaults).
Ids are MovieLens' own userId and movieId.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from foryou.errors import InputValidationError
from pipelines.ingest.load import IngestReport, ingest_tables
from pipelines.ingest.problems import Problems, RowOrigin
from pipelines.ingest.progress import ProgressSink
from pipelines.ingest.readers import RawTable, file_fingerprint

SOURCE = "movielens"
FILES = ("ratings.csv", "tags.csv", "movies.csv")
LIKE_THRESHOLD = 4.0
NO_GENRES = "(no genres listed)"


def _require_files(directory: Path) -> dict[str, Path]:
    paths = {name: directory / name for name in FILES}
    missing = [name for name, path in paths.items() if not path.is_file()]
    if missing:
        raise InputValidationError(
            f"{directory} is not a MovieLens folder: {', '.join(missing)} missing. "
            "Point at the unzipped ml-latest-small (or ml-latest) folder that holds ratings.csv, tags.csv "
            "and movies.csv."
        )
    return paths


def _read(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """A MovieLens CSV as text cells (parsed by the generic checks), with the columns it should have."""
    frame = pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""])
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputValidationError(
            f"{path.name}: header lacks {', '.join(missing)}; "
            f"expected {', '.join(columns)} (MovieLens layout)"
        )
    return frame


def _events(ratings: pd.DataFrame, tags: pd.DataFrame, problems: Problems) -> tuple[pd.DataFrame, RowOrigin]:
    """Views and likes from ratings, comments from tags, with each row's file and row number."""
    rating_rows = np.arange(1, len(ratings) + 1)
    stars = pd.to_numeric(ratings["rating"], errors="coerce")
    problems.rows(
        RowOrigin.of_file("ratings.csv", len(ratings)),
        "rating",
        ~stars.between(0.5, 5.0).fillna(False).to_numpy(dtype=bool),
        ratings["rating"],
        "MovieLens ratings are 0.5 to 5 stars",
    )
    liked = (stars >= LIKE_THRESHOLD).fillna(False).to_numpy(dtype=bool)
    parts = [
        (ratings, "view", "ratings.csv", rating_rows),
        (ratings[liked], "like", "ratings.csv", rating_rows[liked]),
        (tags, "comment", "tags.csv", np.arange(1, len(tags) + 1)),
    ]
    frames, labels, rows = [], [], []
    for source, event_type, label, numbers in parts:
        frames.append(
            pd.DataFrame(
                {
                    "user_id": source["userId"].to_numpy(),
                    "video_id": source["movieId"].to_numpy(),
                    "event_type": event_type,
                    "ts": source["timestamp"].to_numpy(),
                }
            )
        )
        labels.append(np.full(len(source), label, dtype=object))
        rows.append(numbers)
    events = pd.concat(frames, ignore_index=True)
    return events, RowOrigin(np.concatenate(labels), np.concatenate(rows).astype(np.int64))


def _first_seen(events: pd.DataFrame) -> pd.Series:
    """Earliest event time per movie (unix seconds), from the rows whose fields are well-formed."""
    seconds = pd.to_numeric(events["ts"], errors="coerce")
    movie = pd.to_numeric(events["video_id"], errors="coerce")
    return seconds.groupby(movie).min()


def movielens_tables(directory: Path | str, problems: Problems) -> list[RawTable]:
    """The data set as generic users, videos and events tables (edge checks still to come)."""
    directory = Path(directory)
    paths = _require_files(directory)
    ratings = _read(paths["ratings.csv"], ("userId", "movieId", "rating", "timestamp"))
    tags = _read(paths["tags.csv"], ("userId", "movieId", "tag", "timestamp"))
    movies = _read(paths["movies.csv"], ("movieId", "title", "genres"))
    digest = hashlib.sha256("".join(file_fingerprint(paths[name]) for name in FILES).encode()).hexdigest()

    events, event_origin = _events(ratings, tags, problems)
    first_seen = _first_seen(events)
    data_start = first_seen.min() if len(first_seen) else 0
    movie_ids = pd.to_numeric(movies["movieId"], errors="coerce")
    uploaded = movie_ids.map(first_seen).fillna(data_start)
    genres = movies["genres"].fillna("").map(lambda g: [x for x in g.split("|") if x and x != NO_GENRES])
    videos = pd.DataFrame(
        {
            "video_id": movies["movieId"],
            "creator_id": pd.Series(pd.NA, index=movies.index, dtype="string"),
            "uploaded_at": pd.to_datetime(uploaded, unit="s", utc=True),
            "title": movies["title"],
            "tags": genres,
        }
    )
    user_ids = pd.unique(pd.concat([ratings["userId"], tags["userId"]], ignore_index=True).dropna())
    users = pd.DataFrame({"user_id": pd.Series(user_ids, dtype="string")})
    return [
        RawTable(
            "users",
            users,
            RowOrigin.of_file("ratings.csv+tags.csv (users)", len(users)),
            "users from ratings.csv+tags.csv",
            digest,
        ),
        RawTable("videos", videos, RowOrigin.of_file("movies.csv", len(videos)), "movies.csv", digest),
        RawTable("events", events, event_origin, "ratings.csv+tags.csv", digest),
    ]


def ingest_movielens(
    engine: Engine,
    directory: Path | str,
    *,
    progress: ProgressSink | None = None,
    now: datetime | None = None,
) -> IngestReport:
    """Load a MovieLens folder through the validated generic path (idempotent: a re-run writes nothing)."""
    problems = Problems()
    raws = movielens_tables(directory, problems)
    return ingest_tables(engine, raws, source=SOURCE, problems=problems, progress=progress, now=now)
