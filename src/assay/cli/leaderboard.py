"""`assay leaderboard`: one row per model, one column per benchmark, and mean win rate."""

from __future__ import annotations

import argparse
import csv
import io
import sys

import orjson
from rich.console import Console
from rich.table import Table

from assay.analysis.leaderboard import Cell, Leaderboard, build_leaderboard
from assay.errors import UserError
from assay.store.db import Store, resolve_url
from assay.store.queries import latest_suite_runs, suite_names


def main(args: argparse.Namespace) -> int:
    store = Store(resolve_url(args.db), readonly=True)
    runs = latest_suite_runs(store, args.suite)
    if not runs:
        known = suite_names(store)
        hint = f"suites here: {', '.join(known)}" if known else "run `assay run` first"
        raise UserError(f"suite {args.suite!r} has no finished runs in {store.location} ({hint})")
    board = build_leaderboard(args.suite, runs)
    sys.stdout.write(render(board, args.format))
    return 0


def cell_text(cell: Cell | None) -> str:
    if cell is None:
        return "-"
    ci = f" [{cell.ci_lo:.3f}, {cell.ci_hi:.3f}]" if cell.ci_lo is not None else ""
    mark = "" if cell.complete else "*"
    return f"{cell.mean:.3f}{ci} n={cell.n}{mark}"


def _win(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def render(board: Leaderboard, fmt: str) -> str:
    if fmt == "json":
        return orjson.dumps(board.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n"
    headers = ["model", "mean win rate"] + [f"{c.benchmark} ({c.metric})" for c in board.columns]
    rows = [
        [m, _win(board.win_rates.get(m))]
        + [cell_text(board.cells.get((m, c.benchmark))) for c in board.columns]
        for m in board.ordered_models()
    ]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(
            ["model", "mean_win_rate"]
            + [
                f"{c.benchmark}{suffix}"
                for c in board.columns
                for suffix in (":mean", ":ci_lo", ":ci_hi", ":n")
            ]
        )
        for m in board.ordered_models():
            line: list[object] = [m, board.win_rates.get(m)]
            for c in board.columns:
                cell = board.cells.get((m, c.benchmark))
                line += [cell.mean, cell.ci_lo, cell.ci_hi, cell.n] if cell else ["", "", "", ""]
            writer.writerow(line)
        return buffer.getvalue()
    if fmt == "markdown":
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        note = "\n\nCells: mean [95% bootstrap CI] n=scored samples; * = run not finished.\n"
        return "\n".join(lines) + note
    table = Table(
        title=f"assay leaderboard · suite {board.suite}",
        caption="mean [95% bootstrap CI] n=scored samples · * run not finished · "
        "win rate: HELM's mean win rate over benchmark columns",
    )
    for h in headers:
        table.add_column(h, overflow="fold")
    for r in rows:
        table.add_row(*r)
    buffer = io.StringIO()
    Console(file=buffer, width=max(100, 34 * len(headers)), highlight=False).print(table)
    return buffer.getvalue()
