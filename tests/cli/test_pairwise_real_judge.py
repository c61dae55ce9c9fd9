"""`assay pairwise` with a real local judge: SmolLM2-135M-Instruct through llama.cpp judges a
real model's answers against a scripted one's, in both orders. A 135M judge often misses the
verdict format, so only the pipeline is checked: every order is stored with its order and a
status, and every comparison is scored, unparsed or an error, never two of them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.models.conftest import need_model_file

from assay.store import schema
from assay.store.db import Store

pytestmark = pytest.mark.slow
N = 3


def test_smollm2_judges_two_models_pairwise(cli: Any, data_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp", reason="needs assay[llamacpp]")
    need_model_file("smollm2")
    db = tmp_path / "pairs.db"
    ran = cli(
        "run", "gsm8k:shots=0", "-m", "llamacpp/smollm2", "-m", "mock/oracle", "-n", N,
        "--max-tokens", "32", "--suite", "real pairs", "--db", db, "--data-dir", data_dir,
        "--no-progress",
    )  # fmt: skip
    assert ran.code == 0, ran.err
    result = cli(
        "pairwise", "--suite", "real pairs", "--benchmark", "gsm8k:shots=0",
        "--judge", "llamacpp/smollm2", "--db", db, "--format", "json", "--resamples", "100",
    )  # fmt: skip
    assert result.code == 0, result.err
    data = json.loads(result.out)
    (pair,) = data["pairs"]
    assert pair["n"] + pair["unparsed"] + pair["errors"] == N
    assert data["same_family"] == ["llamacpp/smollm2"] and pair["same_family_judge"]
    store = Store(f"sqlite:///{db}", readonly=True)
    with store.connect() as conn:
        t = schema.pairwise_judgments
        rows = conn.execute(sa.select(t.c.order, t.c.status, t.c.winner, t.c.text)).all()
    store.close()
    assert sorted(r.order for r in rows) == ["ab"] * N + ["ba"] * N
    for row in rows:
        assert row.text is not None and row.status in ("ok", "unparsed")
        assert (row.winner is not None) == (row.status == "ok")
