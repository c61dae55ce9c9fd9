"""ROUGE-1, ROUGE-2 and ROUGE-L F-measures through `rouge-score`, with Porter stemming.

Lin, "ROUGE: A Package for Automatic Evaluation of Summaries" (2004). rouge-score's default
tokenizer lowercases and keeps only [a-z0-9] tokens; with `use_stemmer=True` "running" and
"runs" both count as "run". The score is the best F-measure over the references (HELM does the
same). rouge-score is imported on first use so the CLI starts fast (`pip install 'assay[metrics]'`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from assay.errors import UserError

KINDS = {"rouge_1": "rouge1", "rouge_2": "rouge2", "rouge_l": "rougeL"}


@cache
def _scorer(kind: str) -> Any:
    try:
        from rouge_score import rouge_scorer
    except ImportError:
        raise UserError("ROUGE needs rouge-score: pip install 'assay[metrics]'") from None
    return rouge_scorer.RougeScorer([kind], use_stemmer=True)


def rouge(kind: str, answer: str | None, references: Sequence[str]) -> float:
    """Best F-measure of `kind` (rouge1, rouge2, rougeL) over the references."""
    if answer is None or not references:
        return 0.0
    scorer = _scorer(kind)
    return max(float(scorer.score(ref, answer)[kind].fmeasure) for ref in references)


def _metric(kind: str) -> Callable[[str | None, Sequence[str]], float]:
    def score(answer: str | None, references: Sequence[str]) -> float:
        return rouge(kind, answer, references)

    score.__name__ = kind
    return score


rouge_1 = _metric("rouge1")
rouge_2 = _metric("rouge2")
rouge_l = _metric("rougeL")
