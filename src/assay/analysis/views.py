"""Leaderboard views as tables: raw values for data exports, short text for people.

Views: `benchmarks` (a column per benchmark), `groups` (a mean win rate per group, the overall
view). Both end with cost, latency and model metadata, so like can be compared with like.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assay.analysis.leaderboard import Cell, Leaderboard, Standing

VIEWS = ("benchmarks", "groups")
INFO_FIELDS = ("creator", "access", "parameters", "release_date")


@dataclass
class TableData:
    headers: list[str]
    rows: list[list[Any]]


def data_table(board: Leaderboard, view: str = "benchmarks") -> TableData:
    """One row per model with every number in its own column (CSV, parquet)."""
    headers = ["model", "rank", "rank_lo", "rank_hi", "mean_win_rate", "win_rate_lo", "win_rate_hi"]
    if view == "groups":
        for g in board.groups:
            headers += [f"{g}:mean_win_rate", f"{g}:win_rate_lo", f"{g}:win_rate_hi"]
    else:
        for c in board.columns:
            headers += [f"{c.benchmark}:{s}" for s in ("mean", "ci_lo", "ci_hi", "se", "n")]
    headers += ["cost_usd", "latency_s", *INFO_FIELDS]
    rows: list[list[Any]] = []
    for m in board.ordered_models():
        s = board.standings.get(m) or Standing(board.win_rates.get(m))
        row: list[Any] = [m, s.rank, s.rank_lo, s.rank_hi, s.win_rate, s.ci_lo, s.ci_hi]
        if view == "groups":
            for g in board.groups:
                gs = board.group_standings.get(g, {}).get(m)
                row += [gs.win_rate, gs.ci_lo, gs.ci_hi] if gs else [None, None, None]
        else:
            for c in board.columns:
                cell = board.cells.get((m, c.benchmark))
                row += [cell.mean, cell.ci_lo, cell.ci_hi, cell.se, cell.n] if cell else [None] * 5
        info = board.model_info.get(m)
        row += [board.model_cost(m), board.model_latency(m)]
        row += [getattr(info, f) if info else None for f in INFO_FIELDS]
        rows.append(row)
    return TableData(headers, rows)


def display_table(board: Leaderboard, view: str = "benchmarks") -> TableData:
    """One row per model with combined, rounded cells (terminal, markdown, LaTeX)."""
    headers = ["model", "mean win rate", "rank"]
    if view == "groups":
        headers += [f"{g} (win rate)" for g in board.groups]
    else:
        for c in board.columns:
            headers.append(f"{c.benchmark} ({c.metric}{'' if c.higher_is_better else ' ↓'})")
    headers += ["cost", "latency", "model info"]
    rows: list[list[Any]] = []
    for m in board.ordered_models():
        s = board.standings.get(m) or Standing(board.win_rates.get(m))
        row: list[Any] = [m, standing_text(s), rank_text(s)]
        if view == "groups":
            for g in board.groups:
                gs = board.group_standings.get(g, {}).get(m)
                row.append(standing_text(gs) if gs else "-")
        else:
            row += [cell_text(board.cells.get((m, c.benchmark))) for c in board.columns]
        cost = board.model_cost(m)
        latency = board.model_latency(m)
        row.append("-" if cost is None else f"${cost:.4g}")
        row.append("-" if latency is None else f"{latency:.3g}s")
        row.append(info_text(board, m))
        rows.append(row)
    return TableData(headers, rows)


def cell_text(cell: Cell | None) -> str:
    if cell is None:
        return "-"
    ci = f" [{cell.ci_lo:.3f}, {cell.ci_hi:.3f}]" if cell.ci_lo is not None else ""
    mark = ("" if cell.complete else "*") + ("†" if cell.older_runs else "")
    return f"{cell.mean:.3f}{ci} n={cell.n}{mark}"


def standing_text(s: Standing | None) -> str:
    if s is None or s.win_rate is None:
        return "-"
    ci = f" [{s.ci_lo:.2f}, {s.ci_hi:.2f}]" if s.ci_lo is not None and s.ci_hi is not None else ""
    return f"{s.win_rate:.3f}{ci}"


def rank_text(s: Standing) -> str:
    if s.rank is None:
        return "-"
    if s.rank_lo is None or (s.rank_lo == s.rank_hi == s.rank):
        return str(s.rank)
    return f"{s.rank} ({s.rank_lo}-{s.rank_hi})"


def info_text(board: Leaderboard, model: str) -> str:
    info = board.model_info.get(model)
    if info is None:
        return "-"
    parts = [
        info.creator or "",
        info.access or "",
        f"{info.parameters:g}B" if info.parameters else "",
        info.release_date or "",
    ]
    return " · ".join(p for p in parts if p) or "-"
