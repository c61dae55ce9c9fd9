"""Runs with perturbed inputs: every variant stored and scored, worst case per sample."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assay.benchmarks.base import DataContext, Loaded, Task
from assay.benchmarks.registry import resolve_task
from assay.errors import UserError
from assay.execution.executor import Executor
from assay.execution.runner import Runner, RunResult
from assay.metrics.metric import Direction, Metric, Values
from assay.metrics.reference import exact_match
from assay.metrics.registry import METRICS
from assay.models.base import Capabilities, Model, ModelSpec
from assay.perturbations import Lowercase, Typos, perturb
from assay.prompting.formats import MultipleChoice
from assay.requests import Request, Response
from assay.samples import Sample
from assay.store import schema
from assay.store.db import Store


class CaseSensitive(Model):
    """Right when the question (the line after "Question:") has a capital letter, else wrong."""

    capabilities = Capabilities(chat=True, completion=True, concurrency=8)

    async def generate(self, request: Request) -> Response:
        text = request.messages[-1]["content"] if request.messages else request.prompt or ""
        question = text.rsplit("Question:", 1)[-1].strip().splitlines()[0]
        oracle = request.oracle
        assert oracle is not None
        wrong = next(label for label in oracle.labels if label != oracle.answer)
        right = any(c.isupper() for c in question)
        return Response(text=oracle.answer if right else wrong, input_tokens=9, output_tokens=1)


def run(db: Path, task: Task, model: Model, data: DataContext, limit: int | None) -> RunResult:
    store = Store(f"sqlite:///{db}")
    try:
        runner = Runner(store, task, model, Executor(model), data=data, limit=limit)
        return asyncio.run(runner.run())
    finally:
        store.close()


def per_sample(db: Path, run_id: str) -> dict[str, dict[str, float]]:
    store = Store(f"sqlite:///{db}", readonly=True)
    sc = schema.scores
    out: dict[str, dict[str, float]] = {}
    with store.connect() as conn:
        for sample_id, metric, value in conn.execute(
            sa.select(sc.c.sample_id, sc.c.metric, sc.c.value).where(sc.c.run_id == run_id)
        ):
            out.setdefault(sample_id, {})[metric] = value
    store.close()
    return out


def test_oracle_is_right_on_every_variant_and_originals_come_from_the_cache(
    cli: Any, data_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "a.db"
    common = ["-m", "mock/oracle", "-n", "30", "--db", db, "--data-dir", data_dir, "--no-progress"]
    assert cli("run", "mmlu:shots=0", *common).code == 0
    result = cli(
        "run", "mmlu:shots=0", *common, "--perturb", "typos:rate=0.05", "--perturb", "lowercase"
    )
    assert result.code == 0, result.err
    assert "mmlu:shots=0,perturb=lowercase+typos" not in result.out  # order is the user's
    assert "mmlu:shots=0,perturb=typos+lowercase" in result.out and "worst 1.000" in result.out
    store = Store(f"sqlite:///{db}", readonly=True)
    with store.connect() as conn:
        runs = {
            name: (spec, summary)
            for name, spec, summary in conn.execute(
                sa.select(schema.runs.c.benchmark, schema.runs.c.spec, schema.runs.c.summary)
            )
        }
        rq, s = schema.requests, schema.samples
        requests = conn.execute(
            sa.select(rq.c.sample_id, rq.c.idx, rq.c.request).order_by(rq.c.sample_id, rq.c.idx)
        ).all()
        inputs = dict(conn.execute(sa.select(s.c.sample_id, s.c.input)).all())
    store.close()
    spec, summary = runs["mmlu:shots=0,perturb=typos+lowercase"]
    assert [p["name"] for p in spec["prompt"]["perturbations"]] == ["typos", "lowercase"]
    assert spec["prompt"]["perturbations"][0] == {"name": "typos", "rate": 0.05, "seed": 0}
    for metric in (
        "exact_match",
        "exact_match_typos",
        "exact_match_lowercase",
        "exact_match_worst",
    ):
        assert summary["metrics"][metric]["mean"] == 1.0 and summary["metrics"][metric]["n"] == 30
    # originals come from the plain run's cache (and a variant that came out unchanged too)
    assert summary["requests"] == 90 and 30 <= summary["cache_hits"] < 40
    # each sample: original, typos, lowercase requests; the sample row keeps the original
    by_sample: dict[str, list[str]] = {}
    for sample_id, _idx, request in requests:
        by_sample.setdefault(sample_id, []).append(request["messages"][-1]["content"])
    changed_by_typos = 0
    for sample_id, contents in by_sample.items():
        if len(contents) == 1:
            continue  # the plain run's request
        original, typos, lower = contents[-3:]
        assert inputs[sample_id] in original
        assert inputs[sample_id].lower() in lower
        changed_by_typos += typos != original
    assert changed_by_typos > 20


def test_worst_case_sees_a_model_that_depends_on_case(data_dir: Path, tmp_path: Path) -> None:
    task = perturb(resolve_task("mmlu:shots=0"), [Lowercase()])
    model = CaseSensitive(ModelSpec("test", "case-sensitive"))
    result = run(tmp_path / "a.db", task, model, DataContext(data_dir), limit=40)
    metrics = result.summary["metrics"]
    assert metrics["exact_match"]["mean"] > 0.9
    assert metrics["exact_match_lowercase"]["mean"] == 0.0
    assert metrics["exact_match_worst"]["mean"] == 0.0 < metrics["exact_match"]["mean"]
    for scores in per_sample(tmp_path / "a.db", result.run_id).values():
        assert scores["exact_match_worst"] == min(
            scores["exact_match"], scores["exact_match_lowercase"]
        )


def toy_task(higher_is_better: bool) -> Task:
    samples = [
        Sample(id=f"q{i}", input=f"Which number is {i}?", choices=[str(i), "x", "y"], correct=0)
        for i in range(6)
    ]
    return Task(
        load=lambda _data: Loaded(samples),
        prompt=MultipleChoice(),
        metrics=["exact_match"],
        higher_is_better=higher_is_better,
        name="toy",
    )


@pytest.mark.parametrize("higher_is_better", [True, False])
def test_worst_case_follows_the_metric_direction(tmp_path: Path, higher_is_better: bool) -> None:
    task = perturb(toy_task(higher_is_better), [Lowercase(), Typos(rate=0.0)])
    model = CaseSensitive(ModelSpec("test", "case-sensitive"))
    result = run(tmp_path / "a.db", task, model, DataContext(), limit=None)
    metrics = result.summary["metrics"]
    assert metrics["exact_match"]["mean"] == 1.0  # "Which ..." has a capital
    assert metrics["exact_match_typos"]["mean"] == 1.0  # rate 0: unchanged
    assert metrics["exact_match_lowercase"]["mean"] == 0.0
    # worse is lower when higher is better, higher when lower is better
    assert metrics["exact_match_worst"]["mean"] == (0.0 if higher_is_better else 1.0)


def miss(answer: str | None, references: Sequence[str]) -> float:
    """1 when the answer is wrong: a lower-is-better per-sample metric."""
    return 1.0 - exact_match(answer, references)


def test_worst_case_of_a_lower_is_better_metric_beside_the_main_one_is_its_max(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        METRICS, "miss", Metric("miss", fn=miss, direction=Direction.LOWER, values=Values.BINARY)
    )
    task = toy_task(higher_is_better=True)
    task.metrics = ["exact_match", "miss"]  # the main metric stays exact_match
    task = perturb(task, [Lowercase()])
    model = CaseSensitive(ModelSpec("test", "case-sensitive"))
    result = run(tmp_path / "a.db", task, model, DataContext(), limit=None)
    metrics = result.summary["metrics"]
    assert metrics["miss"]["mean"] == 0.0
    assert metrics["miss_lowercase"]["mean"] == 1.0
    assert metrics["miss_worst"]["mean"] == 1.0  # the worst miss is a miss, not the original hit
    assert metrics["exact_match_worst"]["mean"] == 0.0
    for scores in per_sample(tmp_path / "a.db", result.run_id).values():
        assert scores["miss_worst"] == max(scores["miss"], scores["miss_lowercase"])


def test_perturbation_mistakes_are_one_line(cli: Any, tmp_path: Path) -> None:
    result = cli("run", "mmlu", "-m", "mock/oracle", "--perturb", "typo", "--db", tmp_path / "a.db")
    assert result.code != 0 and "unknown perturbation 'typo'" in result.err
    assert "Traceback" not in result.err
    with pytest.raises(UserError, match="more than once"):
        perturb(toy_task(True), [Lowercase(), Lowercase()])
