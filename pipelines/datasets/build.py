"""Training-set builds: label SQL → staged entity table → Feast point-in-time join → Parquet.

    build_dataset(settings, stores, engine, task="ranking", until=…, since=…, out=Path("ranking.parquet"))

The entity rows and their labels are computed in Postgres (pipelines/datasets/labels.py) into an unlogged
scratch table; Feast gets `SELECT * FROM <that table>` as a SQL-string entity_df (a DataFrame entity_df would
be uploaded with row-by-row INSERTs) and runs its point-in-time join over the FeatureService of the task.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from foryou.errors import ConfigError, ForyouError
from foryou.settings import Settings
from foryou.stores import StoreUrls
from pipelines.datasets import labels

TASKS: dict[str, str] = {"ranking": "reranker", "retrieval": "two_tower_user"}
FEATURE_VIEWS = ("user_stats", "creator_stats", "video_stats", "video_velocity")
# A total order of each task's rows (the file's order, and which rows --limit keeps).
ROW_ORDER: dict[str, tuple[str, ...]] = {
    "ranking": ("event_timestamp", "user_id", "video_id", "impression_id"),
    "retrieval": ("event_timestamp", "user_id", "video_id", "request_id"),
}
JOINS = ("sql", "feast")


class DatasetError(ForyouError):
    """A training set cannot be built as asked; the message says why and what to do."""

    exit_code = 6


@dataclass
class DatasetBuild:
    task: str
    feature_service: str
    since: datetime | None
    until: datetime
    horizon_s: int
    rows: int
    columns: list[str]
    out: Path
    seconds: dict[str, float] = field(default_factory=dict)


def parse_time(value: str | None, option: str) -> datetime | None:
    """ISO 8601 → aware UTC datetime (no zone = UTC)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(
            f"{option} {value!r} is not an ISO 8601 time; for example 2026-01-10T00:00:00Z"
        ) from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def validate(
    task: str,
    until: datetime,
    since: datetime | None,
    out: Path,
    *,
    horizon_s: int = labels.DEFAULT_HORIZON_S,
    now: datetime | None = None,
) -> None:
    """Refuse bad arguments before touching any store."""
    if task not in TASKS:
        raise ConfigError(f"Unknown task {task!r}; choose one of: {', '.join(sorted(TASKS))}.")
    now = now or datetime.now(UTC)
    if until.tzinfo is None:
        raise ConfigError(f"until={until.isoformat()} has no time zone; pass an aware UTC time.")
    if until > now:
        raise ConfigError(
            f"--until {until.isoformat()} is in the future (now is {now.isoformat(timespec='seconds')}): "
            "labels and features exist only for time that has passed."
        )
    if since is not None and since >= until:
        raise ConfigError(f"--since {since.isoformat()} must be before --until {until.isoformat()}.")
    if horizon_s <= 0:
        raise ConfigError(f"The label horizon must be positive (got {horizon_s} s).")
    out = out.expanduser().absolute()
    if out.is_dir():
        raise ConfigError(f"--out {out} is a directory; give a file path such as {out / f'{task}.parquet'}.")
    parent = out.parent
    if not parent.is_dir():
        raise ConfigError(f"--out {out}: folder {parent} does not exist; create it first.")
    if not os.access(parent, os.W_OK | os.X_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise ConfigError(f"--out {out}: {parent} is not writable by this user; choose another path.")


def _window_text(task: str, since: datetime | None, until: datetime, horizon_s: int) -> str:
    start = since.isoformat() if since else "the first event"
    if task == "ranking":
        last = (until - timedelta(seconds=horizon_s)).isoformat()
        return f"impressions with ts in ({start}, {last}] (until minus the {horizon_s} s label horizon)"
    return f"engagements (long watch, like, save, share) with ts in ({start}, {until.isoformat()}]"


def _empty_window_error(
    conn: sa.Connection, task: str, since: datetime | None, until: datetime, h: int
) -> None:
    span = conn.execute(sa.text("SELECT min(ts), max(ts), count(*) FROM events")).one()
    known = (
        f"the event log spans {span[0].isoformat()} … {span[1].isoformat()} ({span[2]:,} events)"
        if span[2]
        else "the event log is empty (run `foryou simulate` or `foryou ingest` first)"
    )
    raise DatasetError(
        f"No {task} rows: there are no {_window_text(task, since, until, h)}; {known}. "
        "Move --until later or --since earlier so the window covers events."
    )


def _check_watermarks(conn: sa.Connection, latest_row: datetime) -> None:
    """Feature tables must be built at least up to the last row, else late rows would get stale features."""
    built = dict(conn.execute(sa.text("SELECT view, built_until FROM features.build_state")).all())
    behind = [
        f"{v} (built until {built[v].isoformat() if built.get(v) else 'never'})"
        for v in FEATURE_VIEWS
        if built.get(v) is None or built[v] < latest_row
    ]
    if behind:
        raise DatasetError(
            f"Feature tables are behind the last training row at {latest_row.isoformat()}: "
            f"{', '.join(behind)}. "
            f"Run `foryou features build --until {latest_row.isoformat()}` (or later) first."
        )


def _split_service(store, service):  # type: ignore[no-untyped-def]
    """The service's stored-view feature refs, and its on-demand views (applied by `_apply_odfvs`).

    Feast 0.67 renames a python-mode ODFV's short output names to the prefixed ones when
    full_feature_names=True; feature_repo/request_time.py returns both spellings (the online path needs the
    prefixed one), so the offline path ends with each column twice and pyarrow refuses the table
    ('Field "request_time__video_age_hours" exists 2 times'). We therefore ask Feast for the stored views
    only and run the registered ODFV's own function on the result — the same code serving runs.
    """
    odfv_names = {o.name for o in store.list_on_demand_feature_views()}
    refs: list[str] = []
    odfvs = []
    for projection in service.feature_view_projections:
        if projection.name in odfv_names:
            odfvs.append(store.get_on_demand_feature_view(projection.name))
        else:
            refs += [f"{projection.name_to_use()}:{f.name}" for f in projection.features]
    return refs, odfvs


def _apply_odfvs(frame, odfvs):  # type: ignore[no-untyped-def]
    """Add `<odfv>__<feature>` columns computed by each on-demand view's function from the joined frame."""
    frame = frame.copy()  # one block per dtype, so adding columns below does not fragment it
    for odfv in odfvs:
        inputs: dict[str, list] = {}
        for projection in odfv.source_feature_view_projections.values():
            for f in projection.features:
                inputs[f.name] = frame[f"{projection.name_to_use()}__{f.name}"].tolist()
        for request in odfv.source_request_sources.values():
            for f in request.schema:
                inputs[f.name] = frame[f.name].tolist()
        # NaN (no video_stats row) → None, which the function treats as missing.
        inputs = {k: [None if v != v else v for v in vals] for k, vals in inputs.items()}
        if odfv.mode == "pandas":
            import pandas as pd

            result = odfv.feature_transformation.udf(pd.DataFrame(inputs).astype("float64"))
            out = {c: result[c].tolist() for c in result.columns}
        else:
            out = odfv.feature_transformation.udf(inputs)
        for f in odfv.features:
            values = out.get(f"{odfv.name}__{f.name}", out.get(f.name))
            frame[f"{odfv.name}__{f.name}"] = values
    return frame


def _lateral_sql(store, refs: list[str], entity_table: str, filter_by_created_timestamp: bool) -> str:  # type: ignore[no-untyped-def]
    """Feast's point-in-time semantics as one index-driven query: per view, LATERAL (… ORDER BY
    event_timestamp DESC, created DESC LIMIT 1) over rows with event_timestamp in [row time − ttl, row time].

    Same result as Feast's join (the integration test compares them), but each row costs one probe of the
    feature table's (key, event_timestamp) primary key instead of a join against the key's whole history.
    """
    by_view: dict[str, list[str]] = {}
    for ref in refs:
        view, feature = ref.split(":")
        by_view.setdefault(view, []).append(feature)
    selects, joins = ["e.*"], []
    for i, (name, features) in enumerate(by_view.items()):
        fv = store.get_feature_view(name)
        source = fv.batch_source
        table = source.get_table_query_string()
        (key,) = fv.join_keys
        ts, created = source.timestamp_field, source.created_timestamp_column
        ttl = int(fv.ttl.total_seconds()) if fv.ttl else 0
        conds = [f'f."{key}" = e."{key}"', f'f."{ts}" <= e.event_timestamp']
        if ttl:
            conds.append(f"f.\"{ts}\" >= e.event_timestamp - interval '{ttl} seconds'")
        if filter_by_created_timestamp and created:
            conds.append(f'f."{created}" <= e.event_timestamp')
        order = f'f."{ts}" DESC' + (f', f."{created}" DESC' if created else "")
        cols = ", ".join(f'f."{c}"' for c in features)
        joins.append(
            f"LEFT JOIN LATERAL (SELECT {cols} FROM {table} AS f WHERE {' AND '.join(conds)} "
            f"ORDER BY {order} LIMIT 1) AS v{i} ON true"
        )
        selects += [f'v{i}."{c}"::double precision AS "{name}__{c}"' for c in features]
    return f"SELECT {', '.join(selects)} FROM public.{entity_table} AS e " + " ".join(joins)


def build_dataset(
    settings: Settings,
    stores: StoreUrls,
    engine: Engine,
    *,
    task: str,
    until: datetime,
    out: Path,
    since: datetime | None = None,
    horizon_s: int = labels.DEFAULT_HORIZON_S,
    limit: int | None = None,
    filter_by_created_timestamp: bool = True,
    engine_kind: str = "sql",
    progress: Callable[[str], None] | None = None,
) -> DatasetBuild:
    """Build one training set and write it to `out` (Parquet, written to a temporary name then renamed)."""
    say = progress or (lambda _msg: None)
    validate(task, until, since, out, horizon_s=horizon_s)
    if engine_kind not in JOINS:
        raise ConfigError(f"Unknown join {engine_kind!r}; choose one of: {', '.join(JOINS)}.")
    out = out.expanduser().absolute()
    service_name = TASKS[task]
    sql = (
        labels.ranking_sql(with_since=since is not None)
        if task == "ranking"
        else labels.retrieval_sql(with_since=since is not None)
    )
    if limit is not None:
        sql = f"SELECT * FROM ({sql}) AS q ORDER BY {', '.join(ROW_ORDER[task])} LIMIT {int(limit)}"
    params = {"until": until, "since": since, "horizon_s": horizon_s}
    table = f"foryou_dataset_{uuid.uuid4().hex[:12]}"
    seconds: dict[str, float] = {}
    started = time.perf_counter()

    from foryou import feast_repo

    store = feast_repo.feature_store(settings, stores)
    try:
        service = store.get_feature_service(service_name)
    except Exception as exc:  # FeatureServiceNotFoundException, or a missing registry file
        raise DatasetError(
            f"Feature service {service_name!r} is not registered ({type(exc).__name__}); "
            "run `foryou features apply` first."
        ) from exc

    seconds["setup"] = time.perf_counter() - started  # importing Feast, reading the registry
    try:
        say("labels")
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE UNLOGGED TABLE public.{table} AS {sql}"), params)
            n, latest = conn.execute(
                sa.text(f"SELECT count(*), max(event_timestamp) FROM public.{table}")
            ).one()
            if n == 0:
                _empty_window_error(conn, task, since, until, horizon_s)
            _check_watermarks(conn, latest)
            conn.execute(sa.text(f"ANALYZE public.{table}"))
        seconds["labels"] = time.perf_counter() - started - seconds["setup"]

        say(f"features ({n:,} rows, service {service_name})")
        t = time.perf_counter()
        refs, odfvs = _split_service(store, service)
        if engine_kind == "feast":
            job = store.get_historical_features(
                entity_df=f"SELECT * FROM public.{table}",
                features=refs,
                full_feature_names=True,
                filter_by_created_timestamp=filter_by_created_timestamp,
            )
            joined = job.to_df()
        else:
            import pandas as pd

            with engine.connect() as conn:
                result = conn.execute(sa.text(_lateral_sql(store, refs, table, filter_by_created_timestamp)))
                joined = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
            joined["event_timestamp"] = pd.to_datetime(joined["event_timestamp"], utc=True)
            feature_cols = [c for c in joined.columns if "__" in c]
            joined[feature_cols] = joined[feature_cols].astype("float64")
        frame = _apply_odfvs(joined, odfvs)
        seconds["features"] = time.perf_counter() - t
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS public.{table}"))

    if len(frame) != n:
        raise DatasetError(
            f"Feast returned {len(frame):,} rows for {n:,} entity rows; the join duplicated rows."
        )
    t = time.perf_counter()
    say("write")
    import pandas as pd

    frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True)  # Feast returns naive UTC
    frame = frame.sort_values(list(ROW_ORDER[task]), kind="stable").reset_index(drop=True)
    # Feast's python-mode ODFV may add the unprefixed spelling as well; keep only full names.
    frame = frame.drop(
        columns=[c for c in ("video_age_hours", "hour_of_day", "is_weekend") if c in frame.columns]
    )
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    seconds["write"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - started
    return DatasetBuild(task, service_name, since, until, horizon_s, n, list(frame.columns), out, seconds)
