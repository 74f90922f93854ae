"""Progress reporting for long reads and loads: a small protocol, a silent default and a rich bar."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

Advance = Callable[[int], None]


class ProgressSink(Protocol):
    """Something that shows how far a step is; `task` returns the function that advances it."""

    def task(self, description: str, total: int | None, *, unit: str = "rows") -> Advance: ...


class NoProgress:
    """Reports nothing (library calls and tests)."""

    def task(self, description: str, total: int | None, *, unit: str = "rows") -> Advance:
        return lambda _n: None


class RichProgress:
    """Progress bars on stderr, shown only when stderr is a terminal (logs and pipes stay clean)."""

    def __init__(self, console: Console | None = None) -> None:
        self._console = console or Console(stderr=True)
        self._bars = {
            unit: Progress(
                TextColumn("{task.description:<28}"),
                BarColumn(),
                TaskProgressColumn(),
                DownloadColumn() if unit == "bytes" else MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self._console,
                disable=not self._console.is_terminal,
                transient=False,
            )
            for unit in ("bytes", "rows")
        }
        self._live: Progress | None = None

    def task(self, description: str, total: int | None, *, unit: str = "rows") -> Advance:
        bar = self._bars["bytes" if unit == "bytes" else "rows"]
        if self._live is not bar:
            if self._live is not None:
                self._live.stop()
            bar.start()
            self._live = bar
        task_id = bar.add_task(description, total=total)
        return lambda n: bar.advance(task_id, n)

    def __enter__(self) -> RichProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
