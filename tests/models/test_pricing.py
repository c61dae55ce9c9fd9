from __future__ import annotations

from pathlib import Path

import pytest

from assay.errors import UserError
from assay.models.pricing import base_model, cost


def test_known_model_costs_its_listed_price() -> None:
    # gpt-4o-mini: $0.15 in, $0.60 out per million tokens
    assert cost("openai/gpt-4o-mini", 1_000_000, 0) == pytest.approx(0.15)
    assert cost("openai/gpt-4o-mini", 2000, 1000) == pytest.approx(0.0003 + 0.0006)


def test_snapshots_and_settings_match_their_family() -> None:
    dated = cost("openai/gpt-4o-mini-2024-07-18?seed=1", 1_000_000, 1_000_000)
    assert dated == pytest.approx(0.75)
    # the longest pattern wins: gpt-4o-mini* is cheaper than gpt-4o*
    assert cost("openai/gpt-4o-2024-08-06", 1_000_000, 0) == pytest.approx(2.5)


def test_batch_discount_and_local_models() -> None:
    assert cost("anthropic/claude-sonnet-4-5", 1_000_000, 0, batch=True) == pytest.approx(1.5)
    assert cost("llamacpp/smollm2", 10**6, 10**6) == 0.0


def test_unpriced_or_unknown_tokens_give_none() -> None:
    assert cost("openai-compatible/smollm2@http://127.0.0.1:8080/v1", 10, 10) is None
    assert cost("openai/gpt-4o", None, 10) is None


def test_user_file_overrides_and_adds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text(
        "batch_discount: 0.25\nmodels:\n"
        "  openai/gpt-4o: {input: 1, output: 2}\n"
        "  openai-compatible/smollm2: {input: 0.01, output: 0.02}\n"
    )
    monkeypatch.setenv("ASSAY_PRICES", str(prices))
    assert cost("openai/gpt-4o", 10**6, 10**6) == pytest.approx(3.0)
    assert cost("openai-compatible/smollm2@http://x/v1", 10**6, 0) == pytest.approx(0.01)
    assert cost("openai/gpt-4o", 10**6, 0, batch=True) == pytest.approx(0.25)
    assert cost("openai/gpt-4o-mini", 10**6, 0) == pytest.approx(0.15)  # shipped entries stay


def test_bad_user_file_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  openai/gpt-4o: {input: cheap}\n")
    monkeypatch.setenv("ASSAY_PRICES", str(bad))
    with pytest.raises(UserError, match="must be"):
        cost("openai/gpt-4o", 1, 1)
    monkeypatch.setenv("ASSAY_PRICES", str(tmp_path / "missing.yaml"))
    with pytest.raises(UserError, match="cannot read"):
        cost("openai/gpt-4o", 1, 1)


def test_base_model() -> None:
    assert base_model("openai/gpt-4o@https://x/v1?seed=1") == "openai/gpt-4o"
