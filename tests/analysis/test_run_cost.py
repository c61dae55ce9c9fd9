"""One pricing function: the summary, the leaderboard and the viewer price a run alike."""

from __future__ import annotations

import pytest

from assay.analysis.leaderboard import build_leaderboard, run_cost
from assay.analysis.model_info import ModelInfo
from assay.metrics.efficiency import efficiency
from assay.pricing import cost


def _run(model: str, batch: bool, tokens_in: int = 1_000_000, tokens_out: int = 0) -> dict:
    figures = efficiency(model, [1.0], [tokens_in], [tokens_out], batch=batch)
    summary = {
        "metrics": {"exact_match": {"mean": 0.5, "n": 10}},
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "batch": batch,
        **figures,
    }
    return {
        "id": f"r-{model}-{batch}",
        "benchmark": "mmlu",
        "model": model,
        "main_metric": "exact_match",
        "higher_is_better": True,
        "status": "finished",
        "summary": summary,
    }


def test_batch_runs_are_priced_at_the_batch_rate_everywhere() -> None:
    full, batched = _run("openai/gpt-4o-mini", False), _run("openai/gpt-4o-mini", True)
    assert full["summary"]["cost_usd"] == pytest.approx(0.15)
    assert batched["summary"]["cost_usd"] == pytest.approx(0.075)
    assert run_cost(batched, None) == pytest.approx(batched["summary"]["cost_usd"])
    board = build_leaderboard("s", [batched])
    assert board.model_cost("openai/gpt-4o-mini") == pytest.approx(0.075)


def test_model_metadata_prices_win_over_the_table() -> None:
    run = _run("openai/gpt-4o-mini", True, 2_000_000, 1_000_000)
    info = ModelInfo(price_input=1.0, price_output=2.0)
    assert run_cost(run, info) == pytest.approx((2.0 + 2.0) * 0.5)
    assert run_cost(run, ModelInfo(creator="x")) == pytest.approx(
        cost(run["model"], 2_000_000, 1_000_000, batch=True)
    )


def test_an_unpriced_model_has_no_cost_not_zero() -> None:
    run = _run("openai-compatible/x@http://127.0.0.1:1/v1", False)
    assert run["summary"]["cost_usd"] is None
    assert run_cost(run, None) is None
    assert build_leaderboard("s", [run]).model_cost(run["model"]) is None
