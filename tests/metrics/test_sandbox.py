"""pass@k through the sandbox: hostile samples fail alone, correct programs still pass, and
each program's structured result is kept for storing without running it again.

The escapes themselves are tried in tests/sandbox/test_containment.py."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from tests.sandbox.conftest import usable_sandbox  # noqa: F401 - the fixture

from assay.metrics import code
from assay.metrics.code import outcomes, pass_at, sandbox_results
from assay.sandbox import Limits, Outcome, run_python

pytestmark = pytest.mark.usefixtures("usable_sandbox")


def _humaneval(data_dir: Path) -> list[dict[str, Any]]:
    with gzip.open(data_dir / "humaneval" / "HumanEval.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _test_of(row: dict[str, Any]) -> str:
    return f"{row['test']}\n\ncheck({row['entry_point']})\n"


def test_an_escaping_sample_fails_alone() -> None:
    """pass@1 over [bomb, network, reader of the host, correct] counts one correct program."""
    test = "assert add(2, 3) == 5"
    programs = [
        "import os\ndef add(a, b):\n    while True: os.fork()\nadd(1, 1)",
        "import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=1)\n"
        "def add(a, b): return a + b",
        "def add(a, b): return a + b\nassert open('/etc/shadow').read()",
        "def add(a, b):\n    return a + b",
    ]
    assert pass_at(1)(json.dumps(programs), [test]) == pytest.approx(1 / 4)
    statuses = [r["status"] for r in sandbox_results(json.dumps(programs), [test])]
    assert statuses == ["limit", "error", "error", "passed"]


def test_results_are_kept_per_program_and_not_run_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []

    def counting(program: str, limits: Limits | None = None) -> Outcome:
        ran.append(program)
        return run_python(program, limits)

    monkeypatch.setattr(code, "run_python", counting)
    monkeypatch.setattr(code, "_RESULTS", {})
    answer = json.dumps(["def sq(x): return x * x", "def sq(x): return x + x", "def sq(x): 1/0"])
    test = "assert sq(3) == 9"
    assert pass_at(1)(answer, [test]) == pytest.approx(1 / 3)
    assert pass_at(2)(answer, [test]) == pytest.approx(2 / 3)
    results = sandbox_results(answer, [test])
    assert len(ran) == 3
    assert [r["status"] for r in results] == ["passed", "failed", "error"]
    assert results[1]["source"] == "assert sq(3) == 9" and results[1]["line"] == 3
    assert results[2]["exception"] == "ZeroDivisionError"
    assert sandbox_results(None, [test]) == [] and sandbox_results(answer, []) == []


def _canonical_pass_at_1(rows: list[dict[str, Any]]) -> float:
    scores = [
        pass_at(1)(json.dumps([r["prompt"] + r["canonical_solution"]]), [_test_of(r)]) for r in rows
    ]
    return sum(scores) / len(scores)


def test_canonical_solutions_pass_and_broken_ones_say_why(data_dir: Path) -> None:
    rows = _humaneval(data_dir)[::10]  # 17 problems spread over the set
    assert _canonical_pass_at_1(rows) == 1.0
    broken = outcomes([r["prompt"] + "    return None\n" for r in rows[:1]], _test_of(rows[0]))
    assert broken[0].status in ("failed", "error") and broken[0].line is not None


@pytest.mark.slow
def test_every_canonical_solution_passes(data_dir: Path) -> None:
    assert _canonical_pass_at_1(_humaneval(data_dir)) == 1.0
