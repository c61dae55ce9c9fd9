"""BLEU and chrF through sacrebleu (Post, "A Call for Clarity in Reporting BLEU Scores", 2018).

Per sample: `sentence_bleu` (sacrebleu's sentence BLEU with exponential smoothing, 0-100
scaled to 0-1) and `chrf` (character 6-gram F-score with beta=2, Popović 2015, scaled to
0-1), each against all references at once, as sacrebleu defines multi-reference scores.
A mean of sentence BLEU is not corpus BLEU: `corpus_bleu` and `corpus_chrf` compute the
corpus scores from all of a run's answers, for the run-level hook. sacrebleu is imported on
first use (`pip install 'assay[metrics]'`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from assay.errors import UserError
from assay.metrics.metric import Metric


def _sacrebleu() -> Any:
    try:
        import sacrebleu
    except ImportError:
        raise UserError("BLEU and chrF need sacrebleu: pip install 'assay[metrics]'") from None
    return sacrebleu


def _unit(score: float) -> float:
    """sacrebleu's 0-100 scale as 0-1 (clamped: float sums can overshoot 100)."""
    return min(1.0, max(0.0, float(score) / 100.0))


def sentence_bleu(answer: str | None, references: Sequence[str]) -> float:
    if answer is None or not references:
        return 0.0
    return _unit(_sacrebleu().sentence_bleu(answer, list(references)).score)


def chrf(answer: str | None, references: Sequence[str]) -> float:
    if answer is None or not references:
        return 0.0
    return _unit(_sacrebleu().sentence_chrf(answer, list(references)).score)


def _transpose(references: Sequence[Sequence[str]]) -> list[list[str]]:
    """Per-sample reference lists -> sacrebleu's reference streams (padded with "")."""
    width = max((len(r) for r in references), default=0)
    return [[r[i] if i < len(r) else "" for r in references] for i in range(width)]


def corpus_bleu(answers: Sequence[str | None], references: Sequence[Sequence[str]]) -> float:
    """Corpus BLEU (0-1) over a run; an unreadable answer counts as an empty hypothesis."""
    hypotheses = [a or "" for a in answers]
    return _unit(_sacrebleu().corpus_bleu(hypotheses, _transpose(references)).score)


def corpus_chrf(answers: Sequence[str | None], references: Sequence[Sequence[str]]) -> float:
    hypotheses = [a or "" for a in answers]
    return _unit(_sacrebleu().corpus_chrf(hypotheses, _transpose(references)).score)


def translation_run_metrics(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """The run-level hook: corpus BLEU and chrF over the run's answered samples."""
    if not rows:
        return {}
    answers = [r["prediction"] for r in rows]
    references = [list(r["references"]) for r in rows]
    return {
        "corpus_bleu": corpus_bleu(answers, references),
        "corpus_chrf": corpus_chrf(answers, references),
    }


# What `translation_run_metrics` reports.
TRANSLATION_RUN_METRICS = (
    Metric("corpus_bleu", aggregation="run"),
    Metric("corpus_chrf", aggregation="run"),
)
