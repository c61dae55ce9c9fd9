"""A store with pairwise verdicts made by `assay pairwise` with scripted judges, in a suite not
named `default`: four models on GSM8K (one whose answer is markup, one of a judge's family), a
judge that returns garbage for some verdicts and fails on others (one attempt), and a second
judge that flips some verdicts; the CLI's JSON for each judge and for the two as a panel."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import run_cli

SUITE = "duels 2026"
HOSTILE = "<script>window.__xss=1</script>"
MODELS = [
    "mock/constant?text=no",
    "mock/constant?text=a much longer answer",
    f"mock/constant?text={HOSTILE.replace('=', '%3D')}",
    "mock/judge?seed=5",  # the judges' own family: its pairs are flagged
]
FAULTY = "mock/judge?fail_rate=0.15&garbage=0.2"  # as the label is written
FLIPPY = "mock/judge?flip=0.3&seed=1"
N = 16


@dataclass
class PairwiseStore:
    db: str  # a SQLite path or a database URL, as `--db` takes it
    url: str
    faulty: dict[str, Any]  # `assay pairwise --format json` with each judge alone
    flippy: dict[str, Any]
    panel: dict[str, Any]  # with both judges, aggregated by mean


def _json(db: str, *judges: str) -> dict[str, Any]:
    args = [a for j in judges for a in ("--judge", j)]
    result = run_cli(
        "pairwise", "--suite", SUITE, "--benchmark", "gsm8k", *args, "--db", db,
        "--format", "json", "--max-attempts", "1",
    )  # fmt: skip
    assert result.code == 0, result.err
    data: dict[str, Any] = json.loads(result.out)
    return data


def build_pairwise_store(folder: Path, data_dir: Path, url: str | None = None) -> PairwiseStore:
    """Into `url` (a database URL), else a SQLite file in `folder`."""
    db = url or str(folder / "pairwise.db")
    models = [a for m in MODELS for a in ("-m", m)]
    result = run_cli(
        "run", "gsm8k", "-n", N, "--seed", "4", *models, "--suite", SUITE, "--db", db,
        "--data-dir", data_dir, "--no-progress",
    )  # fmt: skip
    assert result.code == 0, result.err
    faulty = _json(db, FAULTY)
    flippy = _json(db, FLIPPY)
    panel = _json(db, FAULTY, FLIPPY)
    return PairwiseStore(db, url or f"sqlite:///{db}", faulty, flippy, panel)
