"""Metrics beyond reference matching, as objects; merged into `reference.METRICS`.

Each module imports its heavy dependency (rouge-score, sacrebleu) on first use, so importing
this catalog stays cheap.
"""

from __future__ import annotations

from assay.metrics.code import PASS_AT, explain
from assay.metrics.ifeval import IFEVAL_METRICS
from assay.metrics.math_equivalence import math_equiv
from assay.metrics.metric import Metric, Values
from assay.metrics.rouge import rouge_1, rouge_2, rouge_l
from assay.metrics.translation import chrf, sentence_bleu

_METRICS = (
    Metric("rouge_1", fn=rouge_1, needs="rouge_score"),
    Metric("rouge_2", fn=rouge_2, needs="rouge_score"),
    Metric("rouge_l", fn=rouge_l, needs="rouge_score"),
    Metric("bleu", fn=sentence_bleu, needs="sacrebleu"),
    Metric("chrf", fn=chrf, needs="sacrebleu"),
    Metric("math_equiv", fn=math_equiv, values=Values.BINARY),
    # pass@k is the unbiased estimator over n sampled programs: anywhere in [0, 1]
    *(Metric(name, fn=fn, explain=explain) for name, fn in PASS_AT.items()),
    *(
        Metric(
            name,
            fn=fn,
            # a prompt follows all its instructions or not; the instruction level is a share
            values=Values.BINARY if name.startswith("ifeval_prompt") else Values.UNIT,
            needs="langdetect",
        )
        for name, fn in IFEVAL_METRICS.items()
    ),
)

CATALOG: dict[str, Metric] = {m.name: m for m in _METRICS}

# The optional module each metric imports on first use (all from `assay[metrics]`), checked
# before a run starts so a missing one is one line, not a failure halfway through.
NEEDS: dict[str, str] = {m.name: m.needs for m in _METRICS if m.needs is not None}
