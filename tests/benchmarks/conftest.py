"""Shared helpers: the data mirror next to the checkout, and running a benchmark for real."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from assay.benchmarks.base import DataContext, Task
from assay.benchmarks.registry import resolve_task
from assay.execution.executor import Executor
from assay.execution.runner import Runner, RunResult
from assay.models.registry import create_model
from assay.store import schema
from assay.store.db import Store


@dataclass
class Ran:
    result: RunResult
    rows: list[dict[str, Any]]

    def mean(self, metric: str | None = None) -> float:
        name = metric or self.result.main_metric
        return float(self.result.summary["metrics"][name]["mean"])


def run_benchmark(
    task: str | Task, model: str, tmp_path: Path, data: Path | None, limit: int | None = 50
) -> Ran:
    """Run through the real runner into a fresh SQLite store; return the summary and samples."""
    resolved = resolve_task(task) if isinstance(task, str) else task
    db = tmp_path / (model.replace("/", "_").replace("?", "_") + ".db")
    store = Store(f"sqlite:///{db}")
    mock = create_model(model)
    runner = Runner(
        store,
        resolved,
        mock,
        Executor(mock),
        data=DataContext(data),
        limit=limit,
        seed=0,
    )
    result = asyncio.run(runner.run())
    s = schema.samples
    with store.connect() as conn:
        rows = [
            dict(r._mapping) for r in conn.execute(sa.select(s).where(s.c.run_id == result.run_id))
        ]
    return Ran(result, rows)


def prompt_of(task: Task, data: Path, sample_id: str) -> str:
    sample = next(s for s in task.load(DataContext(data)).samples if s.id == sample_id)
    request = task.prompt.build(sample, [], False)[0]
    assert request.prompt is not None
    return request.prompt
