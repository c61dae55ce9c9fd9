"""Progress bars: one live display with a line per run (samples done, samples/s, ETA, errors)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def _display(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}", style="bold", markup=False),  # users' names
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[errors]}"),
        console=console,
        transient=False,
    )


class RunBars:
    """One live display for all runs of an invocation; `line()` gives each run its own bar.

    The display starts with the first run and stops when the last open line finishes (or on
    `close`), so results printed afterwards are not drawn over."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress: Progress | None = None
        self._open = 0

    def line(self) -> BarProgress:
        return BarProgress(self)

    def _add(self, label: str, total: int | None, done: int) -> Task:
        if self._progress is None:
            self._progress = _display(self.console)
            self._progress.start()
        self._open += 1
        task_id = self._progress.add_task(label, total=total, completed=done, rate="", errors="")
        return next(t for t in self._progress.tasks if t.id == task_id)

    def _advance(self, task: Task, n: int, errors: int) -> None:
        if self._progress is None:
            return
        speed = task.speed
        fields: dict[str, Any] = {
            "rate": f"{speed:,.1f} samples/s" if speed else "",
            "errors": f"[red]{errors} errors[/]" if errors else "0 errors",
        }
        self._progress.update(task.id, advance=n, **fields)

    def _done(self) -> None:
        self._open -= 1
        if self._open <= 0:
            self.close()

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        self._open = 0


class BarProgress:
    """One run's line (the runner's `Progress`); alone, it makes its own display."""

    def __init__(self, bars: RunBars | Console) -> None:
        self._bars = bars if isinstance(bars, RunBars) else RunBars(bars)
        self._task: Task | None = None

    def start(self, label: str, total: int | None, done: int) -> None:
        self._task = self._bars._add(label, total, done)

    def advance(self, n: int, errors: int) -> None:
        if self._task is not None:
            self._bars._advance(self._task, n, errors)

    def finish(self) -> None:
        if self._task is not None:
            self._task = None
            self._bars._done()
