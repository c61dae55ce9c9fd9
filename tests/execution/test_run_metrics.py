"""The run-level metrics hook (BBQ, corpus BLEU/chrF, pooled IFEval), efficiency figures in the
summary, and older databases gaining the samples.confidence column."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assay.benchmarks.base import DataContext, Loaded, Task
from assay.benchmarks.registry import resolve_task
from assay.execution.executor import Executor
from assay.execution.retry import RetryPolicy
from assay.execution.runner import Runner, RunResult
from assay.metrics.efficiency import efficiency
from assay.models.registry import create_model
from assay.prompting.formats import Generate
from assay.samples import Sample
from assay.store import schema
from assay.store.db import Store


def run(
    db: Path, task: Task, model_name: str, data: DataContext, limit: int | None = None
) -> RunResult:
    store = Store(f"sqlite:///{db}")
    model = create_model(model_name)
    executor = Executor(model, policy=RetryPolicy(max_attempts=1, base_delay=0.0))
    try:
        return asyncio.run(Runner(store, task, model, executor, data=data, limit=limit).run())
    finally:
        store.close()


def test_run_metrics_get_every_answered_row_and_no_errored_one(tmp_path: Path) -> None:
    seen: list[list[Mapping[str, Any]]] = []

    def record(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        seen.append(list(rows))
        return {"n_rows": float(len(rows)), "empty": float("nan")}

    samples = [Sample(id=f"s{i}", input=f"say {i}", references=[str(i)]) for i in range(40)]
    task = Task(
        load=lambda _data: Loaded(samples),
        prompt=Generate(),
        metrics=["exact_match"],
        name="echo",
        run_metrics=(record,),
    )
    result = run(tmp_path / "a.db", task, "mock/flaky?fail_rate=0.3", DataContext())
    summary = result.summary
    assert 0 < summary["n_errors"] < 40
    assert summary["run_metrics"]["n_rows"] == summary["n_scored"] == 40 - summary["n_errors"]
    assert summary["run_metrics"]["empty"] is None  # NaN is stored as null
    rows = seen[-1]
    assert set(rows[0]) == {
        "prediction",
        "correct",
        "choices",
        "references",
        "metadata",
        "confidence",
    }
    assert all(r["prediction"] == r["references"][0] for r in rows)  # the oracle's answers


def test_bbq_bias_scores_in_the_summary_and_the_run_line(
    cli: Any, data_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "a.db"
    result = cli(
        "run", "bbq", "-m", "mock/oracle", "-n", "200", "--db", db, "--data-dir", data_dir,
        "--no-progress",
    )  # fmt: skip
    assert result.code == 0, result.err
    store = Store(f"sqlite:///{db}", readonly=True)
    with store.connect() as conn:
        summary = conn.execute(sa.select(schema.runs.c.summary)).scalar_one()
    store.close()
    bias = summary["run_metrics"]
    assert bias["accuracy_ambiguous"] == 1.0 and bias["accuracy_disambiguated"] == 1.0
    assert bias["bias_ambiguous"] in (0.0, None)  # always "unknown" when ambiguous: no bias
    assert -1.0 <= bias["bias_disambiguated"] <= 1.0
    assert f"bias_disambiguated={bias['bias_disambiguated']:.3f}" in result.out


def test_corpus_bleu_and_chrf_for_translation(tmp_path: Path) -> None:
    pytest.importorskip("sacrebleu", reason="needs assay[metrics]")
    pairs = tmp_path / "pairs.jsonl"
    rows = [
        {"source": "Der Hund schläft.", "target": "The dog is sleeping."},
        {"source": "Ich trinke Kaffee.", "target": ["I am drinking coffee.", "I drink coffee."]},
        {"source": "Es regnet heute.", "target": "It is raining today."},
    ]
    pairs.write_text("\n".join(json.dumps(r) for r in rows))
    task = resolve_task(f"translation:file={pairs}")
    oracle = run(tmp_path / "a.db", task, "mock/oracle", DataContext()).summary["run_metrics"]
    assert oracle["corpus_bleu"] == pytest.approx(1.0) and oracle["corpus_chrf"] == 1.0
    constant = run(tmp_path / "a.db", task, "mock/constant?text=The dog", DataContext())
    partial = constant.summary["run_metrics"]
    assert 0.0 <= partial["corpus_bleu"] < 0.5 and 0.0 < partial["corpus_chrf"] < 0.5


def test_ifeval_pooled_instruction_accuracy_weights_prompts_by_instructions(
    data_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("langdetect", reason="needs assay[metrics]")
    db = tmp_path / "a.db"
    result = run(
        db, resolve_task("ifeval"), "mock/constant?text=hello world", DataContext(data_dir), 80
    )
    store = Store(f"sqlite:///{db}", readonly=True)
    sc, s = schema.scores, schema.samples
    with store.connect() as conn:
        per_sample = conn.execute(
            sa.select(s.c.metadata, sc.c.value)
            .join(sc, sa.and_(sc.c.run_id == s.c.run_id, sc.c.sample_id == s.c.sample_id))
            .where(sc.c.metric == "ifeval_instruction_loose")
        ).all()
    store.close()
    counts = [len(meta["instruction_ids"]) for meta, _ in per_sample]
    weighted = sum(n * value for (_, value), n in zip(per_sample, counts, strict=True))
    pooled = result.summary["run_metrics"]["ifeval_instruction_loose_pooled"]
    assert pooled == pytest.approx(weighted / sum(counts))
    assert "ifeval_instruction_strict_pooled" in result.summary["run_metrics"]


def test_efficiency_latency_tokens_throughput_and_cost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text("models:\n  mock/oracle: {input: 3.0, output: 15.0}\n")
    monkeypatch.setenv("ASSAY_PRICES", str(prices))
    samples = [Sample(id=f"s{i}", input="x" * 40 * (i + 1), references=["y" * 8]) for i in range(5)]
    task = Task(
        load=lambda _d: Loaded(samples), prompt=Generate(), metrics=["exact_match"], name="t"
    )
    summary = run(tmp_path / "a.db", task, "mock/oracle?latency=0.02", DataContext()).summary
    assert summary["latency_mean_s"] == summary["latency_p50_s"] == summary["latency_p95_s"] == 0.02
    assert summary["input_tokens"] == 10 + 20 + 30 + 40 + 50  # the mock counts 4 chars a token
    assert summary["output_tokens"] == 5 * 2
    assert summary["output_tokens_per_s"] == pytest.approx(10 / (5 * 0.02))
    assert summary["cost_usd"] == pytest.approx((150 * 3.0 + 10 * 15.0) / 1e6)
    unpriced = efficiency("someone/unlisted", [0.1, 0.2, 0.3, 1.3], [5, 5, 5, 5], [1, 1, 1, None])
    assert unpriced["cost_usd"] is None
    assert unpriced["latency_p50_s"] == pytest.approx(0.25)  # linear interpolation
    assert unpriced["latency_p95_s"] == pytest.approx(0.3 + 0.85 * 1.0)
    assert unpriced["output_tokens_per_s"] == pytest.approx(3 / 0.6)  # requests with tokens


def test_a_database_from_before_confidence_gets_the_column(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    Store(f"sqlite:///{db}").close()
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE samples DROP COLUMN confidence")
        conn.execute("DROP TABLE alembic_version")  # made before migrations
    with sqlite3.connect(db) as conn:
        assert "confidence" not in {r[1] for r in conn.execute("PRAGMA table_info(samples)")}
    Store(f"sqlite:///{db}").close()
    with sqlite3.connect(db) as conn:
        assert "confidence" in {r[1] for r in conn.execute("PRAGMA table_info(samples)")}
