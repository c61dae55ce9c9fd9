"""A store holding what issue 10's "the store holds and the page doesn't show" is about: ten
benchmarks (more than fit a screen), HumanEval with sandbox results, BBQ's bias scores, IFEval's
pooled accuracy, an MMLU run asked with robustness and fairness perturbations, one scored by
log-likelihood (calibration), priced models and
one answer cut off at the token limit. Suite `rich` (not `default`); built through the CLI."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from assay.cli import main
from assay.execution.summary import summarise
from assay.store import schema

SUITE = "rich"
BENCHMARKS = [
    "mmlu",
    "gsm8k",
    "humaneval",
    "bbq",
    "ifeval",
    "truthfulqa",
    "pubmedqa",
    "boolq",
    "commonsenseqa",
    "openbookqa",
]
PERTURBED = "mmlu:perturb=typos(rate=0.3)+lowercase+dialect"
LOGPROB = "mmlu:format=multiple_choice_logprob,shots=0"  # gives confidences: calibration
MODELS = ["mock/oracle", "mock/constant"]
# mock/constant priced through ASSAY_PRICES: $3 per million input tokens, $6 per million output
PRICES = "models:\n  mock/constant: {input: 3, output: 6}\n"


@dataclass
class RichStore:
    url: str  # database URL
    ids: dict[str, str]  # "benchmark|model" -> run id; "truncated" -> the cut-off sample
    prices: Path  # the ASSAY_PRICES file the runs were priced with


def build_rich_store(folder: Path, data_dir: Path, url: str | None = None) -> RichStore:
    """Fill `url` (default: a SQLite file in `folder`); sets ASSAY_PRICES while it runs."""
    url = url or f"sqlite:///{folder / 'rich.db'}"
    prices = folder / "prices.yaml"
    prices.write_text(PRICES)
    before = os.environ.get("ASSAY_PRICES")
    os.environ["ASSAY_PRICES"] = str(prices)
    try:
        common = ["--db", url, "--no-progress", "--data-dir", str(data_dir), "--suite", SUITE]
        models = [arg for m in MODELS for arg in ("-m", m)]
        assert main(["run", *BENCHMARKS, *models, "--limit", "12", *common]) == 0
        perturb = ["--perturb", "typos:rate=0.3", "--perturb", "lowercase", "--perturb", "dialect"]
        assert main(["run", "mmlu", *models, "--limit", "12", *perturb, *common]) == 0
        assert main(["run", LOGPROB, *models, "--limit", "12", *common]) == 0
    finally:
        if before is None:
            os.environ.pop("ASSAY_PRICES", None)
        else:
            os.environ["ASSAY_PRICES"] = before
    engine = sa.create_engine(url)
    r, rq = schema.runs, schema.requests
    with engine.begin() as conn:
        ids = {
            f"{b}|{m}": i for i, b, m in conn.execute(sa.select(r.c.id, r.c.benchmark, r.c.model))
        }
        # a provider that stopped at the token limit: the gsm8k answer of one sample
        run = ids["gsm8k|mock/oracle"]
        sample, response = conn.execute(
            sa.select(rq.c.sample_id, rq.c.response).where(rq.c.run_id == run).limit(1)
        ).one()
        conn.execute(
            rq.update()
            .where(rq.c.run_id == run, rq.c.sample_id == sample)
            .values(response={**response, "finish_reason": "length"})
        )
        ids["truncated"] = sample
        old = conn.execute(sa.select(r.c.summary).where(r.c.id == run)).scalar_one()
        fresh = summarise(conn, run, old["main_metric"])  # as a re-summarised run would be
        conn.execute(r.update().where(r.c.id == run).values(summary=fresh))
    engine.dispose()
    return RichStore(url, ids, prices)
