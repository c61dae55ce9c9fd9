"""Metrics beyond reference matching, by name; merged into `reference.METRICS`.

Each module imports its heavy dependency (rouge-score, sacrebleu) on first use, so importing
this catalog stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from assay.metrics.code import PASS_AT
from assay.metrics.ifeval import IFEVAL_METRICS
from assay.metrics.math_equivalence import math_equiv
from assay.metrics.rouge import rouge_1, rouge_2, rouge_l
from assay.metrics.translation import chrf, sentence_bleu

CATALOG: dict[str, Callable[[str | None, Sequence[str]], float]] = {
    "rouge_1": rouge_1,
    "rouge_2": rouge_2,
    "rouge_l": rouge_l,
    "bleu": sentence_bleu,
    "chrf": chrf,
    "math_equiv": math_equiv,
    **PASS_AT,
    **IFEVAL_METRICS,
}

# The optional module each metric imports on first use (all from `assay[metrics]`), checked
# before a run starts so a missing one is one line, not a failure halfway through.
NEEDS: dict[str, str] = {
    "rouge_1": "rouge_score",
    "rouge_2": "rouge_score",
    "rouge_l": "rouge_score",
    "bleu": "sacrebleu",
    "chrf": "sacrebleu",
    **{name: "langdetect" for name in IFEVAL_METRICS},
}
