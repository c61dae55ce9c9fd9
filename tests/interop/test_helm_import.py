"""Import of a real helm-run output (see tests/fixtures/helm/README.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assay.store import schema
from assay.store.db import Store, resolve_url

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "helm" / "benchmark_output"
RUN = FIXTURE / "runs" / "test" / "simple1:model=simple_model1"


def _load(name: str) -> Any:
    return json.loads((RUN / name).read_text())


def test_every_instance_request_and_stat_arrives(cli: Any, tmp_path: Path) -> None:
    pytest.importorskip("ijson", reason="needs assay[helm]")
    db = tmp_path / "h.db"
    result = cli("import-helm", FIXTURE, "--db", db)
    assert result.code == 0, result.err
    assert "30 samples, 30 requests" in result.out
    states = _load("scenario_state.json")["request_states"]
    per_instance = _load("per_instance_stats.json")
    stats = _load("stats.json")
    store = Store(resolve_url(str(db)), readonly=True)
    with store.connect() as conn:
        run = conn.execute(sa.select(schema.runs)).mappings().one()
        samples = conn.execute(sa.select(schema.samples)).mappings().all()
        requests = conn.execute(sa.select(schema.requests)).mappings().all()
        scores = conn.execute(sa.select(schema.scores)).mappings().all()
        suites = conn.execute(sa.select(schema.suite_runs.c.suite)).scalars().all()
    assert suites == ["test"]
    assert run["benchmark"] == "helm/simple1" and run["model"] == "simple/model1"
    assert run["status"] == "finished"
    # every (instance, trial) is a sample; every request state a request with its completion
    keys = {(s["instance"]["id"], s["train_trial_index"]) for s in states}
    got = {(s["metadata"]["helm_instance_id"], s["metadata"]["train_trial_index"]) for s in samples}
    assert got == keys and len(samples) == len(states) == 30
    prompts = sorted(s["request"]["prompt"] for s in states)
    assert sorted(r["request"]["prompt"] for r in requests) == prompts
    texts = sorted(s["result"]["completions"][0]["text"] for s in states)
    assert sorted(r["text"] for r in requests) == texts
    # every per-instance stat with a value is a score holding that value
    expected = {
        (e["instance_id"], e["train_trial_index"], st["name"]["name"]): st["sum"] / st["count"]
        for e in per_instance
        for st in e["stats"]
        if st["count"]
    }
    by_sample = {s["sample_id"]: s["metadata"] for s in samples}
    arrived = {
        (
            by_sample[sc["sample_id"]]["helm_instance_id"],
            by_sample[sc["sample_id"]]["train_trial_index"],
            sc["metric"],
        ): sc["value"]
        for sc in scores
    }
    assert arrived.keys() == expected.keys()
    for key, value in expected.items():
        assert arrived[key] == pytest.approx(value)
    # HELM's aggregate stats are kept; assay's re-aggregation agrees with them
    summary = run["summary"]
    assert len(summary["helm_stats"]) == len(stats)
    per_instance_names = {name for _, _, name in expected}
    checked = 0
    for stat in stats:
        name = stat["name"]
        if name.get("perturbation") or not stat["count"] or name["split"] != "test":
            continue
        if name["name"] not in per_instance_names:  # derived run-level stats (perplexity)
            continue
        checked += 1
        ours = summary["metrics"][name["name"]]
        assert ours["mean"] == pytest.approx(stat["mean"]), name["name"]
        assert ours["clusters"] == 10  # three train trials of each of ten instances
    assert checked >= 10
    assert summary["input_tokens"] == sum(
        st["sum"]
        for e in per_instance
        for st in e["stats"]
        if st["name"]["name"] == "num_prompt_tokens"
    )


def test_reimport_replaces_and_leaderboard_reads_it(cli: Any, tmp_path: Path) -> None:
    pytest.importorskip("ijson", reason="needs assay[helm]")
    db = tmp_path / "h.db"
    assert (
        cli(
            "import-helm", RUN, "--db", db, "--suite", "mine", "--main-metric", "num_output_tokens"
        ).code
        == 0
    )
    assert (
        cli(
            "import-helm", RUN, "--db", db, "--suite", "mine", "--main-metric", "num_output_tokens"
        ).code
        == 0
    )
    board = json.loads(cli("leaderboard", "--db", db, "--suite", "mine", "--format", "json").out)
    cell = board["rows"][0]["cells"]["helm/simple1"]
    assert cell["n"] == 30 and cell["mean"] == pytest.approx(3.0)
    assert board["columns"][0]["higher_is_better"] is False


def test_import_mistakes_are_one_line(cli: Any, tmp_path: Path) -> None:
    result = cli("import-helm", tmp_path / "missing", "--db", tmp_path / "h.db")
    assert result.code == 2 and "does not exist" in result.err
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("import-helm", empty, "--db", tmp_path / "h.db")
    assert result.code == 2 and "no HELM runs" in result.err
    result = cli("import-helm", RUN, "--db", tmp_path / "h.db", "--main-metric", "nope")
    assert result.code == 2 and "has no stat 'nope'" in result.err
