"""MATH on small hand-written files in the hub's layout: loading, prompts, scoring, mistakes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.benchmarks.conftest import prompt_of

from assay.benchmarks import math_competition
from assay.benchmarks.base import DataContext
from assay.benchmarks.registry import all_benchmarks, resolve_task
from assay.errors import UserError
from assay.store import schema
from assay.store.db import Store

DATA = Path(__file__).parent / "data"  # a mirror: math/test.jsonl (7 rows), math/train.jsonl (5)
PROBLEMS = DATA / "math" / "test.jsonl"


def summary(db: Path) -> dict[str, Any]:
    store = Store(f"sqlite:///{db}", readonly=True)
    with store.connect() as conn:
        value: dict[str, Any] = conn.execute(sa.select(schema.runs.c.summary)).scalar_one()
    return value


def run_cli(cli: Any, tmp_path: Path, task: str, model: str, *extra: str) -> dict[str, Any]:
    db = tmp_path / f"{abs(hash((task, model)))}.db"
    result = cli("run", task, "-m", model, "--db", db, "--no-progress", *extra)
    assert result.code == 0, result.err
    return summary(db)


def test_registered_with_its_metric_and_groups() -> None:
    info = all_benchmarks()["math"]
    task = info.build()
    assert task.main_metric == "math_equiv"
    assert set(task.groups) == {"math", "reasoning"}
    assert task.prompt.shots == 4 and task.prompt.config()["extract"] == "boxed"


def test_mirror_layout_loads_references_subjects_and_levels() -> None:
    samples = list(resolve_task("math").load(DataContext(DATA)).samples)
    assert [s.id for s in samples] == [f"test/{i}" for i in range(7)]
    assert [s.references[0] for s in samples] == [
        "5",
        "60",
        "2",
        r"\frac{3}{4}",
        r"\sqrt{2}",
        r"\{-3, 3\}",  # nested and escaped braces inside the box
        r"\dfrac{1}{2}",
    ]
    assert samples[1].metadata["subject"] == "counting_and_probability"
    assert [s.metadata["level"] for s in samples] == [1, 2, 1, 2, 2, 0, 1]  # "Level ?" is 0


def test_golden_prompts_zero_and_few_shot() -> None:
    zero = resolve_task("math:shots=0")
    assert prompt_of(zero, DATA, "test/2") == (
        "Solve the math problem. Reason step by step, then put the final answer, simplified, "
        "in \\boxed{}.\n\nProblem: What is the remainder when $100$ is divided by $7$?\nSolution:"
    )
    task = resolve_task("math:shots=2,subject=number_theory")
    loaded = task.load(DataContext(DATA))
    sample = next(iter(loaded.samples))
    assert loaded.fewshot is not None
    shots = loaded.fewshot(sample)
    # the train pool is filtered like the test set: only number theory has one example
    assert [s.id for s in shots] == ["train/2"]
    request = task.prompt.build(sample, shots, False)[0]
    assert request.prompt == (
        "Solve the math problem. Reason step by step, then put the final answer, simplified, "
        "in \\boxed{}.\n\n"
        "Problem: How many positive divisors does $12$ have?\n"
        "Solution: The divisors are 1, 2, 3, 4, 6 and 12, so there are $\\boxed{6}$.\n\n"
        "Problem: What is the remainder when $100$ is divided by $7$?\nSolution:"
    )
    assert request.stop == ["\n\nProblem:"]


def test_file_end_to_end_through_the_cli(cli: Any, tmp_path: Path) -> None:
    task = f"math:file={PROBLEMS}"
    oracle = run_cli(cli, tmp_path, task, "mock/oracle")
    assert oracle["metrics"]["math_equiv"]["mean"] == 1.0
    assert oracle["metrics"]["math_equiv"]["n"] == 7
    wrong = run_cli(cli, tmp_path, task, "mock/constant?text=\\boxed{0}")
    assert wrong["metrics"]["math_equiv"]["mean"] == 0.0
    # "0.75" is read from "the answer is" and equals the reference \frac{3}{4} of one problem
    one = run_cli(cli, tmp_path, task, "mock/constant?text=So the answer is 0.75.")
    assert one["metrics"]["math_equiv"]["mean"] == pytest.approx(1 / 7)


def test_mirror_end_to_end_with_data_dir(cli: Any, tmp_path: Path) -> None:
    got = run_cli(cli, tmp_path, "math:level=2", "mock/oracle", "--data-dir", str(DATA))
    assert got["metrics"]["math_equiv"] == {**got["metrics"]["math_equiv"], "mean": 1.0, "n": 3}


def test_filters_and_few_shot_from_the_file_never_the_sample_itself() -> None:
    def ids(spec: str) -> list[str]:
        return [s.id for s in resolve_task(spec).load(DataContext(None)).samples]

    assert ids(f"math:file={PROBLEMS},subject=algebra") == ["0"]
    assert ids(f"math:file={PROBLEMS},level=2") == ["1", "3", "4"]
    loaded = resolve_task(f"math:file={PROBLEMS},shots=3").load(DataContext(None))
    assert loaded.fewshot is not None
    for sample in loaded.samples:
        shots = loaded.fewshot(sample)
        assert len(shots) == 3 and sample.id not in {s.id for s in shots}


def test_rows_with_only_an_answer(cli: Any, tmp_path: Path) -> None:
    rows = [
        {"problem": "What is $1+1$?", "answer": "2", "subject": "Prealgebra", "level": 1},
        {
            "problem": "What is half of $3$?",
            "answer": "\\frac{3}{2}",
            "solution": "Half of 3 is 1.5.",
            "subject": "Prealgebra",
            "level": 2,
            "unique_id": "test/prealgebra/9.json",
        },
    ]
    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = resolve_task(f"math:file={path},shots=1")
    samples = list(task.load(DataContext(None)).samples)
    assert [s.id for s in samples] == ["0", "test/prealgebra/9.json"]
    assert samples[1].metadata["level"] == 2
    target = task.prompt.build(samples[1], [], False)[0].oracle
    assert target is not None
    assert target.answer == "Half of 3 is 1.5.\nThe final answer is $\\boxed{\\frac{3}{2}}$."
    assert run_cli(cli, tmp_path, f"math:file={path}", "mock/oracle")["metrics"]["math_equiv"][
        "mean"
    ] == (1.0)


def test_hub_layouts(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [json.loads(line) for line in PROBLEMS.read_text().splitlines()]
    asked: list[tuple[str, str | None, str]] = []

    def fake_hub(path: str, *, name: str | None = None, split: str) -> list[dict[str, Any]]:
        asked.append((path, name, split))
        if name is None:
            return rows
        return [r for r in rows if math_competition.subject_key(r["type"]) == name]

    monkeypatch.setattr(math_competition, "load_hub", fake_hub)
    per_subject = list(resolve_task("math:shots=0").load(DataContext(None)).samples)
    assert [name for _, name, _ in asked] == list(math_competition.SUBJECTS)
    assert per_subject[0].id == "test/algebra/0" and len(per_subject) == 7
    asked.clear()
    single = resolve_task("math:hub=hendrycks/competition_math,subject=geometry,shots=1")
    loaded = single.load(DataContext(None))
    assert asked == [
        ("hendrycks/competition_math", None, "test"),
        ("hendrycks/competition_math", None, "train"),
    ]
    assert [s.references for s in loaded.samples] == [[r"\sqrt{2}"]]


@pytest.mark.parametrize(
    ("spec", "rows", "message"),
    [
        ("math:subject=calculus", None, "subject must be all or one of algebra"),
        ("math:level=6", None, "level must be 1 to 5"),
        ("math:shots=9", None, "shots must be between 0 and 8"),
        ("math:file={file}", [{"problem": "x?"}], "needs 'problem' and 'solution'"),
        ("math:file={file}", [{"problem": "x?", "solution": "It is 3."}], "no \\boxed{} answer"),
        ("math:file={file},subject=geometry", [{"problem": "x?", "answer": "1"}], "no test"),
        ("math:file={missing}", None, "is missing"),
    ],
)
def test_mistakes_are_one_line(
    cli: Any, tmp_path: Path, spec: str, rows: list[dict[str, Any]] | None, message: str
) -> None:
    file = tmp_path / "bad.jsonl"
    if rows is not None:
        file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = spec.format(file=file, missing=tmp_path / "nope.jsonl")
    result = cli("run", task, "-m", "mock/oracle", "--db", tmp_path / "x.db", "--no-progress")
    assert result.code == 2
    assert message in result.err, result.err
    assert len(result.err.strip().splitlines()) == 1
    with pytest.raises(UserError):
        list(resolve_task(task).load(DataContext(None)).samples)
