"""A rich progress bar: samples done, samples/s, ETA and errors so far."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class BarProgress:
    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def start(self, label: str, total: int | None, done: int) -> None:
        self._progress = Progress(
            TextColumn("{task.description}", style="bold", markup=False),  # users' names
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[errors]}"),
            console=self.console,
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(label, total=total, completed=done, rate="", errors="")

    def advance(self, n: int, errors: int) -> None:
        if self._progress is None or self._task is None:
            return
        task = self._progress.tasks[0]
        speed = task.speed
        fields: dict[str, Any] = {
            "rate": f"{speed:,.1f} samples/s" if speed else "",
            "errors": f"[red]{errors} errors[/]" if errors else "0 errors",
        }
        self._progress.update(self._task, advance=n, **fields)

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
