"""`assay import-lmeval` on output written by lm-evaluation-harness itself.

The fixture runs lm-eval's `simple_evaluate` with a scripted model class registered here, on
two local tasks over the real data beside the checkout (MMLU anatomy as log-likelihood multiple
choice, GSM8K as generation with two filters), and saves it with lm-eval's own
EvaluationTracker: the files are lm-eval's, not imitations.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assay.store import schema
from assay.store.db import Store, resolve_url

MC_TASK = "assay_mmlu_anatomy"
GEN_TASK = "assay_gsm8k_local"
PPL_TASK = "assay_gsm8k_perplexity"


def _h(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def _write_tasks(folder: Path, data_dir: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mc.yaml").write_text(
        f"""task: {MC_TASK}
dataset_path: csv
dataset_kwargs:
  data_files:
    test: {data_dir}/mmlu/test/anatomy_test.csv
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{question.strip()}}}}\\nAnswer:"
doc_to_choice: "{{{{[choice0, choice1, choice2, choice3]}}}}"
doc_to_target: answer
metric_list:
  - metric: acc
  - metric: acc_norm
metadata:
  version: 1.0
"""
    )
    (folder / "gen.yaml").write_text(
        f"""task: {GEN_TASK}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data_dir}/gsm8k/test.jsonl
test_split: test
output_type: generate_until
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: "{{{{answer.split('####')[-1].strip()}}}}"
generation_kwargs:
  until: ["\\n"]
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
    (folder / "ppl.yaml").write_text(
        f"""task: {PPL_TASK}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data_dir}/gsm8k/test.jsonl
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


def run_lmeval(out: Path, data_dir: Path, model: str, limit: int) -> Path:
    """Run lm-eval with a scripted model and save its output as its CLI does; the folder."""
    lm_eval = pytest.importorskip("lm_eval")
    from lm_eval.api.model import LM
    from lm_eval.api.registry import MODEL_REGISTRY, register_model
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    if "assay-scripted" not in MODEL_REGISTRY:

        @register_model("assay-scripted")
        class Scripted(LM):  # type: ignore[misc]
            """Deterministic answers from a hash of the model name and the prompt."""

            def __init__(self, pretrained: str = "scripted", **_: Any) -> None:
                super().__init__()
                self.label = pretrained

            def loglikelihood(self, requests: list[Any]) -> list[tuple[float, bool]]:
                return [
                    (-(_h(self.label + r.args[0] + r.args[1]) % 1000) / 100.0, False)
                    for r in requests
                ]

            def loglikelihood_rolling(self, requests: list[Any]) -> list[float]:
                return [-(_h(r.args[0]) % 1000) / 10.0 for r in requests]

            def generate_until(self, requests: list[Any]) -> list[str]:
                # the gold answer of GSM8K's first question is 18: some right, some wrong
                return [
                    " The answer is 18." if _h(self.label + r.args[0]) % 2 else " 42\nmore"
                    for r in requests
                ]

    tasks = out / "tasks"
    _write_tasks(tasks, data_dir)
    tracker = EvaluationTracker(output_path=str(out / "results"))
    results = lm_eval.simple_evaluate(
        model="assay-scripted",
        model_args=f"pretrained={model}",
        tasks=[MC_TASK, GEN_TASK, PPL_TASK],
        task_manager=TaskManager(include_path=str(tasks)),
        log_samples=True,
        limit=limit,
        evaluation_tracker=tracker,
    )
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    for task in results["configs"]:
        tracker.save_results_samples(task_name=task, samples=samples[task])
    return out / "results"


@pytest.fixture(scope="module")
def lmeval_output(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    import os

    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = tmp_path_factory.mktemp("lmeval")
    run_lmeval(out / "a", data_dir, "scripted-a", 12)
    run_lmeval(out / "b", data_dir, "scripted-b", 12)
    return out


def _records(folder: Path, task: str) -> list[dict[str, Any]]:
    (path,) = folder.rglob(f"samples_{task}_*.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def _rows(db: Path, table: sa.Table) -> list[Any]:
    store = Store(resolve_url(str(db)), readonly=True)
    with store.connect() as conn:
        return list(conn.execute(sa.select(table)).mappings().all())


@pytest.mark.slow  # runs lm-eval itself (its module fixture: about 16 s)
def test_every_record_request_and_metric_arrives(
    cli: Any, tmp_path: Path, lmeval_output: Path
) -> None:
    db = tmp_path / "l.db"
    result = cli("import-lmeval", lmeval_output / "a", "--db", db, "--suite", "lm")
    assert result.code == 0, result.err
    runs = {r["benchmark"]: r for r in _rows(db, schema.runs)}
    assert set(runs) == {f"lmeval/{MC_TASK}", f"lmeval/{GEN_TASK}"}
    # a perplexity task's samples hold corpus-level pairs, not per-sample numbers: said, skipped
    assert f"skipped {PPL_TASK}" in result.out
    assert {r["model"] for r in runs.values()} == {"scripted-a"}
    assert all(r["spec"]["source"] == "lmeval" and r["status"] == "finished" for r in runs.values())
    samples = _rows(db, schema.samples)
    requests = _rows(db, schema.requests)
    scores = _rows(db, schema.scores)
    results_file = json.loads(next(lmeval_output.glob("a/results/*/results_*.json")).read_text())

    mc = runs[f"lmeval/{MC_TASK}"]
    mc_records = _records(lmeval_output / "a", MC_TASK)
    assert mc["main_metric"] == "acc,none" and mc["benchmark_version"] == "1.0"
    mc_samples = {s["sample_id"]: s for s in samples if s["run_id"] == mc["id"]}
    assert len(mc_samples) == len(mc_records) == 12
    for record in mc_records:
        sample = mc_samples[str(record["doc_id"])]
        doc = record["doc"]
        choices = [doc[f"choice{i}"] for i in range(4)]
        assert [c.strip() for c in sample["choices"]] == [str(c).strip() for c in choices]
        assert sample["correct"] == int(doc["answer"])
        assert sample["metadata"]["lmeval"]["doc"] == doc
        # the prediction is the choice lm-eval's model scored highest
        logprobs = [float(r[0]) for r in record["filtered_resps"]]
        assert sample["prediction"] == sample["choices"][logprobs.index(max(logprobs))]
        got = {
            s["metric"]: s["value"]
            for s in scores
            if s["run_id"] == mc["id"] and s["sample_id"] == sample["sample_id"]
        }
        assert got == {"acc,none": record["acc"], "acc_norm,none": record["acc_norm"]}
    # one request per answer choice, with lm-eval's context and continuation
    mc_requests = [r for r in requests if r["run_id"] == mc["id"]]
    assert len(mc_requests) == 4 * 12
    first = next(r for r in mc_records if r["doc_id"] == 0)
    req0 = [r for r in mc_requests if r["sample_id"] == "0"]
    assert [r["request"]["continuation"] for r in sorted(req0, key=lambda r: r["idx"])] == [
        first["arguments"][f"gen_args_{i}"]["arg_1"] for i in range(4)
    ]
    # assay's mean equals lm-eval's own aggregate
    summary = mc["summary"]["metrics"]
    for metric in ("acc,none", "acc_norm,none"):
        assert summary[metric]["mean"] == pytest.approx(results_file["results"][MC_TASK][metric])

    gen = runs[f"lmeval/{GEN_TASK}"]
    gen_records = _records(lmeval_output / "a", GEN_TASK)
    assert len(gen_records) == 24  # a record per document per filter
    gen_samples = {s["sample_id"]: s for s in samples if s["run_id"] == gen["id"]}
    assert len(gen_samples) == 12
    gen_requests = {r["sample_id"]: r for r in requests if r["run_id"] == gen["id"]}
    assert len(gen_requests) == 12
    for record in gen_records:
        key = str(record["doc_id"])
        assert gen_requests[key]["text"] == record["resps"][0][0]
        assert gen_samples[key]["references"] == [record["target"]]
        value = next(
            s["value"]
            for s in scores
            if s["run_id"] == gen["id"]
            and s["sample_id"] == key
            and s["metric"] == f"exact_match,{record['filter']}"
        )
        assert value == record["exact_match"]
    for metric in ("exact_match,strict", "exact_match,number"):
        assert gen["summary"]["metrics"][metric]["mean"] == pytest.approx(
            results_file["results"][GEN_TASK][metric]
        )
    assert gen["summary"]["metrics"]["exact_match,number"]["mean"] > 0  # "18" is read out
    provenance = {p["run_id"]: p["provenance"] for p in _rows(db, schema.run_provenance)}
    assert provenance[gen["id"]]["source"] == "lmeval"
    assert provenance[gen["id"]]["lm_eval_version"] == results_file["lm_eval_version"]


@pytest.mark.slow  # runs lm-eval itself (its module fixture: about 16 s)
def test_reimport_is_idempotent_and_imported_runs_join_leaderboard_and_compare(
    cli: Any, tmp_path: Path, lmeval_output: Path
) -> None:
    db = tmp_path / "l.db"
    assert cli("import-lmeval", lmeval_output, "--db", db).code == 0
    tables = (schema.runs, schema.samples, schema.requests, schema.scores)
    before = [len(_rows(db, t)) for t in tables]
    assert cli("import-lmeval", lmeval_output, "--db", db).code == 0
    after = [len(_rows(db, t)) for t in tables]
    assert before == after and before[0] == 4
    import shutil

    moved = tmp_path / "moved"  # the same output, copied elsewhere, is still the same runs
    shutil.copytree(lmeval_output / "a" / "results", moved)
    assert cli("import-lmeval", moved, "--db", db).code == 0
    assert [len(_rows(db, t)) for t in tables] == before
    board = cli("leaderboard", "--db", db, "--format", "json")
    assert board.code == 0, board.err
    text = board.out
    assert "scripted-a" in text and "scripted-b" in text and f"lmeval/{MC_TASK}" in text
    compared = cli("compare", "scripted-a", "scripted-b", "--db", db, "--format", "json")
    assert compared.code == 0, compared.err
    assert f"lmeval/{MC_TASK}" in compared.out


@pytest.mark.slow  # runs lm-eval itself (its module fixture: about 16 s)
def test_truncated_samples_file_imports_nothing(
    cli: Any, tmp_path: Path, lmeval_output: Path
) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(lmeval_output / "a" / "results", copy)
    db = tmp_path / "l.db"
    (path,) = copy.rglob(f"samples_{GEN_TASK}_*.jsonl")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])  # cut inside the last record
    result = cli("import-lmeval", copy, "--db", db)
    assert result.code == 2
    assert result.err.count("\n") == 1 and "truncated or broken JSON" in result.err
    assert _rows(db, schema.runs) == [] and _rows(db, schema.samples) == []


@pytest.mark.slow  # runs lm-eval itself (its module fixture: about 16 s)
def test_an_earlier_import_survives_a_failed_reimport(
    cli: Any, tmp_path: Path, lmeval_output: Path
) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(lmeval_output / "a" / "results", copy)
    db = tmp_path / "l.db"
    assert cli("import-lmeval", copy, "--db", db).code == 0
    before = len(_rows(db, schema.scores))
    (path,) = copy.rglob(f"samples_{MC_TASK}_*.jsonl")
    path.write_text(path.read_text() + "{not json\n")
    assert cli("import-lmeval", copy, "--db", db).code == 2
    assert len(_rows(db, schema.scores)) == before
    assert {r["status"] for r in _rows(db, schema.runs)} == {"finished"}


def test_foreign_and_missing_inputs_are_one_line_errors(cli: Any, tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("import-lmeval", empty, "--db", db)
    assert result.code == 2 and "no lm-eval results_*.json" in result.err
    foreign = tmp_path / "results_2024.json"
    foreign.write_text(json.dumps({"hello": 1}))
    result = cli("import-lmeval", foreign, "--db", db)
    assert result.code == 2 and "not an lm-eval results file" in result.err
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "results_2024.json").write_text(json.dumps({"results": {"t": {"acc,none": 1}}}))
    result = cli("import-lmeval", alone, "--db", db)
    assert result.code == 2 and "--log_samples" in result.err
    assert result.err.count("\n") == 1


@pytest.mark.slow  # runs lm-eval itself (its module fixture: about 16 s)
def test_imported_runs_are_browsable_in_the_viewer(
    cli: Any, tmp_path: Path, lmeval_output: Path
) -> None:
    pytest.importorskip("starlette")
    from urllib.parse import quote

    from starlette.testclient import TestClient

    from assay.web.app import create_app

    db = tmp_path / "l.db"
    assert cli("import-lmeval", lmeval_output / "a", "--db", db).code == 0
    client = TestClient(create_app(Store(resolve_url(str(db)), readonly=True)))
    for run in _rows(db, schema.runs):
        assert client.get(f"/runs/{run['id']}").status_code == 200
        first = next(s for s in _rows(db, schema.samples) if s["run_id"] == run["id"])
        page = client.get(f"/runs/{run['id']}/samples/{quote(first['sample_id'], safe='')}")
        assert page.status_code == 200 and "Answer:" in page.text
