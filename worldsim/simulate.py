"""Generate a world and stream it into the event log in one transaction, then publish its truth."""

from __future__ import annotations

import queue
import shutil
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa
from rich.progress import Progress, TaskID
from sqlalchemy.engine import Engine

from foryou.db import connect
from foryou.schema import EVENT_TYPES
from worldsim import tables
from worldsim.config import WorldConfig
from worldsim.graph import Edges
from worldsim.loader import copy_table, prepare_tables
from worldsim.sessions import DayBatch, Simulator
from worldsim.truth import publish, world_dir, write_truth
from worldsim.world import World, generate_world

T = TypeVar("T")


@dataclass
class SimulationReport:
    """What a simulation wrote: rows per table, events per type, where the truth went, how long it took."""

    rows: dict[str, int] = field(default_factory=dict)
    events_by_type: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EVENT_TYPES, 0))
    sessions: int = 0
    world_dir: Path | None = None
    seconds: float = 0.0


def prefetch(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """Produce items in a background thread while the consumer works on the previous one (order kept)."""
    done = object()
    buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        """Hand one item over; gives up (False) once the consumer has stopped listening."""
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(done)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(exc)

    worker = threading.Thread(target=produce, name="worldsim-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join(timeout=5)


def _day_tables(world: World, simulator: Simulator) -> Iterator[tuple[DayBatch, pa.Table]]:
    for batch in simulator.days():
        yield batch, tables.events_table(world.config.seed, batch.events, batch.impressions)


def _merge_edges(parts: list[Edges]) -> Edges:
    user = np.concatenate([p.user for p in parts])
    creator = np.concatenate([p.creator for p in parts])
    ms = np.concatenate([p.ms for p in parts])
    order = np.lexsort((creator, user))
    return Edges(user[order], creator[order], ms[order])


class _Steps:
    """Optional rich progress: one task per step; a no-op without a Progress."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress

    def add(self, description: str, total: float) -> TaskID | None:
        return self.progress.add_task(description, total=total) if self.progress is not None else None

    def advance(self, task: TaskID | None, n: float = 1, description: str | None = None) -> None:
        if self.progress is not None and task is not None:
            self.progress.update(task, advance=n, description=description)


def simulate_into_database(
    engine: Engine,
    config: WorldConfig,
    home: Path,
    *,
    name: str = "default",
    replace: bool = False,
    progress: Progress | None = None,
) -> SimulationReport:
    """Generate `config`'s world, load it (all or nothing) and save its truth under home/worlds/<name>."""
    started = time.perf_counter()
    steps = _Steps(progress)
    generating = steps.add("generate world", 1)
    world = generate_world(config)
    steps.advance(generating)
    target = world_dir(home, name)
    staging = target.with_name(f".{name}.staging")
    try:
        report = _load(engine, world, staging, replace, steps)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    # Committed: only now replace the truth on disk, so files and tables always describe the same world.
    publish(staging, target)
    report.world_dir = target
    report.seconds = time.perf_counter() - started
    return report


def _load(engine: Engine, world: World, staging: Path, replace: bool, steps: _Steps) -> SimulationReport:
    """Everything inside the one transaction; the truth is staged before the commit."""
    report = SimulationReport()
    simulator = Simulator(world)
    with connect(engine) as conn:
        prepare_tables(conn, replace)
        static = {
            "users": tables.users_table(world),
            "creators": tables.creators_table(world),
            "videos": tables.videos_table(world),
            "blocks": tables.edges_table(world.graph.blocks),
        }
        loading = steps.add("load users, creators, videos, blocks", sum(t.num_rows for t in static.values()))
        for table, data in static.items():
            report.rows[table] = copy_table(conn, table, data, lambda n: steps.advance(loading, n))
        days = steps.add("simulate and load days", world.config.days)
        follows = [world.graph.follows]
        report.rows["events"] = 0
        for batch, data in prefetch(_day_tables(world, simulator)):
            report.rows["events"] += copy_table(conn, "events", data)
            counts = np.bincount(batch.events.event_type, minlength=len(EVENT_TYPES))
            for event_type, count in zip(EVENT_TYPES, counts.tolist(), strict=True):
                report.events_by_type[event_type] += count
            report.sessions += batch.n_sessions
            follows.append(batch.new_follows)
            steps.advance(days, description=f"simulate and load days ({report.rows['events']:,} events)")
        report.rows["follows"] = copy_table(conn, "follows", tables.edges_table(_merge_edges(follows)))
        committing = steps.add("save truth and commit", 1)
        summary = {"rows": report.rows, "events_by_type": report.events_by_type, "sessions": report.sessions}
        write_truth(world, staging, summary)
    steps.advance(committing)
    return report
