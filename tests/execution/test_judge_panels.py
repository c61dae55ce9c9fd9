"""Panels of judges (`--judge` repeated) with scripted judges that disagree on some samples:
aggregation by mean or majority, the judges' agreement on the run summary, self-preference
flags, and general rubrics added to any benchmark."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assay.analysis.agreement import cohen_kappa, krippendorff_alpha
from assay.metrics.panel import aggregate, model_family, same_family
from assay.store import schema
from assay.store.db import Store

# three judges that each flip a different 25% of verdicts (their seeds differ)
PANEL = [f"mock/judge?flip=0.25&seed={seed}" for seed in (1, 2, 3)]


def query(db: Path, statement: Any) -> list[Any]:
    store = Store(f"sqlite:///{db}", readonly=True)
    try:
        with store.connect() as conn:
            return list(conn.execute(statement))
    finally:
        store.close()


def run(cli: Any, db: Path, data_dir: Path, *args: str) -> Any:
    result = cli("run", *args, "--db", db, "--data-dir", data_dir, "--no-progress")
    assert result.code == 0, result.err
    return result


def judged_samples(db: Path, benchmark: str) -> tuple[dict[str, Any], dict[str, Any], list[Any]]:
    r, s, sc = schema.runs, schema.samples, schema.scores
    ((run_id, summary),) = query(
        db, sa.select(r.c.id, r.c.summary).where(r.c.benchmark == benchmark)
    )
    samples = query(db, sa.select(s.c.sample_id, s.c.metadata).where(s.c.run_id == run_id))
    scores = query(
        db, sa.select(sc.c.sample_id, sc.c.metric, sc.c.value).where(sc.c.run_id == run_id)
    )
    return summary, dict(samples), scores


def test_majority_panel_scores_the_majority_and_reports_alpha(
    cli: Any, data_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "p.db"
    judges = [arg for j in PANEL for arg in ("--judge", j)]
    result = run(
        cli, db, data_dir, "xstest", "-n", "120", "--seed", "5", "-m", "mock/constant?text=Sure",
        *judges, "--panel-aggregate", "majority", "--suite", "panel check",
    )  # fmt: skip
    summary, metas, scores = judged_samples(db, "xstest")
    assert len(metas) == 120
    values = {(sid, metric): v for sid, metric, v in scores}
    table: dict[str, list[float | None]] = {j: [] for j in PANEL}
    disagreements = 0
    for sid, meta in metas.items():
        entry = meta["judge"]["xstest_appropriate"]
        said = entry["judges"]
        assert set(said) == set(PANEL)
        each = [said[j]["score"] for j in PANEL]
        for judge, score in zip(PANEL, each, strict=True):
            table[judge].append(score)
        top, count = Counter(each).most_common(1)[0]
        assert count >= 2  # three judges, two values: always a majority
        assert values[(sid, "xstest_appropriate")] == top == entry["score"]
        disagreements += len(set(each)) > 1
    assert disagreements > 10  # the judges really disagree somewhere
    panel = summary["panel"]
    assert panel["aggregate"] == "majority"
    assert panel["judges"] == {j: {"ok": 120, "unparsed": 0, "error": 0} for j in PANEL}
    found = panel["agreement"]["xstest_appropriate"]
    assert found["statistic"] == "krippendorff_alpha" and found["level"] == "nominal"
    assert found["n"] == 120
    assert found["value"] == pytest.approx(krippendorff_alpha(list(table.values())))
    assert "judges' alpha xstest_appropriate=" in result.out
    # every judge's request is stored, with its label, after the model's own
    rq = schema.requests
    labels = Counter(
        row[0]["judge"]
        for row in query(
            db, sa.select(rq.c.request).where(rq.c.request["role"].as_string() == "judge")
        )
    )
    assert labels == {j: 120 for j in PANEL}
    r = schema.runs
    ((spec,),) = query(db, sa.select(r.c.spec))
    assert [j["label"] for j in spec["judges"]] == PANEL
    assert spec["panel_aggregate"] == "majority"
    assert all(j["temperature"] == 0 and j["seed"] == 0 for j in spec["judges"])


def test_two_judge_mean_panel_reports_kappa_and_garbage_leaves_the_rest(
    cli: Any, data_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "m.db"
    first, second = "mock/judge?flip=0.3&seed=4", "mock/judge?garbage=0.3&seed=9"
    run(
        cli, db, data_dir, "simplesafetytests", "-m", "mock/constant?text=Sure",
        "--judge", first, "--judge", second,
    )  # fmt: skip
    summary, metas, scores = judged_samples(db, "simplesafetytests")
    values = {sid: v for sid, metric, v in scores if metric == "harmful_compliance"}
    a: list[float] = []
    b: list[float] = []
    for sid, meta in metas.items():
        said = meta["judge"]["harmful_compliance"]["judges"]
        assert said[first]["status"] == "ok"
        if said[second]["status"] == "unparsed":  # scored by the judge that answered
            assert values[sid] == said[first]["score"]
        else:
            a.append(said[first]["score"])
            b.append(said[second]["score"])
            assert values[sid] == pytest.approx((a[-1] + b[-1]) / 2)
    assert len(values) == 100  # every sample had at least one readable verdict
    assert 10 < 100 - len(a) < 50  # the second judge's garbage
    found = summary["panel"]["agreement"]["harmful_compliance"]
    assert found["statistic"] == "cohen_kappa" and found["n"] == len(a)
    assert found["value"] == pytest.approx(cohen_kappa(a, b))
    assert summary["panel"]["judges"][second]["unparsed"] == 100 - len(a)
    assert summary["panel"]["aggregate"] == "mean"


def test_majority_split_is_counted_never_scored(cli: Any, data_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    run(
        cli, db, data_dir, "simplesafetytests", "-m", "mock/constant?text=Sure",
        "--judge", "mock/judge", "--judge", "mock/judge?flip=0.5&seed=2",
        "--panel-aggregate", "majority",
    )  # fmt: skip
    summary, metas, scores = judged_samples(db, "simplesafetytests")
    split = {sid for sid, m in metas.items() if m["judge_status"] == "split"}
    assert 20 < len(split) < 80
    assert not split & {sid for sid, _, _ in scores}
    assert summary["judge_split"] == len(split)
    assert summary["metrics"]["harmful_compliance"]["n"] == 100 - len(split)


def test_same_family_judges_are_flagged_or_left_out(
    cli: Any, data_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "f.db"
    # the judged model is itself a scripted judge: same family as the mock/judge judges
    model = "mock/judge?seed=11"
    common = ("strongreject", "-n", "10", "-m", model, "-m", "mock/constant?text=Sure")
    judges = ("--judge", "mock/judge", "--judge", "mock/constant?text=VERDICT: REFUSED")
    result = run(cli, db, data_dir, *common, *judges)
    r = schema.runs
    rows = dict(query(db, sa.select(r.c.model, r.c.summary)))
    assert rows[model]["same_family_judges"] == ["mock/judge"]
    assert rows["mock/constant?text=Sure"]["same_family_judges"] == [
        "mock/constant?text=VERDICT: REFUSED"
    ]
    assert "same-family judge: mock/judge" in result.out
    run(cli, db, data_dir, *common, *judges, "--exclude-same-family-judges", "--suite", "fair")
    fair = query(
        db,
        sa.select(r.c.model, r.c.spec, r.c.summary)
        .join(schema.suite_runs, schema.suite_runs.c.run_id == r.c.id)
        .where(schema.suite_runs.c.suite == "fair"),
    )
    assert {m: [j["label"] for j in spec["judges"]] for m, spec, _ in fair} == {
        model: ["mock/constant?text=VERDICT: REFUSED"],
        "mock/constant?text=Sure": ["mock/judge"],
    }
    assert all(summary["same_family_judges"] == [] for _, _, summary in fair)
    # nobody left to judge: one line, nothing run
    only = cli(
        "run", "strongreject", "-m", model, "--judge", "mock/judge",
        "--exclude-same-family-judges", "--db", tmp_path / "none.db", "--data-dir", data_dir,
    )  # fmt: skip
    assert only.code == 2 and "--exclude-same-family-judges leaves none" in only.err
    assert "Traceback" not in only.err


def test_a_rubric_judges_any_benchmark_with_its_reference(
    cli: Any, data_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "r.db"
    run(
        cli, db, data_dir, "boolq", "-n", "12", "-m", "mock/oracle",
        "--rubric", "1-10", "--rubric", "pass_fail", "--judge", "mock/judge?garbage=0.3",
    )  # fmt: skip
    summary, _, scores = judged_samples(db, "boolq")
    assert summary["main_metric"] == "quasi_exact_match"  # the benchmark's own, unchanged
    by_metric = Counter(metric for _, metric, _ in scores)
    assert by_metric["quasi_exact_match"] == 12
    assert 0 < by_metric["rubric_1_10"] < 12 and 0 < by_metric["rubric_pass_fail"] < 12
    assert {v for _, m, v in scores if m == "rubric_1_10"} == {7.0}
    assert summary["metrics"]["rubric_1_10"]["n"] == by_metric["rubric_1_10"]
    rq = schema.requests
    prompts = [
        row[0]["messages"][0]["content"]
        for row in query(
            db, sa.select(rq.c.request).where(rq.c.request["role"].as_string() == "judge")
        )
    ]
    assert prompts and all("Reference answer:" in p for p in prompts)
    missing = cli("run", "boolq", "-m", "mock/oracle", "--rubric", "1-5", "--db", db,
                  "--data-dir", data_dir)  # fmt: skip
    assert missing.code == 2 and "--judge" in missing.err


def test_aggregate_and_family_rules() -> None:
    assert aggregate([1.0, 0.0, 1.0], "majority") == 1.0
    assert aggregate([1.0, 0.0], "majority") is None
    assert aggregate([3.0, 4.0, 5.0], "majority") is None
    assert aggregate([1.0, 0.0], "mean") == 0.5
    assert aggregate([], "mean") is None
    assert model_family("openai/gpt-4o") == model_family("openai/o3-mini") == "openai"
    assert model_family("openai-compatible/gpt-oss-20b@http://127.0.0.1:8080/v1") == "openai"
    assert model_family("llamacpp/gemma3-270m") == model_family("google/gemini-2.5-pro")
    assert model_family("hf/HuggingFaceTB/SmolLM2-135M-Instruct") == "smollm"
    assert same_family("llamacpp/smollm2", "hf/HuggingFaceTB/SmolLM2-360M")
    assert not same_family("anthropic/claude-sonnet-4", "openai/gpt-4o")
    assert model_family("ollama/mymodel-7b") == "mymodel"
    assert not same_family("mock/judge?seed=1", "mock/constant")


def test_the_run_page_shows_the_panel_its_agreement_and_same_family_judges(
    cli: Any, data_dir: Path, tmp_path: Path
) -> None:
    from starlette.testclient import TestClient

    from assay.web.app import create_app

    db = tmp_path / "w.db"
    own = "mock/judge?seed=7"
    run(
        cli, db, data_dir, "simplesafetytests", "-n", "30", "-m", own,
        *(arg for j in PANEL for arg in ("--judge", j)),
    )  # fmt: skip
    ((run_id, summary),) = query(db, sa.select(schema.runs.c.id, schema.runs.c.summary))
    client = TestClient(create_app(Store(f"sqlite:///{db}", readonly=True)))
    page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200
    assert "Judge panel (mean)" in page.text
    value = summary["panel"]["agreement"]["harmful_compliance"]["value"]
    assert f"Krippendorff&#39;s alpha (nominal) {value:.3f} over 30 samples" in page.text
    assert all(j.replace("&", "&amp;") in page.text for j in PANEL)
    assert "same-family judge (may prefer its own kind)" in page.text
    assert summary["same_family_judges"] == PANEL


def test_a_panel_judge_that_failed_is_asked_again_and_the_rest_stands(
    data_dir: Path, tmp_path: Path
) -> None:
    import asyncio

    from assay.benchmarks.base import DataContext
    from assay.benchmarks.registry import resolve_task
    from assay.execution.executor import Executor
    from assay.execution.retry import RetryPolicy
    from assay.execution.runner import Runner
    from assay.models.mock import MockModel
    from assay.models.registry import create_model

    store = Store(f"sqlite:///{tmp_path / 'partial.db'}")
    model = create_model("mock/constant?text=Sure")
    flaky, steady = create_model("mock/judge?seed=1"), create_model("mock/judge?seed=2")
    assert isinstance(flaky, MockModel) and isinstance(steady, MockModel)
    policy = RetryPolicy(max_attempts=1)
    judges = [Executor(flaky, policy=policy), Executor(steady, policy=policy)]
    task = resolve_task("simplesafetytests")

    def run_once() -> dict[str, Any]:
        runner = Runner(
            store, task, model, Executor(model), data=DataContext(data_dir), judges=judges
        )
        return asyncio.run(runner.run()).summary

    flaky.fail_rate = 0.4
    first = run_once()
    partial = first["judge_partial"]
    assert 10 < partial < 70
    assert first["metrics"]["harmful_compliance"]["n"] == 100  # the steady judge scored them
    assert first["panel"]["judges"]["mock/judge?seed=1"]["error"] == partial
    flaky.fail_rate = 0.0
    calls = flaky.calls, steady.calls
    second = run_once()
    assert (flaky.calls - calls[0], steady.calls - calls[1]) == (partial, 0)
    assert "judge_partial" not in second and second["judge_ok"] == 100
    assert second["panel"]["judges"]["mock/judge?seed=1"] == {"ok": 100, "unparsed": 0, "error": 0}
    store.close()


def test_judge_settings_are_sent_and_part_of_the_run_spec(
    cli: Any, data_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "settings.db"
    base = ("harmbench", "-n", "4", "-m", "mock/constant?text=Sure", "--judge", "mock/judge")
    run(cli, db, data_dir, *base)
    run(cli, db, data_dir, *base, "--judge-temperature", "0.5", "--judge-seed", "9")
    r, rq = schema.runs, schema.requests
    specs = dict(query(db, sa.select(r.c.id, r.c.spec)))
    assert len(specs) == 2  # other judge settings: another run
    settings = {(s["judges"][0]["temperature"], s["judges"][0]["seed"]) for s in specs.values()}
    assert settings == {(0.0, 0), (0.5, 9)}
    sent = query(
        db,
        sa.select(rq.c.run_id, rq.c.request).where(rq.c.request["role"].as_string() == "judge"),
    )
    for run_id, request in sent:
        judge = specs[run_id]["judges"][0]
        assert (request["temperature"], request["seed"]) == (judge["temperature"], judge["seed"])
    bad = cli("run", *base, "--judge-temperature", "-1", "--db", db, "--data-dir", data_dir)
    assert bad.code == 2 and "--judge-temperature" in bad.err
