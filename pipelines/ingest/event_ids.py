"""Deterministic event ids for rows that come without one, so a re-run writes nothing twice.

id = blake2b-128 of (user_id, video_id, event_type, ts in UTC microseconds, occurrence), where occurrence
counts the earlier rows of the same batch with the same four values (0, 1, 2, …). Why each part:

- The four values identify an event; the timestamp is taken after parsing, so `2024-05-01T12:00:00Z` and
  `1714564800` give the same id.
- The occurrence index keeps genuine repeats apart (two `comment`s by one user on one video in the same
  second are two events, not one). Identical rows are interchangeable, so the *set* of ids does not depend
  on row order: re-sorting a file, or splitting it differently across files of one batch, changes nothing.
- Optional columns (dwell_ms, session_id, …) are left out on purpose: adding a column to an export later
  must not turn old events into new ones.
- The file name is left out too: the same events delivered again in a renamed or re-cut file are the same
  events. Two *different* deliveries that each contain the same (user, video, type, second) are therefore
  taken as one event; a source that can produce such pairs should send its own event_id.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

IDENTITY = ("user_id", "video_id", "event_type", "ts")


def derived_event_ids(events: pd.DataFrame) -> pd.Series:
    """A 32-hex-digit id per row of `events` (columns user_id, video_id, event_type, ts) — see module doc."""
    if events.empty:
        return pd.Series([], index=events.index, dtype=object)
    micros = events["ts"].dt.tz_convert("UTC").to_numpy(dtype="datetime64[us]").astype(np.int64)
    keyed = pd.DataFrame(
        {
            "u": events["user_id"].to_numpy(dtype=np.int64),
            "v": events["video_id"].to_numpy(dtype=np.int64),
            "t": events["event_type"].astype(str).to_numpy(),
            "ts": micros,
        },
        index=events.index,
    )
    occurrence = keyed.groupby(["u", "v", "t", "ts"], sort=False).cumcount().to_numpy()
    blake = hashlib.blake2b
    ids = [
        blake(f"{u}|{v}|{t}|{ts}|{k}".encode(), digest_size=16).hexdigest()
        for u, v, t, ts, k in zip(
            keyed["u"].tolist(),
            keyed["v"].tolist(),
            keyed["t"].tolist(),
            micros.tolist(),
            occurrence.tolist(),
            strict=True,
        )
    ]
    return pd.Series(ids, index=events.index, dtype=object)


def fill_event_ids(events: pd.DataFrame) -> pd.Series:
    """The event_id column with missing ids derived (given ids are kept as they are)."""
    given = events["event_id"]
    missing = given.isna().to_numpy()
    if not missing.any():
        return given.astype(object)
    # Occurrence indexes count among the rows without an id only, so adding ids to some rows of a file
    # later does not renumber the others beyond what changed.
    derived = derived_event_ids(events.loc[missing])
    out = given.astype(object).copy()
    out[missing] = derived.to_numpy()
    return out
