"""Judged runs end to end with scripted judges (mock/judge): verdicts that cannot be read and
judge errors are counted, never scored; judge requests are stored, cached and part of the id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assay.store import schema
from assay.store.db import Store

JUDGE = "mock/judge?garbage=0.3"


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


def the_run(db: Path, benchmark: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    r = schema.runs
    (found,) = query(db, sa.select(r.c.id, r.c.summary, r.c.spec).where(r.c.benchmark == benchmark))
    return found[0], found[1], found[2]


def test_garbage_verdicts_are_visible_unparsed_and_left_out_of_the_mean(
    cli: Any, data_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "j.db"
    # spread over the whole of XSTest (safe and unsafe rows), not its first rows
    result = run(cli, db, data_dir, "xstest", "-m", "mock/constant?text=Sure", "--judge", JUDGE)
    run_id, summary, spec = the_run(db, "xstest")
    s, sc, rq = schema.samples, schema.scores, schema.requests
    samples = query(
        db, sa.select(s.c.sample_id, s.c.status, s.c.metadata).where(s.c.run_id == run_id)
    )
    assert len(samples) == 450
    unparsed = {sid for sid, _, meta in samples if meta["judge_status"] == "unparsed"}
    assert 0.2 * 450 < len(unparsed) < 0.4 * 450  # the scripted judge's 30%
    assert all(status == "ok" for _, status, _ in samples)  # the model did answer
    for sid, _, meta in samples:
        if sid in unparsed:
            assert meta["judge"]["xstest_appropriate"]["status"] == "unparsed"
            assert meta["judge"]["xstest_appropriate"]["reason"]
    scores = dict(
        query(
            db,
            sa.select(sc.c.sample_id, sc.c.value).where(
                sc.c.run_id == run_id, sc.c.metric == "xstest_appropriate"
            ),
        )
    )
    assert not unparsed & set(scores)  # never scored, not even as 0
    assert len(scores) == 450 - len(unparsed)
    stats = summary["metrics"]["xstest_appropriate"]
    assert stats["n"] == len(scores)
    assert stats["mean"] == pytest.approx(sum(scores.values()) / len(scores))
    # the model always complies: right on safe prompts only
    labels = {sid: meta["label"] for sid, _, meta in samples}
    assert all(v == (1.0 if labels[sid] == "safe" else 0.0) for sid, v in scores.items())
    assert summary["judge_unparsed"] == len(unparsed)
    assert summary["judge_errors"] == 0
    assert f"{len(unparsed)} unparsed by judge" in result.out
    # two metrics, one judge prompt: one judge request per sample, stored after the model's
    judge_rows = query(
        db,
        sa.select(rq.c.idx, rq.c.request, rq.c.text).where(
            rq.c.run_id == run_id, rq.c.request["role"].as_string() == "judge"
        ),
    )
    assert len(judge_rows) == 450 == summary["judge_requests"]
    assert all(idx == 1 for idx, _, _ in judge_rows)
    assert all(req["judge"] == JUDGE and req["temperature"] == 0 for _, req, _ in judge_rows)
    assert summary["requests"] == 450  # the model's own; the judge's are counted apart
    assert spec["judges"][0]["label"] == JUDGE
    assert spec["judges"][0]["prompts"]["xstest_appropriate"]["name"] == "refusal"


def test_judge_errors_are_counted_never_scored(cli: Any, data_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "e.db"
    judge = "mock/judge?fail_rate=0.4"
    run(
        cli, db, data_dir, "simplesafetytests", "-m", "mock/constant?text=No.",
        "--judge", judge, "--max-attempts", "1",
    )  # fmt: skip
    run_id, summary, _ = the_run(db, "simplesafetytests")
    s, sc = schema.samples, schema.scores
    metas = dict(query(db, sa.select(s.c.sample_id, s.c.metadata).where(s.c.run_id == run_id)))
    errored = {sid for sid, m in metas.items() if m["judge_status"] == "error"}
    assert 0 < len(errored) < 100
    assert all("server" in metas[sid]["judge"]["harmful_compliance"]["error"] for sid in errored)
    scored = set(query(db, sa.select(sc.c.sample_id).where(sc.c.run_id == run_id)))
    assert not {(sid,) for sid in errored} & scored
    assert summary["judge_errors"] == len(errored)
    assert summary["metrics"]["harmful_compliance"]["n"] == 100 - len(errored)
    assert summary["n_errors"] == 0  # the model's answers were fine
    assert summary["errors_by_kind"] == {}  # the judge's errors are not the model's


def test_judge_requests_are_cached_under_the_judges_identity(
    cli: Any, data_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "c.db"
    args = ("strongreject", "-n", "30", "--judge", "mock/judge")
    run(cli, db, data_dir, *args, "-m", "mock/constant?text=Sure")
    # another model giving the same answers: the judge is asked the same things again
    run(cli, db, data_dir, *args, "-m", "mock/constant?text=Sure&seed=7")
    r, rq = schema.runs, schema.requests
    rows = query(
        db,
        sa.select(r.c.model, rq.c.cached)
        .join(rq, rq.c.run_id == r.c.id)
        .where(rq.c.request["role"].as_string() == "judge"),
    )
    first = [cached for model, cached in rows if model == "mock/constant?text=Sure"]
    second = [cached for model, cached in rows if model != "mock/constant?text=Sure"]
    assert len(first) == len(second) == 30
    assert not any(first) and all(second)  # the rerun made no judge calls
    # another judge is another identity: no cache hits, a new run
    run(cli, db, data_dir, *args, "-m", "mock/constant?text=Sure", "--judge", "mock/judge?seed=3")


def test_the_judge_is_part_of_the_run_id(cli: Any, data_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    base = ("harmbench", "-n", "5", "-m", "mock/constant?text=Sure", "--suite", "safety-check")
    run(cli, db, data_dir, *base, "--judge", "mock/judge")
    run(cli, db, data_dir, *base, "--judge", "mock/judge")  # same judge: the same run
    run(cli, db, data_dir, *base, "--judge", "mock/judge?seed=1")
    r = schema.runs
    specs = query(db, sa.select(r.c.id, r.c.spec).where(r.c.benchmark == "harmbench"))
    assert len(specs) == 2
    assert {spec["judges"][0]["label"] for _, spec in specs} == {"mock/judge", "mock/judge?seed=1"}
    assert {spec["judges"][0]["seed"] for _, spec in specs} == {0}
    # a benchmark without judged metrics keeps its id whatever --judge says
    run(cli, db, data_dir, "boolq", "-n", "5", "-m", "mock/oracle", "--judge", "mock/judge")
    run(cli, db, data_dir, "boolq", "-n", "5", "-m", "mock/oracle")
    boolq = query(db, sa.select(r.c.id, r.c.spec).where(r.c.benchmark == "boolq"))
    assert len(boolq) == 1 and boolq[0][1]["judges"] == []


def test_a_judged_benchmark_without_judge_stops_with_one_line(
    cli: Any, data_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "n.db"
    result = cli("run", "xstest", "boolq", "-m", "mock/oracle", "--db", db, "--data-dir", data_dir)
    assert result.code == 2
    assert "pass --judge MODEL" in result.err and "xstest" in result.err
    assert "Traceback" not in result.err
    assert not db.exists() or not query(db, sa.select(schema.runs.c.id))


def test_the_sample_page_shows_the_judge_request(cli: Any, data_dir: Path, tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from assay.web.app import create_app

    db = tmp_path / "w.db"
    run(cli, db, data_dir, "simplesafetytests", "-n", "3", "-m", "mock/constant?text=Sure",
        "--judge", "mock/judge")  # fmt: skip
    run_id, _, _ = the_run(db, "simplesafetytests")
    (sample_id,) = query(db, sa.select(schema.samples.c.sample_id).limit(1))[0]
    client = TestClient(create_app(Store(f"sqlite:///{db}", readonly=True)))
    page = client.get(f"/runs/{run_id}/samples/{sample_id}")
    assert page.status_code == 200
    assert "judge mock/judge" in page.text and "VERDICT: COMPLIED" in page.text
    run_page = client.get(f"/runs/{run_id}")
    assert run_page.status_code == 200 and "unparsed by judge: 0" in run_page.text
    listed = client.get(f"/runs/{run_id}?meta=judge_status&value=ok")
    assert listed.status_code == 200 and sample_id in listed.text
    assert sample_id not in client.get(f"/runs/{run_id}?meta=judge_status&value=error").text


def test_a_rerun_asks_the_judge_again_only_where_it_failed(data_dir: Path, tmp_path: Path) -> None:
    import asyncio

    from assay.benchmarks.base import DataContext
    from assay.benchmarks.registry import resolve_task
    from assay.execution.executor import Executor
    from assay.execution.retry import RetryPolicy
    from assay.execution.runner import Runner
    from assay.models.mock import MockModel
    from assay.models.registry import create_model

    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    model = create_model("mock/constant?text=Sure")
    judge_model = create_model("mock/judge")
    assert isinstance(judge_model, MockModel)
    judge = Executor(judge_model, policy=RetryPolicy(max_attempts=1))
    task = resolve_task("simplesafetytests")

    def run_once() -> dict[str, Any]:
        runner = Runner(
            store, task, model, Executor(model), data=DataContext(data_dir), judge=judge
        )
        return asyncio.run(runner.run()).summary

    judge_model.fail_rate = 0.5  # the judge's server fails half the time, then recovers
    first = run_once()
    failed = first["judge_errors"]
    assert 0 < failed < 100 and first["metrics"]["harmful_compliance"]["n"] == 100 - failed
    judge_model.fail_rate = 0.0
    calls_before = judge_model.calls
    second = run_once()
    assert judge_model.calls - calls_before == failed  # only the failed verdicts asked again
    assert second["judge_errors"] == 0
    assert second["metrics"]["harmful_compliance"]["n"] == 100
    store.close()
