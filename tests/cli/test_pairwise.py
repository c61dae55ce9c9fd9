"""`assay pairwise` end to end with scripted judges: both orders stored with their order, a
judge that only prefers a position gives ties, unread verdicts and judge errors are counted and
never scored, Bradley-Terry ratings order the models, reruns ask nothing twice."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.conftest import run_cli

from assay.store import schema
from assay.store.db import Store

SUITE = "pairs of 3"
# answers of three lengths: the scripted judge prefers the longer
SHORT, MIDDLE, LONG = (
    "mock/constant?text=no",
    "mock/constant?text=maybe so",
    "mock/constant?text=a much longer answer than the others",
)
N = 40


@pytest.fixture
def db(data_dir: Path, tmp_path: Path) -> Path:
    path = tmp_path / "pairs.db"
    result = run_cli(
        "run", "gsm8k", "-n", N, "--seed", "3", "-m", SHORT, "-m", MIDDLE, "-m", LONG,
        "--suite", SUITE, "--db", path, "--data-dir", data_dir, "--no-progress",
    )  # fmt: skip
    assert result.code == 0, result.err
    return path


def pairwise(cli: Any, db: Path, judge: str, *extra: str) -> dict[str, Any]:
    result = cli(
        "pairwise", "--suite", SUITE, "--benchmark", "gsm8k", "--judge", judge,
        "--db", db, "--format", "json", "--resamples", "200", *extra,
    )  # fmt: skip
    assert result.code == 0, result.err
    data: dict[str, Any] = json.loads(result.out)
    return data


def rows(db: Path, judge: str | None = None) -> list[Any]:
    t = schema.pairwise_judgments
    query = sa.select(t)
    if judge is not None:
        query = query.where(t.c.judge == judge)
    store = Store(f"sqlite:///{db}", readonly=True)
    try:
        with store.connect() as conn:
            return list(conn.execute(query).mappings())
    finally:
        store.close()


def pair(data: dict[str, Any], a: str, b: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        p for p in data["pairs"] if {p["model_a"], p["model_b"]} == {a, b}
    ]
    assert len(found) == 1
    return found[0]


def wins_of(found: dict[str, Any], model: str) -> int:
    return int(found["wins_a"] if found["model_a"] == model else found["wins_b"])


def test_both_orders_are_judged_stored_and_the_better_model_wins(cli: Any, db: Path) -> None:
    data = pairwise(cli, db, "mock/judge")
    for better, worse in ((LONG, MIDDLE), (LONG, SHORT), (MIDDLE, SHORT)):
        found = pair(data, better, worse)
        assert wins_of(found, better) == N and found["n"] == N
        assert found["ties"] == found["unparsed"] == found["errors"] == 0
    assert [r["model"] for r in data["ratings"]] == [LONG, MIDDLE, SHORT]
    assert all(r["ci_lo"] - 1e-6 <= r["rating"] <= r["ci_hi"] + 1e-6 for r in data["ratings"])
    assert data["samples"] == N
    stored = rows(db)
    assert len(stored) == 3 * N * 2
    assert Counter(r["order"] for r in stored) == {"ab": 3 * N, "ba": 3 * N}
    for row in stored:
        assert row["run_a"] < row["run_b"] and row["status"] == "ok"
        assert row["request"]["role"] == "judge" and row["request"]["temperature"] == 0
        assert row["judge_spec"]["prompt"]["name"] == "pairwise"
        prompt = row["request"]["messages"][0]["content"]
        assert "Reference answer:" in prompt  # gsm8k has references
    # the order really is recorded: in "ab" run_a's answer is response 1
    runs = _run_models(db)
    for row in stored:
        a_text = runs[row["run_a"]].split("=", 1)[1]
        prompt = row["request"]["messages"][0]["content"]
        shown_first = f"Response 1:\n<<<\n{a_text}\n>>>" in prompt
        assert shown_first == (row["order"] == "ab")


def test_a_rerun_asks_the_judge_nothing_again(cli: Any, db: Path) -> None:
    first = pairwise(cli, db, "mock/judge")
    before = {
        (r["run_a"], r["run_b"], r["sample_id"], r["order"]): r["created_at"] for r in rows(db)
    }
    again = pairwise(cli, db, "mock/judge")
    after = {
        (r["run_a"], r["run_b"], r["sample_id"], r["order"]): r["created_at"] for r in rows(db)
    }
    assert first == again and before == after
    # a larger limit judges only the samples not judged yet
    subset = pairwise(cli, db, "mock/judge", "--limit", "10")
    assert subset["samples"] == 10 and {p["n"] for p in subset["pairs"]} == {10}
    assert len(rows(db)) == 3 * N * 2


def test_a_judge_that_only_prefers_a_position_gives_ties(cli: Any, db: Path) -> None:
    judge = "mock/judge?verdict=VERDICT: 1"
    data = pairwise(cli, db, judge)
    for found in data["pairs"]:
        assert found["ties"] == found["inconsistent"] == found["n"] == N
        assert found["wins_a"] == found["wins_b"] == 0
    assert [r["rating"] for r in data["ratings"]] == pytest.approx([1000.0] * 3)
    assert {r["winner"] for r in rows(db, judge)} == {"a", "b"}  # each order on its own


def test_garbage_verdicts_are_counted_and_never_scored(cli: Any, db: Path) -> None:
    judge = "mock/judge?garbage=0.3"
    data = pairwise(cli, db, judge)
    stored = rows(db, judge)
    unread: Counter[tuple[str, str]] = Counter()
    for key in {(r["run_a"], r["run_b"], r["sample_id"]) for r in stored if r["status"] != "ok"}:
        unread[key[:2]] += 1
    assert 0.3 * 3 * N < sum(unread.values()) < 0.7 * 3 * N  # either order's garbage (~51%)
    runs = _run_models(db)
    for (run_a, run_b), count in unread.items():
        found = pair(data, runs[run_a], runs[run_b])
        assert found["unparsed"] == count and found["errors"] == 0
        assert found["n"] == N - count  # scored over the rest
        longer = max(runs[run_a], runs[run_b], key=len)
        assert wins_of(found, longer) == found["n"]
    assert all(r["reason"] for r in stored if r["status"] == "unparsed")
    assert all(r["winner"] is None for r in stored if r["status"] == "unparsed")


def test_judge_errors_are_counted_and_asked_again(data_dir: Path, db: Path) -> None:
    from assay.execution.executor import Executor
    from assay.execution.pairwise import find_contestants, judge_pairs
    from assay.execution.retry import RetryPolicy
    from assay.models.mock import MockModel
    from assay.models.registry import create_model

    store = Store(f"sqlite:///{db}")
    contestants = find_contestants(store, SUITE, "gsm8k", None)
    model = create_model("mock/judge")
    assert isinstance(model, MockModel)
    judge = Executor(model, policy=RetryPolicy(max_attempts=1))
    model.fail_rate = 0.3
    first = asyncio.run(judge_pairs(store, contestants, judge))
    failed = [j for j in first if j.status == "error"]
    assert 0.15 * 6 * N < len(failed) < 0.45 * 6 * N
    assert all(j.winner is None and j.reason and "judge error" in j.reason for j in failed)
    model.fail_rate = 0.0
    calls = model.calls
    second = asyncio.run(judge_pairs(store, contestants, judge))
    assert model.calls - calls == len(failed)  # only the failed ones asked again
    assert all(j.status == "ok" for j in second) and len(second) == 6 * N
    store.close()


def test_a_judge_of_a_models_family_is_flagged_or_its_model_left_out(
    cli: Any, db: Path, data_dir: Path
) -> None:
    own = "mock/judge?seed=5"  # a scripted judge as a contestant: the judge's own family
    result = cli(
        "run", "gsm8k", "-n", N, "--seed", "3", "-m", own, "--suite", SUITE, "--db", db,
        "--data-dir", data_dir, "--no-progress",
    )  # fmt: skip
    assert result.code == 0, result.err
    data = pairwise(cli, db, "mock/judge")
    assert data["same_family"] == [own]
    flagged = {
        tuple(sorted((p["model_a"], p["model_b"]))) for p in data["pairs"] if p["same_family_judge"]
    }
    assert flagged == {tuple(sorted((own, m))) for m in (SHORT, MIDDLE, LONG)}
    table = cli("pairwise", "--suite", SUITE, "--benchmark", "gsm8k", "--judge", "mock/judge",
                "--db", db, "--resamples", "50")  # fmt: skip
    assert table.code == 0 and "⚑" in table.out and "same family" in table.out
    fair = pairwise(cli, db, "mock/judge", "--exclude-same-family")
    assert data["same_family"] and not fair["same_family"]
    assert own not in {r["model"] for r in fair["ratings"]} and len(fair["pairs"]) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--benchmark", "mmlu"), "no finished run of 'mmlu'"),
        (("--benchmark", "gsm8k", "--models", f"{SHORT},mock/oracle"), "for mock/oracle"),
        (("--benchmark", "gsm8k", "--models", SHORT), "two or more models"),
        (("--benchmark", "gsm8k", "--models", f"{SHORT},,{LONG}"), "none empty"),
        (("--benchmark", "gsm8k", "--limit", "0"), "--limit"),
        (("--benchmark", "gsm8k", "--judge", "mock/nope"), "unknown mock model"),
    ],
)
def test_bad_input_is_one_line(cli: Any, db: Path, args: tuple[str, ...], message: str) -> None:
    judge = () if "--judge" in args else ("--judge", "mock/judge")
    result = cli("pairwise", "--suite", SUITE, *args, *judge, "--db", db)
    assert result.code == 2, result.err
    assert message in result.err and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert rows(db) == []  # nothing judged, nothing stored


def test_runs_without_generated_answers_are_refused(
    cli: Any, data_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "logprob.db"
    ran = cli(
        "run", "mmlu:format=multiple_choice_logprob", "-n", "5", "-m", "mock/oracle",
        "-m", "mock/random", "--db", db, "--data-dir", data_dir, "--no-progress",
    )  # fmt: skip
    assert ran.code == 0, ran.err
    result = cli("pairwise", "--benchmark", "mmlu", "--judge", "mock/judge", "--db", db)
    assert result.code == 2 and "no generated answers stored" in result.err
    assert "Traceback" not in result.err


def _run_models(db: Path) -> dict[str, str]:
    store = Store(f"sqlite:///{db}", readonly=True)
    try:
        with store.connect() as conn:
            return dict(conn.execute(sa.select(schema.runs.c.id, schema.runs.c.model)).all())
    finally:
        store.close()


@pytest.mark.slow
def test_pairwise_and_a_panel_on_postgresql(cli: Any, data_dir: Path, postgres_url: str) -> None:
    """The new table, its upserts and the panel's JSON metadata on PostgreSQL (jsonb)."""
    ran = cli(
        "run", "gsm8k", "-n", "10", "-m", SHORT, "-m", LONG, "--suite", SUITE,
        "--db", postgres_url, "--data-dir", data_dir, "--no-progress",
    )  # fmt: skip
    assert ran.code == 0, ran.err
    for _ in range(2):  # the second asks nothing and reads the same back
        result = cli(
            "pairwise", "--suite", SUITE, "--benchmark", "gsm8k", "--judge",
            "mock/judge?garbage=0.2", "--db", postgres_url, "--format", "json",
        )  # fmt: skip
        assert result.code == 0, result.err
        (found,) = json.loads(result.out)["pairs"]
        assert found["n"] + found["unparsed"] == 10 and found["unparsed"] > 0
        assert wins_of(found, LONG) == found["n"]
    panel = cli(
        "run", "simplesafetytests", "-n", "20", "-m", SHORT, "--judge", "mock/judge?seed=1",
        "--judge", "mock/judge?flip=0.3&seed=2", "--db", postgres_url, "--data-dir", data_dir,
        "--no-progress",
    )  # fmt: skip
    assert panel.code == 0 and "judges' kappa harmful_compliance=" in panel.out
