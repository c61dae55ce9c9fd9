"""Calibration of choice probabilities: expected calibration error and selective accuracy.

Both need, per sample, the probability the model gave its chosen answer (`confidence`: the
softmax of the options' log-likelihoods, from `multiple_choice_logprob`) and whether that answer
was right. Definitions (as HELM reports them, after Guo et al. 2017 and El-Yaniv & Wiener 2010):

- `ece_10_bin`: sort the samples by confidence (ascending, ties in run order) and cut them into
  10 bins of equal mass: contiguous groups whose sizes differ by at most one, the larger ones
  first (fewer bins when there are fewer than 10 samples). ECE = sum over bins of
  (bin size / n) * |mean confidence - accuracy|. 0 is perfectly calibrated.
- `selective_accuracy_<c>`: the accuracy on the ceil(c% * n) most confident samples (sorted by
  confidence, descending, ties in run order), for c = 10, 20, ..., 100.
- `selective_accuracy_auc`: the area under the accuracy-coverage curve, the mean over k = 1..n
  of the accuracy on the k most confident samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from assay.answers import letters
from assay.metrics.metric import Direction, Metric, Values

COVERAGES = tuple(range(10, 101, 10))


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> float:
    """ECE with equal-mass bins (see the module docstring); NaN for no samples."""
    if len(confidences) != len(correct):
        raise ValueError("confidences and correct differ in length")
    n = len(confidences)
    if n == 0:
        return float("nan")
    conf = np.asarray(confidences, dtype=float)
    right = np.asarray(correct, dtype=float)
    order = np.argsort(conf, kind="stable")
    total = 0.0
    for part in np.array_split(order, min(bins, n)):
        total += len(part) / n * abs(float(conf[part].mean()) - float(right[part].mean()))
    return total


def selective_accuracy(
    confidences: Sequence[float], correct: Sequence[bool]
) -> tuple[dict[int, float], float]:
    """Accuracy at each coverage in COVERAGES (percent), and the area under the curve."""
    n = len(confidences)
    if n == 0:
        return {c: float("nan") for c in COVERAGES}, float("nan")
    order = np.argsort(-np.asarray(confidences, dtype=float), kind="stable")
    right = np.asarray(correct, dtype=float)[order]
    running = np.cumsum(right) / np.arange(1, n + 1)  # accuracy of the k most confident
    at = {c: float(running[-(-c * n // 100) - 1]) for c in COVERAGES}
    return at, float(running.mean())


def _answer_is_right(row: Mapping[str, Any]) -> bool:
    labels = letters(len(row.get("choices") or []))
    correct = int(row["correct"])
    return 0 <= correct < len(labels) and row.get("prediction") == labels[correct]


def calibration_run_metrics(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """The run-level hook: rows with a confidence and a correct choice; nothing when none has."""
    used = [r for r in rows if r.get("confidence") is not None and r.get("correct") is not None]
    if not used:
        return {}
    confidences = [float(r["confidence"]) for r in used]
    correct = [_answer_is_right(r) for r in used]
    at, auc = selective_accuracy(confidences, correct)
    return {
        "ece_10_bin": expected_calibration_error(confidences, correct, bins=10),
        **{f"selective_accuracy_{c}": value for c, value in at.items()},
        "selective_accuracy_auc": auc,
        "confidence_mean": float(np.mean(confidences)),
        "n_calibration": float(len(used)),
    }


# What `calibration_run_metrics` reports.
CALIBRATION_RUN_METRICS = (
    Metric("ece_10_bin", direction=Direction.LOWER, aggregation="run"),
    *(Metric(f"selective_accuracy_{c}", aggregation="run") for c in COVERAGES),
    Metric("selective_accuracy_auc", aggregation="run"),
    Metric("confidence_mean", direction=Direction.NONE, aggregation="run"),
    Metric("n_calibration", direction=Direction.NONE, values=Values.COUNT, aggregation="run"),
)
