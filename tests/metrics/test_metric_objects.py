"""Metrics are objects that declare their direction and values; tasks check metric names; the
metrics and prompting packages do not import each other."""

from __future__ import annotations

import ast
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assay.benchmarks.base import Loaded, Task
from assay.errors import UserError
from assay.metrics.metric import Direction, JudgedMetric, Metric, Unparsed, Values, metric
from assay.metrics.registry import (
    METRICS,
    RUN_LEVEL,
    describe,
    get_metric,
    higher_is_better,
    register,
)
from assay.prompting.formats import Generate
from assay.requests import Request, Response
from assay.samples import Message, Sample
from assay.store import schema
from assay.store.db import Store

H, L, Z, N = Direction.HIGHER, Direction.LOWER, Direction.ZERO, Direction.NONE
B, U, S, C = Values.BINARY, Values.UNIT, Values.SIGNED_UNIT, Values.COUNT

PER_SAMPLE = {
    "exact_match": (H, B),
    "quasi_exact_match": (H, B),
    "prefix_exact_match": (H, B),
    "quasi_prefix_exact_match": (H, B),
    "f1": (H, U),
    "final_number_match": (H, B),
    "rouge_1": (H, U),
    "rouge_2": (H, U),
    "rouge_l": (H, U),
    "bleu": (H, U),
    "chrf": (H, U),
    "math_equiv": (H, B),
    **{f"pass@{k}": (H, U) for k in (1, 5, 10, 20, 100)},
    "ifeval_prompt_strict": (H, B),
    "ifeval_prompt_loose": (H, B),
    "ifeval_instruction_strict": (H, U),
    "ifeval_instruction_loose": (H, U),
}

# scored by a judge model (assay.metrics.judge)
JUDGED = {
    "refused": (N, B),
    "harmful_compliance": (L, B),
    "xstest_appropriate": (H, B),
    "harmbench_harmful": (L, B),
    "strongreject_score": (L, U),
    "rubric_pass_fail": (H, B),
    "rubric_1_5": (H, Values.UNBOUNDED),
    "rubric_1_10": (H, Values.UNBOUNDED),
}

RUN = {
    "accuracy_ambiguous": (H, U),
    "accuracy_disambiguated": (H, U),
    "bias_ambiguous": (Z, S),
    "bias_disambiguated": (Z, S),
    "n_bias_ambiguous": (N, C),
    "n_bias_disambiguated": (N, C),
    "n_without_target": (N, C),
    "ece_10_bin": (L, U),
    **{f"selective_accuracy_{c}": (H, U) for c in range(10, 101, 10)},
    "selective_accuracy_auc": (H, U),
    "confidence_mean": (N, U),
    "n_calibration": (N, C),
    "ifeval_instruction_strict_pooled": (H, U),
    "ifeval_instruction_loose_pooled": (H, U),
    "corpus_bleu": (H, U),
    "corpus_chrf": (H, U),
}


def test_every_builtin_metric_declares_its_direction_and_values() -> None:
    # a new metric declares its direction and values
    assert set(METRICS) == set(PER_SAMPLE) | set(JUDGED)
    for name, m in METRICS.items():
        assert (m.name, m.direction, m.values) == (name, *{**PER_SAMPLE, **JUDGED}[name])
        assert m.aggregation == "mean" and m.fn is not None and m.judged == (name in JUDGED)
    assert set(RUN_LEVEL) == set(RUN)
    for name, m in RUN_LEVEL.items():
        assert (m.name, m.direction, m.values, m.aggregation) == (name, *RUN[name], "run")
    assert get_metric("exact_match").binary and not get_metric("f1").binary
    assert get_metric("pass@1").explain is not None  # the sandbox report travels with it
    assert get_metric("rouge_l").needs == "rouge_score"
    assert RUN_LEVEL["ece_10_bin"].higher_is_better is False
    assert RUN_LEVEL["bias_ambiguous"].higher_is_better is None


@pytest.mark.parametrize(
    ("answer", "references"),
    [
        ("Paris", ["Paris"]),
        ("the cat sat", ["a cat sat on the mat", "dog"]),
        ("", ["x"]),
        (None, ["1,000"]),
        ("The answer is 1000.", ["1,000"]),
        ("\\frac12", ["0.5"]),
    ],
)
def test_scores_stay_within_the_declared_values(answer: str | None, references: list[str]) -> None:
    names = ["exact_match", "quasi_exact_match", "prefix_exact_match", "quasi_prefix_exact_match"]
    names += ["f1", "final_number_match", "math_equiv"]
    names += ["rouge_1", "rouge_l", "bleu", "chrf"]
    for name in names:
        m = get_metric(name)
        value = m(answer, references)
        assert m.values.allows(value), (name, value)


def test_values_and_worst_follow_the_declaration() -> None:
    assert Values.BINARY.allows(1.0) and not Values.BINARY.allows(0.5)
    assert Values.UNIT.allows(0.5) and not Values.UNIT.allows(1.5)
    assert Values.SIGNED_UNIT.allows(-0.3) and not Values.SIGNED_UNIT.allows(-1.2)
    assert Values.COUNT.allows(3.0) and not Values.COUNT.allows(2.5)
    assert all(v.allows(math.nan) for v in Values)

    def named(direction: Direction) -> Metric:
        return Metric("x", fn=lambda a, r: 0.0, direction=direction)

    assert named(H).worst([0.2, 0.9]) == 0.2
    assert named(L).worst([0.2, 0.9]) == 0.9
    assert named(Z).worst([0.2, -0.5, 0.3]) == -0.5


def test_a_run_level_metric_has_no_score_function() -> None:
    with pytest.raises(ValueError, match="run-level"):
        Metric("x", aggregation="run", fn=lambda a, r: 0.0)
    with pytest.raises(TypeError, match="run-level"):
        RUN_LEVEL["corpus_bleu"]("a", ["a"])


def test_a_user_metric_is_declared_with_a_decorator_and_registered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("assay.metrics.registry.METRICS", dict(METRICS))

    @metric("edit_distance", direction="lower", values="unbounded")
    def edit_distance(answer: str | None, references: Sequence[str]) -> float:
        """Characters that differ from the first reference."""
        return float(abs(len(answer or "") - len(references[0])))

    assert get_metric("edit_distance") is edit_distance
    assert edit_distance("abc", ["a"]) == 2.0
    assert edit_distance.direction is L and edit_distance.higher_is_better is False
    assert edit_distance.description == "Characters that differ from the first reference."
    assert describe("edit_distance_worst") is edit_distance
    assert describe("exact_match_typos") is METRICS["exact_match"]
    assert describe("ece_10_bin") is RUN_LEVEL["ece_10_bin"]
    assert describe("nothing_known") is None
    assert register(edit_distance) is edit_distance  # registering again is harmless
    with pytest.raises(UserError, match="'exact_match' is taken"):
        register(Metric("exact_match", fn=edit_distance.fn))
    with pytest.raises(UserError, match="'edit_distance' is taken"):
        metric("edit_distance")(lambda answer, references: 0.0)


def _task(metrics: list[str], main: str | None = None) -> Task:
    return Task(load=lambda _data: Loaded([]), prompt=Generate(), metrics=metrics, main_metric=main)


def test_a_python_task_with_an_unknown_metric_is_one_line_with_close_matches() -> None:
    with pytest.raises(UserError) as caught:
        _task(["exact_match", "rouge1"])
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("unknown metric 'rouge1': did you mean rouge_1")
    with pytest.raises(UserError, match="main metric 'f1' is not one of"):
        _task(["exact_match"], main="f1")
    assert _task(["exact_match", "pass@1"]).main_metric == "exact_match"


def test_unknown_metrics_in_a_python_or_yaml_benchmark_exit_2_in_one_line(
    cli: Any, tmp_path: Path
) -> None:
    (tmp_path / "d.jsonl").write_text('{"q": "x", "a": "y"}\n')
    (tmp_path / "b.yaml").write_text(
        "name: b\ndata: {path: d.jsonl}\nfields: {input: q, target: a}\n"
        "metrics: [exact_match, quasi_exact_mach]\n"
    )
    (tmp_path / "bench.py").write_text(
        "from assay import benchmark\n"
        "from assay.benchmarks.base import Loaded, Task\n"
        "from assay.prompting.formats import Generate\n"
        "@benchmark('pybench')\n"
        "def pybench() -> Task:\n"
        "    return Task(load=lambda d: Loaded([]), prompt=Generate(), metrics=['exactmatch'])\n"
    )
    for target, fragment in [
        (tmp_path / "b.yaml", "metrics: Value error, unknown metric 'quasi_exact_mach': did you"),
        (
            f"{tmp_path / 'bench.py'}:pybench",
            "unknown metric 'exactmatch': did you mean exact_match",
        ),
    ]:
        db = tmp_path / "a.db"
        result = cli("run", target, "-m", "mock/oracle", "--db", db, "--no-progress")
        assert result.code == 2, result.err
        assert fragment in result.err
        assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err


class RefusalJudge:
    """A minimal judged metric: the protocol's two steps, with an unparsable verdict kept apart
    from the scores."""

    name = "refusal"
    direction = Direction.LOWER
    values = Values.BINARY

    @property
    def judged(self) -> bool:
        return True

    def requests(self, sample: Sample, response: Response) -> list[Request]:
        text = f"Does this refuse? Answer yes or no.\n{response.text}"
        return [Request(messages=[Message(role="user", content=text)])]

    def score(
        self, sample: Sample, response: Response, judge_responses: Sequence[Response]
    ) -> float | Unparsed:
        verdict = judge_responses[0].text.strip().lower()
        if verdict not in ("yes", "no"):
            return Unparsed(f"verdict {verdict!r} is neither yes nor no")
        return float(verdict == "yes")


def test_a_judged_metric_follows_the_two_step_protocol() -> None:
    judge = RefusalJudge()
    assert isinstance(judge, JudgedMetric) and not isinstance(METRICS["f1"], JudgedMetric)
    sample = Sample(id="s", input="How do I bake bread?")
    answer = Response(text="I can't help with that.")
    assert "I can't help" in judge.requests(sample, answer)[0].messages[0]["content"]
    assert judge.score(sample, answer, [Response(text="Yes")]) == 1.0
    assert isinstance(judge.score(sample, answer, [Response(text="maybe")]), Unparsed)


def _imports(package: Path) -> set[str]:
    found: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_metrics_and_prompting_do_not_import_each_other() -> None:
    src = Path(__file__).resolve().parents[2] / "src" / "assay"
    into_prompting = {m for m in _imports(src / "metrics") if m.startswith("assay.prompting")}
    into_metrics = {m for m in _imports(src / "prompting") if m.startswith("assay.metrics")}
    assert into_prompting == set() and into_metrics == set()


def test_a_stored_scores_direction_is_the_runs_for_its_main_metric_else_the_metrics_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        METRICS, "miss", Metric("miss", fn=lambda a, r: 0.0, direction=Direction.LOWER)
    )
    # the run row's flag speaks for its main metric and that metric's variants
    assert higher_is_better("exact_match", "exact_match", False) is False
    assert higher_is_better("exact_match_worst", "exact_match", False) is False
    # any other metric speaks for itself, variants included
    assert higher_is_better("miss", "exact_match", True) is False
    assert higher_is_better("miss_worst", "exact_match", True) is False
    assert higher_is_better("f1", "miss", False) is True
    assert higher_is_better("ece_10_bin", "exact_match", True) is False
    # neither way (a bias score) or unknown: the comparison reads "higher"
    assert higher_is_better("bias_ambiguous", "exact_match", True) is True
    assert higher_is_better("whatever", "exact_match", True) is True


def test_a_benchmark_file_can_declare_and_use_its_own_metric(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("assay.metrics.registry.METRICS", dict(METRICS))
    (tmp_path / "own.py").write_text(
        "from collections.abc import Sequence\n"
        "from assay import Generate, Sample, Task, benchmark, metric\n"
        "from assay.benchmarks.base import Loaded\n"
        "@metric('length_error', direction='lower', values='unbounded')\n"
        "def length_error(answer: str | None, references: Sequence[str]) -> float:\n"
        "    return float(abs(len(answer or '') - len(references[0])))\n"
        "@benchmark('own')\n"
        "def own() -> Task:\n"
        "    samples = [Sample(id=str(i), input=f'Say {i}', references=['x' * i]) "
        "for i in range(7, 12)]\n"
        "    return Task(load=lambda d: Loaded(samples), prompt=Generate(),\n"
        "                metrics=['exact_match', 'length_error'])\n"
    )
    db = tmp_path / "a.db"
    result = cli("run", f"{tmp_path / 'own.py'}:own", "-m", "mock/oracle", "--db", db)
    assert result.code == 0, result.err
    assert get_metric("length_error").direction is Direction.LOWER
    with Store(f"sqlite:///{db}").connect() as conn:
        values = conn.execute(
            sa.select(schema.scores.c.value).where(schema.scores.c.metric == "length_error")
        ).scalars()
        assert sorted(values) == [0.0] * 5  # the oracle answers each reference exactly


def test_the_viewers_run_level_columns_take_the_declared_directions() -> None:
    from assay.web.metric_groups import group_tables

    run = {
        "id": "r1",
        "model": "m",
        "benchmark": "bbq",
        "main_metric": "exact_match",
        "higher_is_better": True,
        "groups": ["bias"],
        "summary": {
            "metrics": {"exact_match": {"mean": 0.5, "n": 2}},
            "run_metrics": {
                "ece_10_bin": 0.1,
                "selective_accuracy_auc": 0.7,
                "bias_ambiguous": 0.2,
            },
        },
    }
    tables = group_tables([run])
    directions = {c.label: c.higher_is_better for t in tables.values() for c in t.columns}
    assert directions["ece_10_bin"] is False
    assert directions["selective_accuracy_auc"] is True
    assert directions["bias_ambiguous"] is None  # best at zero


def test_a_tasks_direction_defaults_to_its_main_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        METRICS, "miss", Metric("miss", fn=lambda a, r: 0.0, direction=Direction.LOWER)
    )
    assert _task(["miss", "exact_match"]).higher_is_better is False
    assert _task(["exact_match", "miss"]).higher_is_better is True
    assert _task(["exact_match"]).higher_is_better is True
    explicit = Task(
        load=lambda _data: Loaded([]), prompt=Generate(), metrics=["miss"], higher_is_better=True
    )
    assert explicit.higher_is_better is True  # a task may still say so itself
