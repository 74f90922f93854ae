"""Build the feature tables up to a time: incremental, idempotent, one transaction per view.

For each view, inside one transaction: take the view's advisory lock, read its watermark `built_until`
from features.build_state, stage the rows with event_timestamp in (built_until, until] (reading only the
events those rows depend on), run the sanity checks and the gate on the staged batch, insert (rows already
in the table are kept: ON CONFLICT DO NOTHING), advance the watermark, commit. Any failure rolls the whole
view back, so a table and its watermark always agree; building the same window again writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from foryou.db import connect
from foryou.errors import ForyouError, StoreUnavailableError
from pipelines.features.checks import check_batch
from pipelines.features.creator_stats import VIEW as CREATOR_STATS
from pipelines.features.spec import BuildWindow, FeatureView
from pipelines.features.sql import floor_to
from pipelines.features.user_stats import VIEW as USER_STATS
from pipelines.features.video_stats import VIEW as VIDEO_STATS
from pipelines.features.video_velocity import VIEW as VIDEO_VELOCITY

VIEWS: dict[str, FeatureView] = {
    view.name: view for view in (USER_STATS, CREATOR_STATS, VIDEO_STATS, VIDEO_VELOCITY)
}

# Planner settings for the build transaction. The sorts and running sums over millions of rows want memory;
# grouping by sorting (not hashing) keeps (entity, t) order for the window pass that follows, and the CTE row
# estimates are too rough for the planner to see that on its own.
BUILD_SETTINGS = {"work_mem": "256MB", "enable_hashagg": "off"}


class FeatureBuildError(ForyouError):
    """A feature build was asked for something it cannot do (a future time, an unknown view)."""

    exit_code = 2


@dataclass(frozen=True)
class FeatureBatch:
    """A staged batch the gate may inspect: `SELECT * FROM {staging}` on the gate's connection.

    The rows are not in `table` yet; raising from the gate rolls the batch back.
    """

    view: str
    table: str
    entity: str
    staging: str
    start: datetime | None
    end: datetime
    rows: int

    def select_sql(self) -> str:
        return f"SELECT * FROM {self.staging}"


# The validation hook: called with the build's connection (it sees the staged rows) and the batch.
Gate = Callable[[Connection, FeatureBatch], None]
Progress = Callable[[str, str], None]


@dataclass(frozen=True)
class ViewBuild:
    """What one view's build did."""

    view: str
    start: datetime | None
    end: datetime
    rows_staged: int
    rows_written: int
    seconds: float
    up_to_date: bool = False


def resolve_until(until: datetime | None, *, now: datetime | None = None) -> datetime:
    """`until` (default: now) as an aware UTC datetime; a time in the future is refused."""
    now = now or datetime.now(UTC)
    if until is None:
        return now
    if until.tzinfo is None:
        raise FeatureBuildError(f"until={until.isoformat()} has no time zone; pass an aware UTC time.")
    if until > now:
        raise FeatureBuildError(
            f"until={until.astimezone(UTC).isoformat()} is in the future (now is {now.isoformat()}): "
            "features exist only for time that has passed. Leave --until out to build up to now."
        )
    return until.astimezone(UTC)


def resolve_views(names: Sequence[str] | None) -> list[FeatureView]:
    """The views named (all of them, in dependency-free order, when `names` is empty)."""
    if not names:
        return list(VIEWS.values())
    unknown = [n for n in names if n not in VIEWS]
    if unknown:
        raise FeatureBuildError(
            f"Unknown feature view(s) {', '.join(unknown)}; views are: {', '.join(VIEWS)}."
        )
    return [VIEWS[n] for n in dict.fromkeys(names)]


def built_until(engine: Engine, view: str) -> datetime | None:
    """The watermark of `view`: every row with event_timestamp <= it is built (None: never built)."""
    with connect(engine, transaction=False) as conn:
        value = conn.execute(
            sa.text("SELECT built_until FROM features.build_state WHERE view = :view"), {"view": view}
        ).scalar_one_or_none()
    return value


def build(
    engine: Engine,
    until: datetime | None = None,
    *,
    views: Sequence[str] | None = None,
    gate: Gate | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
    jobs: int = 1,
) -> list[ViewBuild]:
    """Build every view (or `views`) up to `until` (default now), each rounded down to its grain.

    With jobs > 1 the views are built concurrently, each on its own connection and transaction (the gate
    is then called from several threads). One after another (jobs=1), the build stops at the first view
    that fails; concurrently, the views already running finish and the ones not started are skipped. Either
    way a failed view writes nothing and the error is raised.
    """
    until = resolve_until(until, now=now)
    chosen = resolve_views(views)
    if jobs < 1:
        raise FeatureBuildError(f"jobs must be at least 1, got {jobs}")
    if jobs == 1 or len(chosen) == 1:
        return [_build_view(engine, view, floor_to(until, view.grain), gate, progress) for view in chosen]
    with ThreadPoolExecutor(max_workers=min(jobs, len(chosen)), thread_name_prefix="features") as pool:
        futures = [
            pool.submit(_build_view, engine, view, floor_to(until, view.grain), gate, progress)
            for view in chosen
        ]
        results: list[ViewBuild] = []
        failure: BaseException | None = None
        for future in futures:
            try:
                results.append(future.result())
            except CancelledError:  # never started: an earlier view failed
                continue
            except BaseException as exc:  # raised once the views already running have finished
                failure = failure or exc
                pool.shutdown(wait=False, cancel_futures=True)
    if failure is not None:
        raise failure
    return results


def _build_view(
    engine: Engine, view: FeatureView, end: datetime, gate: Gate | None, progress: Progress | None
) -> ViewBuild:
    try:
        return _build_view_in_transaction(engine, view, end, gate, progress)
    except sa.exc.OperationalError as exc:  # the server went away or the connection broke mid-run
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise StoreUnavailableError(
            f"Lost Postgres while building {view.name} ({type(exc.orig).__name__}: {reason}). "
            "Its transaction was rolled back: nothing of this batch was written, its watermark did not move. "
            "Re-run `foryou features build` once Postgres is back; it resumes from the watermark."
        ) from exc


def _build_view_in_transaction(
    engine: Engine, view: FeatureView, end: datetime, gate: Gate | None, progress: Progress | None
) -> ViewBuild:
    say = progress or (lambda _view, _message: None)
    started = time.perf_counter()
    with connect(engine) as conn:
        for name, value in BUILD_SETTINGS.items():
            conn.execute(sa.text(f"SET LOCAL {name} = '{value}'"))
        # One builder per view at a time; a second one waits here, then sees the first one's watermark.
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"foryou.features.{view.name}"}
        )
        start = conn.execute(
            sa.text("SELECT built_until FROM features.build_state WHERE view = :view"), {"view": view.name}
        ).scalar_one_or_none()
        if start is not None and end <= start:
            say(view.name, f"up to date (built until {start.isoformat()})")
            return ViewBuild(view.name, start, start, 0, 0, time.perf_counter() - started, up_to_date=True)
        window = BuildWindow(start, end)
        if start is not None:
            # Incremental batches are small; compiling their plans costs more than it saves.
            conn.execute(sa.text("SET LOCAL jit = off"))
        staging = f"stage_{view.name}"
        say(view.name, f"computing ({start.isoformat() if start else 'start of the log'}, {end.isoformat()}]")
        view.stage(conn, window, staging)
        say(view.name, "checking the batch")
        rows = check_batch(conn, view, window, staging)
        if gate is not None:
            gate(conn, FeatureBatch(view.name, view.table, view.entity, staging, start, end, rows))
        say(view.name, f"writing {rows:,} rows")
        written = _insert(conn, view, window, staging)
        conn.execute(
            sa.text(
                "INSERT INTO features.build_state (view, built_until, updated_at) "
                "VALUES (:view, :end, now()) "
                "ON CONFLICT (view) DO UPDATE SET built_until = EXCLUDED.built_until, updated_at = now()"
            ),
            {"view": view.name, "end": end},
        )
    seconds = time.perf_counter() - started
    say(view.name, f"done: {written:,} rows in {seconds:.1f} s")
    return ViewBuild(view.name, start, end, rows, written, seconds)


def available_at_sql(column: str, grain: timedelta) -> str:
    """SQL for a row's `created`: the end of the grain-aligned build window that holds `column`.

    A build up to T writes rows with event_timestamp in (previous T, T], T a multiple of the grain, and the
    cron cadence runs it once T has passed: a row stamped e is available from ceil(e / grain) * grain, not
    before. That time, not the wall-clock time the row happened to be written, is what `created` records, so
    `get_historical_features(filter_by_created_timestamp=True)` shows a training row the features serving had
    at that moment (last closed window), and a backfill or rebuild writes the same values an on-time build
    would have written (byte-identical tables).
    """
    seconds = int(grain.total_seconds())
    return f"to_timestamp(ceil(extract(epoch FROM {column}) / {seconds}) * {seconds})"


def _insert(conn: Connection, view: FeatureView, window: BuildWindow, staging: str) -> int:
    """Insert the staged rows; rows already in the table (same key) are kept as they are.

    Normally the table holds nothing after the watermark, and a plain INSERT cannot conflict (it is about
    twice as fast as ON CONFLICT, which checks every key first); after a watermark was reset by hand the
    window may hold rows, and ON CONFLICT DO NOTHING keeps them. `created`: see `available_at_sql`.
    """
    after = " AND event_timestamp > :start" if window.start is not None else ""
    occupied = conn.execute(
        sa.text(f"SELECT EXISTS (SELECT 1 FROM {view.table} WHERE event_timestamp <= :end{after})"),
        window.params(),
    ).scalar_one()
    columns = ", ".join(view.column_names)
    result = conn.execute(
        sa.text(
            f"INSERT INTO {view.table} ({view.entity}, event_timestamp, created, {columns}) "
            f"SELECT {view.entity}, event_timestamp, {available_at_sql('event_timestamp', view.grain)}, "
            f"{columns} FROM {staging}" + (" ON CONFLICT DO NOTHING" if occupied else "")
        )
    )
    return int(result.rowcount)
