"""Runs in progress on the leaderboard: a running run's cell shows its running mean, marked
unfinished, where the model has no finished run of that benchmark yet."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from assay.analysis.leaderboard import Cell, Column, Leaderboard
from assay.store import browse
from assay.store.db import Store


def with_running(board: Leaderboard, store: Store, running: list[dict[str, Any]]) -> Leaderboard:
    """A copy of `board` with a cell for each running run whose (model, benchmark) has none.
    Win rates stay those of the finished runs: an unfinished cell does not rank anyone."""
    cells = dict(board.cells)
    columns = {c.benchmark: c for c in board.columns}
    models = list(board.models)
    for run in running:
        key = (run["model"], run["benchmark"])
        if key in cells:
            continue
        progress = browse.progress(store, run["id"])
        if progress is None or progress["mean"] is None:
            continue
        cells[key] = Cell(
            mean=progress["mean"],
            ci_lo=progress["ci_lo"],
            ci_hi=progress["ci_hi"],
            n=progress["scored"],
            errors=progress["errors"],
            run_id=run["id"],
            complete=False,
        )
        columns.setdefault(run["benchmark"], Column.of_run(run))
        if run["model"] not in models:
            models.append(run["model"])
    if len(cells) == len(board.cells):
        return board
    return replace(board, cells=cells, columns=[columns[k] for k in sorted(columns)], models=models)
