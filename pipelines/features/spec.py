"""What a feature view is to the build: its table, entity, grain, columns, and the SQL that stages a batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.engine import Connection

# How the batch checks treat a column: counts and ids are >= 0, refs are ids or -1 (none), rates lie in
# [0, 1], flags are 0 or 1, non-negative reals are >= 0, and reals only need to be finite.
ColumnKind = Literal["id", "ref", "count", "rate", "flag", "nonneg", "real"]
SqlType = Literal["BIGINT", "INTEGER", "DOUBLE PRECISION"]


@dataclass(frozen=True)
class Column:
    """One feature column of a view table."""

    name: str
    sql_type: SqlType
    kind: ColumnKind


@dataclass(frozen=True)
class BuildWindow:
    """The rows a build writes: event_timestamp in (start, end]; start None means from the first event."""

    start: datetime | None
    end: datetime

    def __post_init__(self) -> None:
        if self.end.tzinfo is None or (self.start is not None and self.start.tzinfo is None):
            raise ValueError("BuildWindow bounds must be timezone-aware (UTC) datetimes")
        if self.start is not None and self.start >= self.end:
            raise ValueError(f"empty build window: start {self.start} >= end {self.end}")

    def params(self, lookback: timedelta | None = None) -> dict[str, datetime]:
        """Bind parameters :start, :end and (with a lookback) :read_from = start - lookback."""
        params = {"end": self.end}
        if self.start is not None:
            params["start"] = self.start
            if lookback is not None:
                params["read_from"] = self.start - lookback
        return params


# Fills the temporary table named by the third argument with the batch's rows: the entity column,
# event_timestamp, then every feature column of the view (in its order). Nothing else is written,
# except by views that keep a side table (video_stats writes its popularity snapshots).
StageSql = Callable[[Connection, BuildWindow, str], None]


@dataclass(frozen=True)
class FeatureView:
    """A timestamped feature table and how to compute a batch of it."""

    name: str
    entity: str
    grain: timedelta
    columns: tuple[Column, ...]
    stage: StageSql
    description: str

    @property
    def table(self) -> str:
        return f"features.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]
