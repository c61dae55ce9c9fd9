"""Reference-based metrics: HELM's where assay follows HELM, and where it departs, said so.

- exact_match: the answer equals a reference after stripping surrounding whitespace (HELM's,
  except that an empty answer matches an empty reference, where HELM scores every empty
  prediction 0).
- quasi_exact_match: equal after HELM's `normalize_text` (lowercase, drop punctuation, drop the
  articles a/an/the, collapse whitespace); the same empty-answer departure.
- prefix_exact_match, quasi_prefix_exact_match: HELM's exactly. The stripped (or normalised)
  answer starts with the stripped (or normalised) reference, compared as characters ("Yes,
  Elmendorf" matches "Yes"); an answer that is empty after stripping scores 0, as in HELM.
- f1: SQuAD's token F1, not HELM's: normalised tokens as a bag, so a repeated token counts as
  often as it occurs in both (HELM compares token sets); an empty answer against an empty
  reference scores 1 (HELM: 0).
- final_number_match: GSM8K-style, not HELM's `final_number_exact_match`: the answer's number
  equals the reference's as a number (commas, `$` and a trailing `.0` ignored), where HELM
  compares the last number of each as a string.

Every metric takes the extracted answer (None when unreadable, which scores 0) and the
references, and returns the best score over references. docs/metrics.md states the same.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Sequence

from assay.metrics.catalog import CATALOG
from assay.prompting.answers import normalize_number

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


def prefix_exact_match(answer: str | None, references: Sequence[str]) -> float:
    """HELM's prefix_exact_match: forgives a zero-shot model that keeps talking ("Yes, because")."""
    stripped = (answer or "").strip()
    if not stripped:
        return 0.0
    return float(any(stripped.startswith(ref.strip()) for ref in references))


def quasi_prefix_exact_match(answer: str | None, references: Sequence[str]) -> float:
    """HELM's quasi_prefix_exact_match: prefix_exact_match after `normalize_text` on both."""
    stripped = (answer or "").strip()
    if not stripped:
        return 0.0
    normal = normalize_text(stripped)
    return float(any(normal.startswith(normalize_text(ref)) for ref in references))


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
    "prefix_exact_match": prefix_exact_match,
    "quasi_prefix_exact_match": quasi_prefix_exact_match,
    "f1": f1,
    "final_number_match": final_number_match,
    **CATALOG,
}
