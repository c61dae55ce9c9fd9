"""A run end to end on real data with mock models: scores, errors, cache, resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from assay.errors import UserError
from assay.store import schema
from assay.store.db import Store


def rows(db: Path, query: Any) -> list[Any]:
    store = Store(f"sqlite:///{db}", readonly=True)
    try:
        with store.connect() as conn:
            return list(conn.execute(query))
    finally:
        store.close()


def run_summary(db: Path, model: str, benchmark: str) -> dict[str, Any]:
    r = schema.runs
    found = rows(db, sa.select(r.c.summary).where(r.c.model == model, r.c.benchmark == benchmark))
    assert len(found) == 1
    summary: dict[str, Any] = found[0][0]
    return summary


def test_oracle_scores_one_and_constant_scores_chance(
    cli: Any, data_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "a.db"
    result = cli(
        "run",
        "mmlu",
        "gsm8k",
        "-m",
        "mock/oracle",
        "-m",
        "mock/constant?text=A",
        "--limit",
        "300",
        "--db",
        db,
        "--data-dir",
        data_dir,
        "--no-progress",
    )
    assert result.code == 0, result.err
    oracle = run_summary(db, "mock/oracle", "mmlu")
    assert oracle["metrics"]["exact_match"]["mean"] == 1.0
    assert oracle["metrics"]["exact_match"]["n"] == 300
    constant = run_summary(db, "mock/constant?text=A", "mmlu")
    mean = constant["metrics"]["exact_match"]["mean"]
    stats = constant["metrics"]["exact_match"]
    assert 0.15 < mean < 0.35  # chance on four options
    assert stats["ci_lo"] < mean < stats["ci_hi"]
    gsm = run_summary(db, "mock/oracle", "gsm8k")
    assert gsm["metrics"]["final_number_match"]["mean"] == 1.0
    # "A" holds no number: every gsm8k answer is unparsed and scores 0, not an error
    gsm_constant = run_summary(db, "mock/constant?text=A", "gsm8k")
    assert gsm_constant["n_unparsed"] == 300 and gsm_constant["n_errors"] == 0
    assert "exact_match 1.000" in result.out and "n=300" in result.out
    assert str(db) in result.out


def test_every_request_and_response_is_stored(cli: Any, data_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    cli(
        "run",
        "mmlu:subject=anatomy",
        "-m",
        "mock/oracle",
        "--limit",
        "5",
        "--db",
        db,
        "--data-dir",
        data_dir,
        "--no-progress",
    )
    rq = schema.requests
    stored = rows(db, sa.select(rq.c.request, rq.c.response, rq.c.text, rq.c.cached))
    assert len(stored) == 5
    request, response, text, cached = stored[0]
    messages = request["messages"]
    # 5-shot from the dev split as alternating turns, then the question
    assert [m["role"] for m in messages] == ["user", "assistant"] * 5 + ["user"]
    assert messages[0]["content"].startswith(
        "The following are multiple choice questions (with answers) about anatomy."
    )
    assert messages[-1]["content"].endswith("Answer:")
    assert response["text"] == text and text in "ABCD"
    assert cached is False


def test_failed_requests_are_recorded_never_scored(
    cli: Any, data_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "a.db"
    result = cli(
        "run",
        "mmlu",
        "-m",
        "mock/flaky?fail_rate=0.25",
        "--limit",
        "200",
        "--db",
        db,
        "--data-dir",
        data_dir,
        "--no-progress",
        "--retry-delay",
        "0.001",
    )
    assert result.code == 0
    summary = run_summary(db, "mock/flaky?fail_rate=0.25", "mmlu")
    assert 20 < summary["n_errors"] < 80
    assert summary["n_scored"] == 200 - summary["n_errors"]
    # errors are excluded, so the oracle's accuracy on what was scored stays exactly 1
    assert summary["metrics"]["exact_match"]["mean"] == 1.0
    assert summary["metrics"]["exact_match"]["n"] == summary["n_scored"]
    assert summary["errors_by_kind"] == {"server": summary["n_errors"]}
    s, sc = schema.samples, schema.scores
    errored = {r[0] for r in rows(db, sa.select(s.c.sample_id).where(s.c.status == "error"))}
    scored = {r[0] for r in rows(db, sa.select(sc.c.sample_id))}
    assert errored and not (errored & scored)
    assert f"{summary['n_errors']} errors" in result.out


def test_rerun_uses_cache_and_reproduces_scores(cli: Any, data_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    args = [
        "mmlu",
        "gsm8k",
        "-m",
        "mock/random?seed=3",
        "--limit",
        "100",
        "--db",
        db,
        "--data-dir",
        data_dir,
        "--no-progress",
    ]
    cli("run", *args, "--suite", "first")
    first = {b: run_summary(db, "mock/random?seed=3", b) for b in ("mmlu", "gsm8k")}
    # a different suite with the same spec is the same run: everything is already done
    again = cli("run", *args, "--suite", "second")
    assert "resumed 100 done" in again.out
    # drop the finished samples (not the cache) and run again: every answer comes from cache
    store = Store(f"sqlite:///{db}")
    with store.begin() as conn:
        for table in (schema.scores, schema.requests, schema.samples):
            conn.execute(table.delete())
    store.close()
    cli("run", *args)
    rq = schema.requests
    cached = rows(db, sa.select(sa.func.count()).where(rq.c.cached.is_(True)))[0][0]
    assert cached == 200
    for b in ("mmlu", "gsm8k"):
        summary = run_summary(db, "mock/random?seed=3", b)
        assert summary["metrics"] == first[b]["metrics"]
        assert summary["cache_hits"] == 100


def test_limit_picks_a_stable_nested_subsample(cli: Any, data_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    for limit in ("20", "50"):
        cli(
            "run",
            "gsm8k",
            "-m",
            "mock/oracle",
            "--limit",
            limit,
            "--db",
            db,
            "--data-dir",
            data_dir,
            "--no-progress",
        )
    s, r = schema.samples, schema.runs
    by_run: dict[int, set[str]] = {}
    for sample_id, spec in rows(
        db, sa.select(s.c.sample_id, r.c.spec).join(r, r.c.id == s.c.run_id)
    ):
        by_run.setdefault(spec["limit"], set()).add(sample_id)
    assert len(by_run[20]) == 20 and len(by_run[50]) == 50
    assert by_run[20] < by_run[50]


def test_killed_run_resumes_without_loss_or_duplicates(data_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "kill.db"
    command = [
        sys.executable,
        "-m",
        "assay",
        "run",
        "mmlu",
        "--model",
        "mock/oracle?latency=0.02&concurrency=2",
        "--limit",
        "400",
        "--db",
        str(db),
        "--data-dir",
        str(data_dir),
        "--no-progress",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    s = schema.samples
    deadline = time.monotonic() + 60
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
        if db.exists():
            try:
                done = rows(db, sa.select(sa.func.count()).select_from(s))[0][0]
            except (sa.exc.OperationalError, UserError):  # the store is still being created
                continue
            if done >= 60:
                break
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    killed_at = rows(db, sa.select(sa.func.count()).select_from(s))[0][0]
    assert 60 <= killed_at < 400
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert f"resumed {killed_at} done" in finished.stdout
    ids = [r[0] for r in rows(db, sa.select(s.c.sample_id))]
    assert len(ids) == len(set(ids)) == 400
    sc = schema.scores
    per_sample = rows(db, sa.select(sc.c.sample_id, sa.func.count()).group_by(sc.c.sample_id))
    assert len(per_sample) == 400 and {n for _, n in per_sample} == {1}
    r = schema.runs
    status, summary = rows(db, sa.select(r.c.status, r.c.summary))[0]
    assert status == "finished"
    assert summary["metrics"]["exact_match"] == {
        **summary["metrics"]["exact_match"],
        "mean": 1.0,
        "n": 400,
    }


def test_sampling_overrides_reach_requests_and_the_run_spec(
    cli: Any, data_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "o.db"
    base = [
        "run",
        "gsm8k",
        "-m",
        "mock/oracle",
        "--limit",
        "3",
        "--db",
        db,
        "--data-dir",
        data_dir,
        "--no-progress",
    ]
    assert cli(*base).code == 0
    changed = cli(
        *base,
        "--temperature",
        "0.7",
        "--max-tokens",
        "64",
        "--system",
        "Be brief.",
        "--generation-seed",
        "5",
    )
    assert changed.code == 0
    r, rq = schema.runs, schema.requests
    specs = [row[0] for row in rows(db, sa.select(r.c.spec))]
    assert len(specs) == 2  # a different run, not a silent mix with the first
    assert {"temperature": 0.7, "max_tokens": 64, "system": "Be brief.", "seed": 5} in [
        s.get("overrides") for s in specs
    ]
    sent = [row[0] for row in rows(db, sa.select(rq.c.request))]
    overridden = [q for q in sent if q.get("temperature") == 0.7]
    assert len(overridden) == 3
    for q in overridden:
        assert q["max_tokens"] == 64 and q["seed"] == 5
        assert q["messages"][0] == {"role": "system", "content": "Be brief."}
    bad = cli(*base, "--top-p", "1.5")
    assert bad.code == 2 and "--top-p 1.5 is out of range" in bad.err
