"""SmolLM2-135M-Instruct through llama.cpp in-process on 20 samples of five benchmarks: every
run finishes with a stored response and a score for every sample (the scores themselves are a
135M model's, so only their range is checked)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.models.conftest import need_model_file

from assay.store import schema
from assay.store.db import Store

pytestmark = pytest.mark.slow

# Short prompts and short answers, so the five runs take a couple of minutes on one thread.
BENCHMARKS = {
    "mmlu:shots=0": "exact_match",
    "boolq": "quasi_exact_match",
    "narrativeqa": "f1",
    "truthfulqa": "exact_match",
    "naturalquestions": "f1",
}
N = 20


def test_smollm2_on_five_benchmarks(cli: Any, data_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp", reason="needs assay[llamacpp]")
    need_model_file("smollm2")
    db = tmp_path / "smoke.db"
    result = cli(
        "run", *BENCHMARKS, "-m", "llamacpp/smollm2", "-n", N, "--db", db,
        "--data-dir", data_dir, "--no-progress",
    )  # fmt: skip
    assert result.code == 0, result.err
    store = Store(f"sqlite:///{db}", readonly=True)
    r, s, rq, sc = schema.runs, schema.samples, schema.requests, schema.scores
    with store.connect() as conn:
        runs = conn.execute(sa.select(r.c.id, r.c.benchmark, r.c.status, r.c.summary)).all()
        assert {row.benchmark for row in runs} == set(BENCHMARKS)
        for run_id, benchmark, status, summary in runs:
            assert status == "finished", benchmark
            main = BENCHMARKS[benchmark]
            assert summary["main_metric"] == main
            assert summary["n_samples"] == N and summary["n_errors"] == 0, benchmark
            statuses = conn.execute(sa.select(s.c.status).where(s.c.run_id == run_id)).scalars()
            assert set(statuses) <= {"ok", "unparsed"}
            stored = conn.execute(
                sa.select(rq.c.response, rq.c.error, rq.c.output_tokens).where(
                    rq.c.run_id == run_id
                )
            ).all()
            assert len(stored) == N
            assert all(resp is not None and err is None for resp, err, _ in stored)
            assert all(out is not None and out >= 1 for _, _, out in stored)
            scores = conn.execute(
                sa.select(sc.c.value).where(sc.c.run_id == run_id, sc.c.metric == main)
            ).scalars()
            values = list(scores)
            assert len(values) == N and all(0.0 <= v <= 1.0 for v in values)
            assert summary["metrics"][main]["n"] == N
            assert summary["output_tokens_per_s"] > 0 and summary["latency_p95_s"] > 0
            assert summary["cost_usd"] == 0.0  # a local model is free
    store.close()
