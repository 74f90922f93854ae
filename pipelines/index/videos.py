"""Reading the videos table for indexing: rows in batches, and a hash of each row to detect changes.

"Changed" is defined by content, not by a timestamp (the table has no updated_at): each indexed video keeps
the hash of its whole `videos` row as it was when embedded (`md5(row::text)`, first 64 bits). `update`
re-embeds every video whose row hash differs now — any column, since the model may read any of them — plus
ids passed explicitly, adds ids the index lacks (new uploads, and late-loaded older ones) and drops ids no
longer in the table. The hash scan reads 16 bytes per video (a few seconds per million rows).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from foryou.db import connect

COLUMNS = (
    "video_id",
    "creator_id",
    "uploaded_at",
    "duration_s",
    "title",
    "tags",
    "allowed_regions",
    "flagged",
    "visual_vec",
    "text_vec",
    "audio_vec",
)
ROW_HASH = "('x' || substr(md5(v::text), 1, 16))::bit(64)::bigint"
_SELECT = f"SELECT {', '.join('v.' + c for c in COLUMNS)}, {ROW_HASH} AS row_hash FROM videos v"


def count_videos(engine: Engine) -> int:
    with connect(engine) as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM videos")).scalar_one())


def row_hashes(engine: Engine) -> tuple[np.ndarray, np.ndarray]:
    """Every video id (ascending, int64) and the hash of its row now."""
    with connect(engine) as conn:
        rows = conn.execute(sa.text(f"SELECT video_id, {ROW_HASH} FROM videos v ORDER BY video_id")).all()
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    table = np.array(rows, dtype=np.int64)
    return table[:, 0].copy(), table[:, 1].copy()


def video_batches(
    engine: Engine, batch_size: int, video_ids: Sequence[int] | np.ndarray | None = None
) -> Iterator[pd.DataFrame]:
    """Rows of `videos` (all, or these ids) in video_id order, `batch_size` at a time, with `row_hash`.

    Streams through a server-side cursor in one transaction, so a batch's hash always describes exactly
    the row content that was embedded.
    """
    where, params = "", {}
    if video_ids is not None:
        where, params = " WHERE v.video_id = ANY(:ids)", {"ids": [int(i) for i in video_ids]}
    with connect(engine) as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch_size).execute(
            sa.text(_SELECT + where + " ORDER BY v.video_id"), params
        )
        for part in result.partitions(batch_size):
            yield pd.DataFrame(part, columns=[*COLUMNS, "row_hash"])


def diff_rows(
    indexed_ids: np.ndarray,
    indexed_hashes: np.ndarray,
    table_ids: np.ndarray,
    table_hashes: np.ndarray,
    also_changed: Sequence[int] | np.ndarray = (),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(added, changed, removed) video ids, each sorted: in the table only; in both with another row hash
    (or named in `also_changed`); in the index only."""
    indexed = pd.Series(indexed_hashes, index=indexed_ids)
    table = pd.Series(table_hashes, index=table_ids)
    both = indexed.index.intersection(table.index)
    differs = both[indexed.loc[both].to_numpy() != table.loc[both].to_numpy()]
    forced = both.intersection(pd.Index(np.asarray(also_changed, dtype=np.int64)))
    return (
        np.sort(table.index.difference(indexed.index).to_numpy(dtype=np.int64)),
        np.sort(differs.union(forced).to_numpy(dtype=np.int64)),
        np.sort(indexed.index.difference(table.index).to_numpy(dtype=np.int64)),
    )
