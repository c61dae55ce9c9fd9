"""The leaderboard of a suite: one row per model, one column per benchmark variant.

`leaderboard_from_store` aggregates per-sample scores: each cell gets its mean, n, standard error
and a 95% CI (Wilson for 0/1 scores, else bootstrap; clustered where samples share a source);
each model gets HELM's mean win rate overall and per group, with a bootstrap CI and a rank
interval. The win-rate bootstrap
resamples the samples of each benchmark (the same resampled samples for every model, since they
answered the same questions) and recomputes every win rate from the resampled means.
`build_leaderboard` is the cheap version from the runs' stored summaries, without uncertainty.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from assay.analysis.model_info import ModelCatalog, ModelFilter, ModelInfo
from assay.analysis.scores import RunScores, load_run_scores
from assay.analysis.stats import DEFAULT_RESAMPLES, mean_ci, resample_counts
from assay.analysis.winrate import mean_win_rate_array, mean_win_rates, ranks_from_scores
from assay.pricing import Price, cost
from assay.store.db import Store
from assay.store.queries import latest_suite_runs

WIN_RATE_RESAMPLES = 1_000
_WIN_RATE_CHUNK = 100


@dataclass
class Cell:
    mean: float
    ci_lo: float | None
    ci_hi: float | None
    n: int
    errors: int
    run_id: str
    complete: bool
    se: float | None = None
    clusters: int | None = None
    cost_usd: float | None = None
    latency_s: float | None = None
    benchmark_version: str | None = None
    # runs of the same benchmark and model in the suite that this newer one supersedes
    older_runs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "ci_lo": self.ci_lo,
            "ci_hi": self.ci_hi,
            "se": self.se,
            "n": self.n,
            "clusters": self.clusters,
            "errors": self.errors,
            "cost_usd": self.cost_usd,
            "latency_s": self.latency_s,
            "benchmark_version": self.benchmark_version,
            "run_id": self.run_id,
            "complete": self.complete,
            "older_runs": list(self.older_runs),
        }


@dataclass
class Column:
    benchmark: str
    metric: str
    higher_is_better: bool
    groups: tuple[str, ...] = ()

    @classmethod
    def of_run(cls, run: dict[str, Any]) -> Column:
        """The column a run's row belongs in."""
        return cls(
            run["benchmark"],
            run["main_metric"],
            bool(run["higher_is_better"]),
            tuple(run.get("groups") or ()),
        )


@dataclass
class Standing:
    """A model's mean win rate over some columns, with its uncertainty and rank."""

    win_rate: float | None
    ci_lo: float | None = None
    ci_hi: float | None = None
    rank: int | None = None
    rank_lo: int | None = None
    rank_hi: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean_win_rate": self.win_rate,
            "ci_lo": self.ci_lo,
            "ci_hi": self.ci_hi,
            "rank": self.rank,
            "rank_lo": self.rank_lo,
            "rank_hi": self.rank_hi,
        }


@dataclass
class Leaderboard:
    suite: str
    columns: list[Column]
    models: list[str]
    cells: dict[tuple[str, str], Cell]  # (model, benchmark) -> cell
    win_rates: dict[str, float | None] = field(default_factory=dict)
    standings: dict[str, Standing] = field(default_factory=dict)  # overall, per model
    group_standings: dict[str, dict[str, Standing]] = field(default_factory=dict)
    model_info: dict[str, ModelInfo | None] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def ordered_models(self) -> list[str]:
        return sorted(self.models, key=lambda m: (-(self.win_rates.get(m) or -1.0), m))

    @property
    def notes(self) -> list[str]:
        """One line per cell that supersedes older runs of its benchmark and model."""
        return [
            f"{benchmark} · {model}: newest run {cell.run_id} shown; {len(cell.older_runs)} "
            f"older run(s) on other inputs kept ({', '.join(cell.older_runs[:3])}"
            f"{', ...' if len(cell.older_runs) > 3 else ''})"
            for (model, benchmark), cell in sorted(self.cells.items(), key=lambda kv: kv[0][::-1])
            if cell.older_runs
        ]

    @property
    def groups(self) -> list[str]:
        return sorted({g for c in self.columns for g in c.groups})

    def model_cost(self, model: str) -> float | None:
        costs = [
            cell.cost_usd
            for (m, _), cell in self.cells.items()
            if m == model and cell.cost_usd is not None
        ]
        return sum(costs) if costs else None

    def model_latency(self, model: str) -> float | None:
        """Mean over the model's benchmarks of the mean request latency."""
        values = [
            cell.latency_s
            for (m, _), cell in self.cells.items()
            if m == model and cell.latency_s is not None
        ]
        return sum(values) / len(values) if values else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "warnings": self.warnings,
            "notes": self.notes,
            "groups": self.groups,
            "columns": [
                {
                    "benchmark": c.benchmark,
                    "metric": c.metric,
                    "higher_is_better": c.higher_is_better,
                    "groups": list(c.groups),
                }
                for c in self.columns
            ],
            "rows": [
                {
                    "model": m,
                    "mean_win_rate": self.win_rates.get(m),
                    "standing": self.standings[m].to_dict() if m in self.standings else None,
                    "groups": {
                        g: self.group_standings[g][m].to_dict()
                        for g in self.group_standings
                        if m in self.group_standings[g]
                    },
                    "cost_usd": self.model_cost(m),
                    "latency_s": self.model_latency(m),
                    "info": (info.to_dict() if (info := self.model_info.get(m)) else None),
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
        columns.setdefault(run["benchmark"], Column.of_run(run))
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
            se=_finite(stats.get("se")),
            clusters=stats.get("clusters"),
            latency_s=_finite(summary.get("latency_mean_s")),
            cost_usd=_finite(summary.get("cost_usd")),
            benchmark_version=run.get("benchmark_version"),
            older_runs=list(run.get("older_runs") or ()),
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


def leaderboard_from_store(
    store: Store,
    suite: str,
    *,
    benchmarks: Sequence[str] | None = None,
    group: str | None = None,
    catalog: ModelCatalog | None = None,
    model_filter: ModelFilter | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    win_rate_resamples: int = WIN_RATE_RESAMPLES,
    seed: int = 0,
) -> Leaderboard:
    """The suite's leaderboard recomputed from per-sample scores, with uncertainty throughout."""
    catalog = catalog or ModelCatalog.load()
    runs = latest_suite_runs(store, suite)
    if benchmarks:
        wanted = set(benchmarks)
        runs = [r for r in runs if _names(r) & wanted]
    if group:
        runs = [r for r in runs if group in (r.get("groups") or ())]
    if model_filter is not None and model_filter.active:
        keep = set(model_filter.apply({r["model"] for r in runs}, catalog))
        runs = [r for r in runs if r["model"] in keep]
    board = build_leaderboard(suite, runs)
    scores: dict[tuple[str, str], RunScores] = {}
    with store.connect() as conn:
        for run in runs:
            key = (run["model"], run["benchmark"])
            if key not in board.cells:
                continue
            run_scores = load_run_scores(conn, run["id"], run["main_metric"])
            scores[key] = run_scores
            stats = mean_ci(
                run_scores.values, clusters=run_scores.clustered, resamples=resamples, seed=seed
            )
            cell = board.cells[key]
            cell.mean, cell.n, cell.clusters = stats.mean, stats.n, stats.clusters
            cell.ci_lo, cell.ci_hi = _finite(stats.lo), _finite(stats.hi)
            cell.se = _finite(stats.se)
            cell.cost_usd = run_cost(run, catalog.get(run["model"]))
    board.model_info = {m: catalog.get(m) for m in board.models}
    board.warnings = version_warnings(runs)
    _add_standings(board, scores, win_rate_resamples, seed)
    return board


def run_cost(run: dict[str, Any], info: ModelInfo | None) -> float | None:
    """A run's cost from its summary's token counts: `assay.pricing.cost`, with the model
    metadata's prices when it gives them and the batch rate for a batch run."""
    summary = run.get("summary") or {}
    price = None
    if info is not None and info.price_input is not None and info.price_output is not None:
        price = Price(info.price_input, info.price_output)
    return cost(
        run["model"],
        int(summary.get("input_tokens") or 0),
        int(summary.get("output_tokens") or 0),
        batch=bool(summary.get("batch")),
        price=price,
    )


def version_warnings(runs: Sequence[dict[str, Any]]) -> list[str]:
    """One line per benchmark whose rows come from different benchmark versions or data."""
    out: list[str] = []
    by_benchmark: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_benchmark.setdefault(run["benchmark"], []).append(run)
    for benchmark, group in sorted(by_benchmark.items()):
        versions = sorted({str(r.get("benchmark_version")) for r in group})
        if len(versions) > 1:
            detail = "; ".join(
                f"version {v}: "
                + ", ".join(sorted(r["model"] for r in group if str(r["benchmark_version"]) == v))
                for v in versions
            )
            out.append(f"{benchmark}: rows come from different benchmark versions ({detail})")
        hashes = {r.get("dataset_hash") for r in group if r.get("dataset_hash")}
        if len(hashes) > 1:
            out.append(
                f"{benchmark}: models were evaluated on different samples "
                f"({len(hashes)} dataset hashes); compare them with `assay compare`"
            )
    return out


def _add_standings(
    board: Leaderboard, scores: dict[tuple[str, str], RunScores], resamples: int, seed: int
) -> None:
    models = board.models
    columns = board.columns
    if not models or not columns:
        return
    point = np.full((len(models), len(columns)), np.nan)
    for (model, benchmark), cell in board.cells.items():
        point[models.index(model), [c.benchmark for c in columns].index(benchmark)] = cell.mean
    draws = np.full((resamples, len(models), len(columns)), np.nan)
    rng = np.random.default_rng(seed)
    for j, column in enumerate(columns):
        draws[:, :, j] = _bootstrap_column(
            [scores.get((m, column.benchmark)) for m in models], resamples, rng
        )
    hib = np.array([c.higher_is_better for c in columns], dtype=bool)
    board.standings = _standings(models, point, draws, hib)
    board.win_rates = {m: s.win_rate for m, s in board.standings.items()}
    for name in board.groups:
        idx = [j for j, c in enumerate(columns) if name in c.groups]
        board.group_standings[name] = _standings(models, point[:, idx], draws[:, :, idx], hib[idx])


def _bootstrap_column(
    runs: list[RunScores | None], resamples: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """(resamples, models) means, resampling the union of samples the same way for every model."""
    index: dict[str, int] = {}
    for run in runs:
        if run is not None:
            for sample_id in run.sample_ids:
                index.setdefault(sample_id, len(index))
    n = len(index)
    out = np.full((resamples, len(runs)), np.nan)
    if n == 0:
        return out
    values = np.zeros((n, len(runs)))
    present = np.zeros((n, len(runs)))
    for k, run in enumerate(runs):
        if run is None or not run.sample_ids:
            continue
        positions = np.fromiter((index[s] for s in run.sample_ids), dtype=np.int64)
        values[positions, k] = run.values
        present[positions, k] = 1.0
    step = max(1, 4_000_000 // n)  # bounds the weights matrix to 4M cells
    for start in range(0, resamples, step):
        rows = min(step, resamples - start)
        weights = resample_counts(n, rows, rng)
        totals = weights @ values
        counts = weights @ present
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start : start + rows] = np.where(counts > 0, totals / counts, np.nan)
    return out


def _standings(
    models: list[str],
    point: NDArray[np.float64],
    draws: NDArray[np.float64],
    higher_is_better: NDArray[np.bool_],
) -> dict[str, Standing]:
    rates = mean_win_rate_array(point, higher_is_better)
    resampled = np.concatenate(
        [
            mean_win_rate_array(draws[i : i + _WIN_RATE_CHUNK], higher_is_better)
            for i in range(0, draws.shape[0], _WIN_RATE_CHUNK)
        ]
    )
    ranks = ranks_from_scores(rates)
    resampled_ranks = ranks_from_scores(resampled)
    out: dict[str, Standing] = {}
    for k, model in enumerate(models):
        if np.isnan(rates[k]):
            out[model] = Standing(None)
            continue
        finite = resampled[:, k][~np.isnan(resampled[:, k])]
        lo, hi = np.quantile(finite, [0.025, 0.975]) if finite.size else (np.nan, np.nan)
        rank_lo, rank_hi = np.quantile(resampled_ranks[:, k], [0.025, 0.975])
        out[model] = Standing(
            float(rates[k]),
            _finite(lo),
            _finite(hi),
            int(ranks[k]),
            int(np.floor(rank_lo)),
            int(np.ceil(rank_hi)),
        )
    return out


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if value == value else None


def _names(run: dict[str, Any]) -> set[str]:
    """What `--benchmark` matches: the column label, the variant and the benchmark's name."""
    variant = str(run.get("variant") or run["benchmark"])
    return {run["benchmark"], variant, variant.split(":")[0]}
