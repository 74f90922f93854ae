"""`foryou ingest lastfm DIR`: Last.fm HetRec 2011 (hetrec2011-lastfm-2k) as generic-format tables.

Mapping (docs/ingest.md has the reasons):
- an artist is a video (video_id = artist id) and also that video's creator (creator_id = artist id);
  title = artist name; tags = the artist's ten most-assigned tag values. The 390 artist ids that only
  tag assignments mention (they are missing from artists.dat) become videos without a title, so every
  tag assignment is kept.
- a user-artist pair → one `view` event; its listening count is kept as dwell_ms = count × 1000
  (one second per listen; dwell_ms / 1000 gives the count back). The data set has no listening times, so
  these views are stamped at the data set's snapshot time: the latest tag-assignment date (2011-05-09).
- a tag assignment → one `comment` event at its date (00:00 UTC; the data has day resolution).
- friends are users, and follows point at creators, so each user u also has a creator profile with id
  USER_CREATOR_OFFSET + u; the directed row (u, f) of user_friends becomes a follow of u → creator
  USER_CREATOR_OFFSET + f, stamped at the snapshot time.
- users get no attributes (region and signup_at take the generic defaults).
"""

from __future__ import annotations

import csv
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

SOURCE = "lastfm"
USER_CREATOR_OFFSET = 1_000_000_000
"""Creator id of user u's own profile = this + u (far above any artist id, so the ranges never meet)."""
TAGS_PER_VIDEO = 10
FILES: dict[str, tuple[str, ...]] = {
    "artists.dat": ("id", "name", "url", "pictureURL"),
    "tags.dat": ("tagID", "tagValue"),
    "user_artists.dat": ("userID", "artistID", "weight"),
    "user_friends.dat": ("userID", "friendID"),
    "user_taggedartists.dat": ("userID", "artistID", "tagID", "day", "month", "year"),
}
ENCODINGS = {"tags.dat": "latin-1"}  # the only file that is not UTF-8 (see the data set's SOURCE.md)


def _read(directory: Path) -> dict[str, pd.DataFrame]:
    paths = {name: directory / name for name in FILES}
    missing = [name for name, path in paths.items() if not path.is_file()]
    if missing:
        raise InputValidationError(
            f"{directory} is not a Last.fm HetRec 2011 folder: {', '.join(missing)} missing. "
            "Point at the unzipped hetrec2011-lastfm-2k folder."
        )
    frames = {}
    for name, path in paths.items():
        frame = pd.read_csv(
            path,
            sep="\t",
            dtype="string",
            quoting=csv.QUOTE_NONE,
            keep_default_na=False,
            na_values=[""],
            encoding=ENCODINGS.get(name, "utf-8"),
        )
        lacking = [c for c in FILES[name] if c not in frame.columns]
        if lacking:
            raise InputValidationError(
                f"{name}: header lacks {', '.join(lacking)}; "
                f"expected {', '.join(FILES[name])} (tab-separated)"
            )
        frames[name] = frame
    return frames


def _tag_dates(assignments: pd.DataFrame) -> pd.Series:
    """day, month, year → midnight UTC; an impossible date → missing (reported by the generic checks)."""
    parts = {k: pd.to_numeric(assignments[k], errors="coerce") for k in ("year", "month", "day")}
    return pd.to_datetime(pd.DataFrame(parts), errors="coerce", utc=True)


def _top_tags(assignments: pd.DataFrame, tags: pd.DataFrame) -> pd.Series:
    """Per artist id: its TAGS_PER_VIDEO most-assigned tag values (ties alphabetical)."""
    named = assignments[["artistID", "tagID"]].merge(tags, on="tagID", how="inner")
    counts = named.groupby(["artistID", "tagValue"]).size().rename("n").reset_index()
    counts = counts.sort_values(["artistID", "n", "tagValue"], ascending=[True, False, True])
    top = counts.groupby("artistID").head(TAGS_PER_VIDEO)
    by_artist: dict[str, list[str]] = {}
    for artist, value in zip(top["artistID"].tolist(), top["tagValue"].tolist(), strict=True):
        by_artist.setdefault(artist, []).append(value)
    return pd.Series(by_artist, dtype=object)


def lastfm_tables(directory: Path | str, problems: Problems) -> list[RawTable]:
    """The data set as generic users, videos, follows and events tables (edge checks still to come)."""
    directory = Path(directory)
    data = _read(directory)
    digest = hashlib.sha256(
        "".join(file_fingerprint(directory / name) for name in FILES).encode()
    ).hexdigest()
    artists, listens = data["artists.dat"], data["user_artists.dat"]
    friends, assignments = data["user_friends.dat"], data["user_taggedartists.dat"]

    tag_dates = _tag_dates(assignments)
    snapshot = tag_dates.max() if tag_dates.notna().any() else pd.Timestamp("2011-05-09", tz="UTC")

    # Videos: artists.dat, then the artist ids only tag assignments know.
    extra_ids = pd.Index(assignments["artistID"].dropna().unique()).difference(
        pd.Index(artists["id"].dropna())
    )
    video_ids = pd.concat([artists["id"], pd.Series(extra_ids, dtype="string")], ignore_index=True)
    titles = pd.concat(
        [artists["name"], pd.Series(pd.NA, index=range(len(extra_ids)), dtype="string")], ignore_index=True
    )
    first_tagged = tag_dates.groupby(assignments["artistID"]).min()
    uploaded = video_ids.map(first_tagged).fillna(snapshot)
    top_tags = _top_tags(assignments, data["tags.dat"])
    videos = pd.DataFrame(
        {
            "video_id": video_ids,
            "creator_id": video_ids,
            "uploaded_at": pd.to_datetime(uploaded, utc=True),
            "title": titles,
            "tags": video_ids.map(top_tags).map(lambda v: v if isinstance(v, list) else []),
        }
    )
    video_labels = np.array(
        ["artists.dat"] * len(artists) + ["user_taggedartists.dat (artist)"] * len(extra_ids), dtype=object
    )
    video_rows = np.concatenate([np.arange(1, len(artists) + 1), np.arange(1, len(extra_ids) + 1)])

    weight = pd.to_numeric(listens["weight"], errors="coerce")
    problems.rows(
        RowOrigin.of_file("user_artists.dat", len(listens)),
        "weight",
        ~(weight.ge(1) & (weight % 1 == 0)).fillna(False).to_numpy(dtype=bool),
        listens["weight"],
        "a listening count is a whole number ≥ 1",
    )
    views = pd.DataFrame(
        {
            "user_id": listens["userID"],
            "video_id": listens["artistID"],
            "event_type": "view",
            "ts": snapshot,
        }
    )
    comments = pd.DataFrame(
        {
            "user_id": assignments["userID"],
            "video_id": assignments["artistID"],
            "event_type": "comment",
            "ts": tag_dates,
        }
    )
    events = pd.concat([views, comments], ignore_index=True)
    events["dwell_ms"] = np.concatenate(
        [(weight * 1000).to_numpy(dtype=float), np.full(len(comments), np.nan)]
    )
    event_origin = RowOrigin(
        np.array(
            ["user_artists.dat"] * len(views) + ["user_taggedartists.dat"] * len(comments), dtype=object
        ),
        np.concatenate([np.arange(1, len(views) + 1), np.arange(1, len(comments) + 1)]).astype(np.int64),
    )

    friend_ids = pd.to_numeric(friends["friendID"], errors="coerce")
    follows = pd.DataFrame(
        {
            "user_id": friends["userID"],
            "creator_id": (friend_ids + USER_CREATOR_OFFSET).astype("Int64"),
            "ts": snapshot,
        }
    )
    user_ids = pd.unique(
        pd.concat([listens["userID"], friends["userID"], friends["friendID"], assignments["userID"]]).dropna()
    )
    users = pd.DataFrame({"user_id": pd.Series(user_ids, dtype="string")})
    return [
        RawTable("users", users, RowOrigin.of_file("users (from all files)", len(users)), "users", digest),
        RawTable(
            "videos", videos, RowOrigin(video_labels, video_rows.astype(np.int64)), "artists.dat", digest
        ),
        RawTable(
            "follows",
            follows,
            RowOrigin.of_file("user_friends.dat", len(follows)),
            "user_friends.dat",
            digest,
        ),
        RawTable("events", events, event_origin, "user_artists.dat+user_taggedartists.dat", digest),
    ]


def ingest_lastfm(
    engine: Engine,
    directory: Path | str,
    *,
    progress: ProgressSink | None = None,
    now: datetime | None = None,
) -> IngestReport:
    """Load a Last.fm HetRec 2011 folder through the validated generic path (a re-run writes nothing)."""
    problems = Problems()
    raws = lastfm_tables(directory, problems)
    return ingest_tables(engine, raws, source=SOURCE, problems=problems, progress=progress, now=now)
