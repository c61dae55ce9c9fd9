"""The leaderboard of a suite: one row per model, one column per benchmark variant."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assay.analysis.winrate import mean_win_rates


@dataclass
class Cell:
    mean: float
    ci_lo: float | None
    ci_hi: float | None
    n: int
    errors: int
    run_id: str
    complete: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "ci_lo": self.ci_lo,
            "ci_hi": self.ci_hi,
            "n": self.n,
            "errors": self.errors,
            "run_id": self.run_id,
            "complete": self.complete,
        }


@dataclass
class Column:
    benchmark: str
    metric: str
    higher_is_better: bool


@dataclass
class Leaderboard:
    suite: str
    columns: list[Column]
    models: list[str]
    cells: dict[tuple[str, str], Cell]  # (model, benchmark) -> cell
    win_rates: dict[str, float | None] = field(default_factory=dict)

    def ordered_models(self) -> list[str]:
        return sorted(self.models, key=lambda m: (-(self.win_rates.get(m) or -1.0), m))

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "columns": [
                {
                    "benchmark": c.benchmark,
                    "metric": c.metric,
                    "higher_is_better": c.higher_is_better,
                }
                for c in self.columns
            ],
            "rows": [
                {
                    "model": m,
                    "mean_win_rate": self.win_rates.get(m),
                    "cells": {
                        c.benchmark: (
                            self.cells[(m, c.benchmark)].to_dict()
                            if (m, c.benchmark) in self.cells
                            else None
                        )
                        for c in self.columns
                    },
                }
                for m in self.ordered_models()
            ],
        }


def build_leaderboard(suite: str, runs: list[dict[str, Any]]) -> Leaderboard:
    """`runs`: the suite's latest run per (benchmark, model), each with its summary."""
    columns: dict[str, Column] = {}
    cells: dict[tuple[str, str], Cell] = {}
    models: list[str] = []
    for run in runs:
        summary = run.get("summary") or {}
        stats = (summary.get("metrics") or {}).get(run["main_metric"])
        if stats is None:
            continue
        columns.setdefault(
            run["benchmark"],
            Column(run["benchmark"], run["main_metric"], bool(run["higher_is_better"])),
        )
        if run["model"] not in models:
            models.append(run["model"])
        cells[(run["model"], run["benchmark"])] = Cell(
            mean=stats["mean"],
            ci_lo=_finite(stats.get("ci_lo")),
            ci_hi=_finite(stats.get("ci_hi")),
            n=int(stats["n"]),
            errors=int(summary.get("n_errors", 0)),
            run_id=run["id"],
            complete=run["status"] == "finished",
        )
    ordered = [columns[k] for k in sorted(columns)]
    table = {
        m: {
            c.benchmark: (cells[(m, c.benchmark)].mean if (m, c.benchmark) in cells else None)
            for c in ordered
        }
        for m in models
    }
    lower = {c.benchmark for c in ordered if not c.higher_is_better}
    return Leaderboard(suite, ordered, models, cells, mean_win_rates(table, lower_is_better=lower))


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if value == value else None
