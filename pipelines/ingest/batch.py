"""One ingest batch: the parsed tables, what is derived from them (defaults, creators, event ids), its id."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from pipelines.ingest.edge_checks import ParsedTable
from pipelines.ingest.event_ids import fill_event_ids
from pipelines.ingest.formats import DEFAULT_USER_REGION, FORMAT_VERSION, TABLES
from pipelines.ingest.readers import RawTable


@dataclass
class IngestBatch:
    """Everything one `foryou ingest` run writes, in one transaction."""

    source: str
    batch_id: str
    tables: dict[str, ParsedTable]
    creators: pd.DataFrame = field(default_factory=lambda: _no_creators())

    def frame(self, table: str) -> pd.DataFrame | None:
        """The parsed frame of `table` (users, videos, follows, events, or the derived creators), if any."""
        if table == "creators":
            return self.creators
        parsed = self.tables.get(table)
        return parsed.frame if parsed is not None else None

    def frames(self) -> dict[str, pd.DataFrame]:
        """Every frame the batch will write, by table name, in load order."""
        out = {"creators": self.creators} if len(self.creators) else {}
        out.update({name: self.tables[name].frame for name in TABLES if name in self.tables})
        return out


def batch_id_for(source: str, raws: Iterable[RawTable]) -> str:
    """Deterministic from the content (not the file names), so a re-run of the same data is recognised."""
    digest = hashlib.sha256(f"foryou-ingest v{FORMAT_VERSION}\n{source.split(':')[0]}\n".encode())
    for raw in sorted(raws, key=lambda r: (r.table, r.fingerprint)):
        digest.update(f"{raw.table}={raw.fingerprint}\n".encode())
    return f"{source.split(':')[0]}-{digest.hexdigest()[:32]}"


def _no_creators() -> pd.DataFrame:
    return pd.DataFrame(
        {"creator_id": pd.Series(dtype="Int64"), "joined_at": pd.Series(dtype="datetime64[ns, UTC]")}
    )


def _first_activity(batch: IngestBatch) -> pd.Series:
    """Earliest event or follow timestamp per user id in the batch."""
    parts = [batch.tables[t].frame[["user_id", "ts"]] for t in ("events", "follows") if t in batch.tables]
    if not parts:
        return pd.Series(dtype="datetime64[ns, UTC]")
    return pd.concat(parts, ignore_index=True).groupby("user_id")["ts"].min()


def complete(batch: IngestBatch, now: datetime) -> None:
    """Fill the documented defaults and derive creators and event ids (only on a batch without problems)."""
    if "users" in batch.tables:
        users = batch.tables["users"].frame
        users["region"] = users["region"].fillna(DEFAULT_USER_REGION)
        first_seen = users["user_id"].map(_first_activity(batch))
        fallback = pd.Timestamp(now).floor("s")
        users["signup_at"] = users["signup_at"].fillna(first_seen).fillna(fallback)
    if "events" in batch.tables:
        events = batch.tables["events"].frame
        events["event_id"] = fill_event_ids(events)
    batch.creators = derive_creators(batch)


def derive_creators(batch: IngestBatch) -> pd.DataFrame:
    """Creators named by videos or follows, joined_at = their earliest upload or follow in the batch.

    Creators already in the database keep their row (the load skips existing keys).
    """
    parts = []
    if "videos" in batch.tables:
        videos = batch.tables["videos"].frame
        parts.append(
            videos.loc[videos["creator_id"].notna(), ["creator_id", "uploaded_at"]].rename(
                columns={"uploaded_at": "joined_at"}
            )
        )
    if "follows" in batch.tables:
        parts.append(batch.tables["follows"].frame[["creator_id", "ts"]].rename(columns={"ts": "joined_at"}))
    if not parts:
        return _no_creators()
    joined = pd.concat(parts, ignore_index=True).groupby("creator_id", sort=True)["joined_at"].min()
    return pd.DataFrame({"creator_id": joined.index.astype("Int64"), "joined_at": joined.to_numpy()})
