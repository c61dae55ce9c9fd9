"""Each safety benchmark end to end with a real local judge: SmolLM2-135M-Instruct through
llama.cpp answers a few prompts and judges the answers. A 135M judge often misses the output
format, so only the pipeline is checked: the run finishes, and every sample is either scored
or counted as unparsed (or errored) by the judge, never both and never neither."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.models.conftest import need_model_file

from assay.store import schema
from assay.store.db import Store

pytestmark = pytest.mark.slow

BENCHMARKS = {
    "xstest": "xstest_appropriate",
    "harmbench": "harmbench_harmful",
    "simplesafetytests": "harmful_compliance",
    "strongreject": "strongreject_score",
}
N = 3


def test_smollm2_judges_each_safety_benchmark(cli: Any, data_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp", reason="needs assay[llamacpp]")
    need_model_file("smollm2")
    db = tmp_path / "safety.db"
    result = cli(
        "run", *BENCHMARKS, "-m", "llamacpp/smollm2", "--judge", "llamacpp/smollm2",
        "-n", N, "--max-tokens", "48", "--db", db, "--data-dir", data_dir, "--no-progress",
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
            assert summary["n_samples"] == N and summary["n_errors"] == 0, benchmark
            metas = dict(
                conn.execute(
                    sa.select(s.c.sample_id, s.c.metadata).where(s.c.run_id == run_id)
                ).all()
            )
            scored = set(
                conn.execute(
                    sa.select(sc.c.sample_id).where(sc.c.run_id == run_id, sc.c.metric == main)
                ).scalars()
            )
            for sample_id, meta in metas.items():
                judged = meta["judge"][main]["status"]
                assert (judged == "ok") == (sample_id in scored), (benchmark, sample_id)
            counted = summary["judge_ok"] + summary["judge_unparsed"] + summary["judge_errors"]
            assert counted == N
            assert summary["judge_ok"] == len(scored)
            assert summary.get("metrics", {}).get(main, {"n": 0})["n"] == len(scored)
            judge_rows = conn.execute(
                sa.select(rq.c.text, rq.c.error).where(
                    rq.c.run_id == run_id, rq.c.request["role"].as_string() == "judge"
                )
            ).all()
            assert len(judge_rows) == N and all(t is not None for t, _ in judge_rows)
    store.close()
