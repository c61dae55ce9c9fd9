"""docs/metrics.md carries every judge prompt as sent and names every judged metric."""

from __future__ import annotations

from pathlib import Path

from assay.metrics.judge import JUDGE_PROMPTS, JUDGED_METRICS
from assay.metrics.pairwise import PAIRWISE

DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def test_every_judge_prompt_is_in_the_docs_verbatim() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for prompt in (*JUDGE_PROMPTS.values(), PAIRWISE):
        assert f"```text\n{prompt.template}\n```" in text, prompt.name
        assert f"`{prompt.name}`" in text


def test_every_judged_metric_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for metric in JUDGED_METRICS:
        assert f"`{metric.name}`" in text, metric.name
