"""A model's page: its metadata and price, every run it has in the store, and its strengths by
benchmark group in a suite (mean win rate per group, its rank on each benchmark)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from assay.analysis.leaderboard import build_leaderboard, run_cost
from assay.analysis.winrate import mean_win_rates
from assay.pricing import price_table
from assay.store import schema
from assay.store.queries import latest_suite_runs, suite_names

if TYPE_CHECKING:
    from assay.web.app import Viewer

MAX_RUNS = 500


def model_runs(viewer: Viewer, model: str) -> list[dict[str, Any]]:
    """The model's runs in every suite, newest first (at most MAX_RUNS)."""
    r, sr = schema.runs, schema.suite_runs
    query = (
        sa.select(
            r.c.id,
            r.c.benchmark,
            r.c.model,
            r.c.main_metric,
            r.c.higher_is_better,
            r.c.status,
            r.c.summary,
            r.c.created_at,
            r.c.finished_at,
        )
        .where(r.c.model == model)
        .order_by(r.c.created_at.desc())
        .limit(MAX_RUNS)
    )
    with viewer.store.connect() as conn:
        rows = [dict(m) for m in conn.execute(query).mappings()]
        ids = [row["id"] for row in rows]
        suites: dict[str, list[str]] = {}
        if ids:
            for run_id, suite in conn.execute(
                sa.select(sr.c.run_id, sr.c.suite).where(sr.c.run_id.in_(ids))
            ):
                suites.setdefault(run_id, []).append(suite)
    info = viewer.catalog.get(model)
    for row in rows:
        row["suites"] = sorted(suites.get(row["id"], []))
        main = ((row.get("summary") or {}).get("metrics") or {}).get(row["main_metric"]) or {}
        row["main"] = main
        row["cost"] = run_cost(row, info)
    return rows


def strengths(runs: list[dict[str, Any]], model: str) -> tuple[list[dict[str, Any]], int]:
    """Per benchmark group and per benchmark of a suite: the model's win rate and rank."""
    board = build_leaderboard("", runs)
    if model not in board.models:
        return [], len(board.models)
    out: list[dict[str, Any]] = []
    lower = {c.benchmark for c in board.columns if not c.higher_is_better}
    for group in board.groups:
        benches = [c.benchmark for c in board.columns if group in c.groups]
        table = {
            m: {b: (c.mean if (c := board.cells.get((m, b))) else None) for b in benches}
            for m in board.models
        }
        rates = mean_win_rates(table, lower_is_better=lower)
        out.append({"group": group, "benchmarks": benches, "win_rate": rates.get(model)})
    out.sort(key=lambda g: -(g["win_rate"] if g["win_rate"] is not None else -1.0))
    return out, len(board.models)


def benchmark_ranks(runs: list[dict[str, Any]], model: str) -> list[dict[str, Any]]:
    board = build_leaderboard("", runs)
    out: list[dict[str, Any]] = []
    for column in board.columns:
        mine = board.cells.get((model, column.benchmark))
        if mine is None:
            continue
        values = [
            c.mean
            for m in board.models
            if (c := board.cells.get((m, column.benchmark))) is not None
        ]
        better = sum(
            1 for v in values if (v > mine.mean if column.higher_is_better else v < mine.mean)
        )
        out.append({"column": column, "cell": mine, "rank": better + 1, "of": len(values)})
    out.sort(key=lambda r: (r["rank"] / max(r["of"], 1), r["column"].benchmark))
    return out


async def model_page(request: Request) -> Response:
    viewer: Viewer = request.app.state.viewer
    model = request.path_params["model"]
    runs = model_runs(viewer, model)
    if not runs:
        raise HTTPException(404, f"no runs of model {model!r} in this store")
    suites = sorted({s for r in runs for s in r["suites"]})
    suite = request.query_params.get("suite") or ""
    if suite not in suites:
        suite = next((s for r in runs for s in r["suites"]), "")
    suite_runs = latest_suite_runs(viewer.store, suite) if suite else []
    groups, n_models = strengths(suite_runs, model)
    return viewer.render(
        "model.html",
        model=model,
        info=viewer.catalog.get(model),
        price=price_table().lookup(model),
        runs=runs,
        capped=len(runs) >= MAX_RUNS,
        suite=suite,
        suites=[s for s in suite_names(viewer.store) if s in suites],
        groups=groups,
        ranks=benchmark_ranks(suite_runs, model),
        n_models=n_models,
    )
