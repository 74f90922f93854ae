"""Training data for every model: point-in-time sets from `pipelines.datasets`, split by time.

    sets = load_sets(runtime, "ranking", holdout_days=1)   # TrainingSets(train, holdout, …)

The cut `until` defaults to the oldest feature-table watermark (features exist up to it); the holdout is the
last `holdout_days` before it (rows with event_timestamp > until − holdout_days), the rest is training data.
Built sets are cached as Parquet under FORYOU_HOME/datasets, keyed by task, window and the feature build
state, so the four trainers and `foryou evaluate` share one build.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from foryou.errors import ConfigError
from foryou.runtime import Runtime
from pipelines.datasets.build import FEATURE_VIEWS, DatasetError, build_dataset
from pipelines.datasets.labels import RANKING_LABELS, RETRIEVAL_LABELS

ENTITY_AND_META = (
    "user_id",
    "video_id",
    "creator_id",
    "event_timestamp",
    "request_ts_s",
    "impression_id",
    "request_id",
    "session_id",
    "position",
)
LABELS = {"ranking": RANKING_LABELS, "retrieval": RETRIEVAL_LABELS}


@dataclass(frozen=True)
class TrainingSets:
    """A task's rows up to `until`, split at `holdout_start` (train: before, holdout: after)."""

    task: str
    train: pd.DataFrame
    holdout: pd.DataFrame
    features: list[str]
    labels: tuple[str, ...]
    since: datetime | None
    holdout_start: datetime
    until: datetime

    @property
    def holdout_id(self) -> str:
        """Identifies the holdout rows: same id ⇔ metrics are comparable across model versions."""
        keys = [c for c in ("impression_id", "request_id", "user_id", "video_id") if c in self.holdout]
        digest = hashlib.sha256(f"{self.task}|{self.holdout_start}|{self.until}".encode())
        digest.update(pd.util.hash_pandas_object(self.holdout[keys], index=False).values.tobytes())
        return digest.hexdigest()[:16]


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """Feature columns in file order: full Feast names `<view>__<feature>`."""
    return [c for c in frame.columns if "__" in c]


def features_built_until(runtime: Runtime) -> datetime:
    """The oldest watermark of the feature views: every view is built at least up to it."""
    with runtime.engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT view, built_until FROM features.build_state")).all())
    missing = [v for v in FEATURE_VIEWS if rows.get(v) is None]
    if missing:
        raise DatasetError(
            f"Feature views never built: {', '.join(missing)}; run `foryou features build` first."
        )
    return min(rows[v] for v in FEATURE_VIEWS)


def _cache_path(runtime: Runtime, task: str, since: datetime | None, until: datetime) -> Path:
    with runtime.engine.connect() as conn:
        state = conn.execute(
            sa.text(
                "SELECT string_agg(view || '@' || updated_at::text, ',' ORDER BY view) "
                "FROM features.build_state"
            )
        ).scalar_one()
        events = conn.execute(sa.text("SELECT count(*), max(ts) FROM events")).one()
    key = hashlib.sha256(f"{task}|{since}|{until}|{state}|{events}".encode()).hexdigest()[:16]
    folder = runtime.settings.home / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{task}-{key}.parquet"


def load_frame(
    runtime: Runtime, task: str, *, until: datetime, since: datetime | None = None, refresh: bool = False
) -> pd.DataFrame:
    """The task's training set for (since, until], built once and cached."""
    out = _cache_path(runtime, task, since, until)
    if refresh or not out.exists():
        build_dataset(
            runtime.settings, runtime.stores, runtime.engine, task=task, until=until, since=since, out=out
        )
    frame = pd.read_parquet(out)
    frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True)
    return frame


def load_sets(
    runtime: Runtime,
    task: str,
    *,
    until: datetime | None = None,
    since: datetime | None = None,
    holdout_days: float = 1.0,
    min_rows: int = 100,
) -> TrainingSets:
    """Train/holdout split by time; refuses windows too small to learn from or to measure on."""
    if task not in LABELS:
        raise ConfigError(f"Unknown task {task!r}; choose one of: {', '.join(LABELS)}.")
    if holdout_days <= 0:
        raise ConfigError(f"--holdout-days must be positive (got {holdout_days}).")
    until = until or features_built_until(runtime)
    frame = load_frame(runtime, task, until=until, since=since)
    holdout_start = until - timedelta(days=holdout_days)
    return split(frame, task, since=since, holdout_start=holdout_start, until=until, min_rows=min_rows)


def split(
    frame: pd.DataFrame,
    task: str,
    *,
    since: datetime | None,
    holdout_start: datetime,
    until: datetime,
    min_rows: int = 100,
) -> TrainingSets:
    """Rows at or before holdout_start train; later rows are the holdout. Checks columns and sizes."""
    labels = LABELS[task]
    missing = [c for c in ("user_id", "video_id", "event_timestamp", *labels) if c not in frame.columns]
    features = feature_columns(frame)
    if missing or not features:
        raise DatasetError(
            f"The {task} training set lacks columns {missing or ['any <view>__<feature> column']}; "
            f"it has {list(frame.columns)[:12]}…. Rebuild it with `foryou dataset build --task {task}`."
        )
    is_holdout = frame["event_timestamp"] > pd.Timestamp(holdout_start)
    train, holdout = frame[~is_holdout].reset_index(drop=True), frame[is_holdout].reset_index(drop=True)
    for name, part, window in (
        ("training", train, f"({since or 'the first event'}, {holdout_start}]"),
        ("holdout", holdout, f"({holdout_start}, {until}]"),
    ):
        if len(part) < min_rows:
            raise DatasetError(
                f"The {task} {name} window {window} has {len(part):,} rows (need ≥ {min_rows:,}). "
                "Simulate or ingest more days, build features further, or change --until / --holdout-days."
            )
    return TrainingSets(task, train, holdout, features, labels, since, holdout_start, until)


def require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Fail with the missing columns named when a training frame lacks what a model needs."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DatasetError(
            f"The {what} training set lacks {len(missing)} column(s) the model needs: {missing[:8]}"
            f"{' …' if len(missing) > 8 else ''}. The FeatureService and the cached set disagree: run "
            "`foryou features apply`, then retrain (the set is rebuilt when the feature tables change)."
        )
