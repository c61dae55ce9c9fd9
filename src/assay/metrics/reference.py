"""Reference-based metrics, defined as HELM defines them.

- exact_match: the answer equals a reference after stripping surrounding whitespace.
- quasi_exact_match: equal after HELM's normalisation (lowercase, drop punctuation, drop the
  articles a/an/the, collapse whitespace).
- f1: token-level F1 between normalised answer and reference (bag of tokens, so repeated tokens
  count as often as they occur in both), best over references.
- final_number_match: the answer's number equals the reference's number (commas, `$` and a
  trailing `.0` ignored).

Every metric takes the extracted answer (None when unreadable, which scores 0) and the
references, and returns the best score over references.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Sequence

from assay.answers import normalize_number
from assay.metrics.catalog import CATALOG

Metric = Callable[[str | None, Sequence[str]], float]

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_text(text: str) -> str:
    """HELM's normalize_text: lower, remove punctuation, articles and extra whitespace."""
    text = text.lower().translate(_PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(answer: str | None, references: Sequence[str]) -> float:
    if answer is None:
        return 0.0
    stripped = answer.strip()
    return float(any(stripped == ref.strip() for ref in references))


def quasi_exact_match(answer: str | None, references: Sequence[str]) -> float:
    if answer is None:
        return 0.0
    normal = normalize_text(answer)
    return float(any(normal == normalize_text(ref) for ref in references))


def f1(answer: str | None, references: Sequence[str]) -> float:
    if answer is None:
        return 0.0
    predicted = normalize_text(answer).split()
    return max(
        (_f1_tokens(predicted, normalize_text(ref).split()) for ref in references), default=0.0
    )


def _f1_tokens(predicted: list[str], gold: list[str]) -> float:
    if not predicted and not gold:
        return 1.0
    common = Counter(predicted) & Counter(gold)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(predicted)
    recall = overlap / len(gold)
    return 2 * precision * recall / (precision + recall)


def final_number_match(answer: str | None, references: Sequence[str]) -> float:
    if answer is None:
        return 0.0
    number = normalize_number(answer)
    if number is None:
        return 0.0
    return float(any(number == normalize_number(ref) for ref in references))


METRICS: dict[str, Metric] = {
    "exact_match": exact_match,
    "quasi_exact_match": quasi_exact_match,
    "f1": f1,
    "final_number_match": final_number_match,
    **CATALOG,
}
