"""Edge validation: a raw table in the generic format → a typed frame with the event-log columns.

Every check is vectorised over the whole column and records one problem per bad row (see problems.py),
so a million-row file is checked in seconds. Checks that need other tables or the database (unknown
users and videos) live in references.py.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from foryou.schema import DEVICES, EVENT_TYPES
from pipelines.ingest import columns as col
from pipelines.ingest.formats import FORMATS, FUTURE_TOLERANCE, TableFormat
from pipelines.ingest.problems import Problems, RowOrigin, show
from pipelines.ingest.readers import RawTable

# The event-log columns each parsed table carries, in COPY order.
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "users": ("user_id", "region", "device", "signup_at", "attributes"),
    "videos": (
        "video_id",
        "creator_id",
        "uploaded_at",
        "duration_s",
        "title",
        "tags",
        "allowed_regions",
        "flagged",
    ),
    "follows": ("user_id", "creator_id", "ts"),
    "events": (
        "event_id",
        "user_id",
        "video_id",
        "event_type",
        "ts",
        "dwell_ms",
        "watch_fraction",
        "session_id",
        "request_id",
        "position",
        "device",
        "region",
        "propensity",
    ),
}


@dataclass
class ParsedTable:
    """A table after edge validation: event-log columns with proper types, and where each row came from."""

    table: str
    frame: pd.DataFrame
    origin: RowOrigin
    label: str


class _Columns:
    """Access to the raw columns of one table, with missing optional columns as empty."""

    def __init__(self, raw: RawTable, problems: Problems, now: datetime) -> None:
        self.raw = raw
        self.problems = problems
        self.now = now

    def __contains__(self, name: str) -> bool:
        return name in self.raw.frame.columns

    def get(self, name: str) -> col.RawColumn:
        frame = self.raw.frame
        values = frame[name] if name in frame.columns else col.missing_text(frame.index)
        return col.RawColumn(name, values, self.raw.origin, self.problems)

    def ids(self, name: str, *, required: bool = True) -> pd.Series:
        return col.ids(self.get(name), required=required)

    def timestamps(self, name: str, *, required: bool = True) -> pd.Series:
        tolerance = pd.Timedelta(FUTURE_TOLERANCE)
        return col.timestamps(self.get(name), now=self.now, tolerance=tolerance, required=required)

    def text(self, name: str) -> pd.Series:
        return col.text(self.get(name).values)


def check_header(raw: RawTable, fmt: TableFormat, problems: Problems) -> bool:
    """Required columns present and no unknown ones (unless they become attributes); False if unusable."""
    present = [str(c) for c in raw.frame.columns]
    missing = [c for c in fmt.required if c not in present]
    for name in missing:
        problems.file_problem(
            raw.label,
            f"header: the required column {name!r} is missing ({fmt.describe()}); "
            "add it — see docs/ingest.md",
        )
    if not fmt.extra_to_attributes:
        for name in present:
            if name not in fmt.columns:
                close = difflib.get_close_matches(name, fmt.columns, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                problems.file_problem(
                    raw.label,
                    f"header: unknown column {name!r}; {hint}{fmt.describe()}; rename or drop it",
                )
    return not missing


def _duplicate_keys(
    parsed: pd.DataFrame, key: tuple[str, ...], origin: RowOrigin, problems: Problems
) -> None:
    """A key seen twice in one entity file is ambiguous (which row wins?): each repeat is an error."""
    usable = parsed[list(key)].notna().all(axis=1)
    keys = parsed.loc[usable, list(key)]
    repeated = keys.duplicated(keep="first")
    if not repeated.any():
        return
    first_rows = (
        keys.assign(_row=origin.rows[np.flatnonzero(usable)])
        .groupby(list(key), sort=False)["_row"]
        .transform("min")
    )
    bad = np.zeros(len(parsed), dtype=bool)
    bad[np.flatnonzero(usable)[repeated.to_numpy()]] = True
    first = pd.Series(pd.NA, index=parsed.index, dtype="Int64")
    first[usable] = first_rows.to_numpy()
    problems.rows(
        origin,
        "+".join(key),
        bad,
        first,
        lambda row: f"the same {'+'.join(key)} is already on row {row}; keep one row per {'+'.join(key)}",
    )


def _attributes(raw: RawTable, extras: list[str]) -> pd.Series:
    """The extra columns of a users file as one JSON-ready dict per row (missing values left out)."""
    if not extras:
        return pd.Series([{} for _ in range(len(raw.frame))], index=raw.frame.index, dtype=object)
    records = raw.frame[extras].astype(object).where(raw.frame[extras].notna(), None).to_dict("records")
    return pd.Series(
        [{k: _jsonable(v) for k, v in record.items() if v is not None} for record in records],
        index=raw.frame.index,
        dtype=object,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    if isinstance(value, str | int | float | bool | list | dict):
        return value
    return json.loads(json.dumps(value, default=str))


def parse_users(raw: RawTable, problems: Problems, now: datetime) -> pd.DataFrame:
    c = _Columns(raw, problems, now)
    extras = [name for name in raw.frame.columns if name not in FORMATS["users"].columns]
    return pd.DataFrame(
        {
            "user_id": c.ids("user_id"),
            "region": c.text("region"),
            "device": col.choices(c.get("device"), DEVICES),
            "signup_at": c.timestamps("signup_at", required=False),
            "attributes": _attributes(raw, extras),
        }
    )


def parse_videos(raw: RawTable, problems: Problems, now: datetime) -> pd.DataFrame:
    c = _Columns(raw, problems, now)
    tags = col.lists(c.get("tags"))
    return pd.DataFrame(
        {
            "video_id": c.ids("video_id"),
            "creator_id": c.ids("creator_id", required=False),
            "uploaded_at": c.timestamps("uploaded_at"),
            "duration_s": col.numbers(
                c.get("duration_s"),
                integer=False,
                minimum=0,
                exclusive_minimum=True,
                what="write the duration in seconds, a number > 0, or leave it empty",
            ),
            "title": c.text("title"),
            "tags": tags.map(lambda v: v if isinstance(v, list) else []),
            "allowed_regions": col.lists(c.get("region")).map(lambda v: v or None),
            "flagged": col.booleans(c.get("flagged"), default=False),
        }
    )


def parse_follows(raw: RawTable, problems: Problems, now: datetime) -> pd.DataFrame:
    c = _Columns(raw, problems, now)
    return pd.DataFrame(
        {"user_id": c.ids("user_id"), "creator_id": c.ids("creator_id"), "ts": c.timestamps("ts")}
    )


def _event_type_hint(value: Any) -> str:
    lowered = str(value).strip().lower() if value is not None and value is not pd.NA else ""
    if lowered in EVENT_TYPES:
        return f"got {show(value)}; write event types in lowercase ({lowered})"
    return f"got {show(value)}, an unknown event type; use one of {', '.join(EVENT_TYPES)}"


def parse_events(raw: RawTable, problems: Problems, now: datetime) -> pd.DataFrame:
    c = _Columns(raw, problems, now)
    event_type = c.text("event_type")
    type_column = c.get("event_type")
    type_column.flag(event_type.notna() & ~event_type.isin(EVENT_TYPES), _event_type_hint)
    type_column.flag(event_type.isna(), "the event_type column is required: fill in every row")
    int32 = float(col.INT32_MAX)
    return pd.DataFrame(
        {
            "event_id": c.text("event_id"),
            "user_id": c.ids("user_id"),
            "video_id": c.ids("video_id"),
            "event_type": event_type,
            "ts": c.timestamps("ts"),
            "dwell_ms": col.numbers(
                c.get("dwell_ms"),
                integer=True,
                minimum=0,
                maximum=int32,
                what="write whole milliseconds ≥ 0, or leave it empty",
            ),
            "watch_fraction": col.numbers(
                c.get("watch_fraction"),
                integer=False,
                minimum=0,
                maximum=10,
                what="write a number from 0 to 10 (1 = watched once to the end), or leave it empty",
            ),
            "session_id": c.text("session_id"),
            "request_id": c.text("request_id"),
            "position": col.numbers(
                c.get("position"),
                integer=True,
                minimum=0,
                maximum=int32,
                what="write the 0-based slot in the feed page, or leave it empty",
            ),
            "device": col.choices(c.get("device"), DEVICES),
            "region": c.text("region"),
            "propensity": col.numbers(
                c.get("propensity"),
                integer=False,
                minimum=0,
                maximum=1,
                exclusive_minimum=True,
                what="write a probability in (0, 1], or leave it empty",
            ),
        }
    )


def _conflicting_event_ids(parsed: pd.DataFrame, origin: RowOrigin, problems: Problems) -> None:
    """One event id for two different events would silently drop one; identical repeats are harmless."""
    explicit = parsed["event_id"].notna()
    repeated = explicit & parsed["event_id"].duplicated(keep=False)
    if not repeated.any():
        return
    shared = parsed[repeated].drop(columns=["event_id"]).astype(str)
    shared["event_id"] = parsed.loc[repeated, "event_id"]
    distinct = shared.drop_duplicates().groupby("event_id").size()
    conflicting = parsed["event_id"].isin(distinct[distinct > 1].index) & repeated
    problems.rows(
        origin,
        "event_id",
        conflicting,
        parsed["event_id"],
        lambda v: f"event id {show(v)} is used by rows with different content; each event needs its own id",
    )


PARSERS = {"users": parse_users, "videos": parse_videos, "follows": parse_follows, "events": parse_events}


def parse_table(raw: RawTable, problems: Problems, now: datetime) -> ParsedTable | None:
    """Validate one raw table; None when its header makes the rows unusable (problems recorded)."""
    fmt = FORMATS[raw.table]
    if not isinstance(raw.frame.index, pd.RangeIndex) or raw.frame.index.start != 0:
        raw.frame = raw.frame.reset_index(drop=True)  # positions are how problems find their rows
    if not check_header(raw, fmt, problems):
        return None
    frame = PARSERS[raw.table](raw, problems, now)
    frame.index = pd.RangeIndex(len(frame))
    if fmt.key:
        _duplicate_keys(frame, fmt.key, raw.origin, problems)
    if raw.table == "events":
        _conflicting_event_ids(frame, raw.origin, problems)
    return ParsedTable(raw.table, frame[list(TABLE_COLUMNS[raw.table])], raw.origin, raw.label)
