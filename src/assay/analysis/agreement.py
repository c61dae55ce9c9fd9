"""Agreement between raters (judges, annotators): Cohen's kappa for two, Krippendorff's alpha for
any number, with missing ratings.

Both are chance-corrected: 1 is perfect agreement, 0 is what raters labelling at random with
their own label frequencies would reach, below 0 is systematic disagreement. Where chance
agreement is already perfect (every rating is the same value) the statistic is undefined and
the functions return NaN rather than a number that would look like a finding.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Level = Literal["nominal", "ordinal", "interval"]
KappaWeights = Literal["none", "linear", "quadratic"]


def cohen_kappa(
    a: Sequence[Hashable], b: Sequence[Hashable], weights: KappaWeights = "none"
) -> float:
    """Cohen's kappa of two raters' labels for the same units (`a[i]` and `b[i]` rate unit i):
    (p_o - p_e) / (1 - p_e), with p_e from each rater's own label frequencies.

    `weights` "linear" or "quadratic" (numeric labels): Cohen's (1968) weighted kappa,
    1 - sum(w * observed) / sum(w * expected) with w the labels' distance or its square, for
    ordinal scales, where a 4 against a 5 is a smaller disagreement than a 1 against a 5 (the
    unweighted kappa counts both as a miss). With two labels every weighting gives the same."""
    if len(a) != len(b):
        raise ValueError(f"cohen_kappa: the raters rated {len(a)} and {len(b)} units")
    if not a:
        raise ValueError("cohen_kappa: no units to compare")
    index: dict[Hashable, int] = {}
    for label in (*a, *b):
        index.setdefault(label, len(index))
    table = np.zeros((len(index), len(index)), dtype=np.float64)
    np.add.at(table, ([index[x] for x in a], [index[y] for y in b]), 1.0)
    table /= len(a)
    chance = np.outer(table.sum(axis=1), table.sum(axis=0))
    if weights == "none":
        observed = float(np.trace(table))
        expected = float(np.trace(chance))
        if math.isclose(expected, 1.0):
            return math.nan
        return (observed - expected) / (1.0 - expected)
    try:
        values = np.array([float(label) for label in index], dtype=np.float64)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"cohen_kappa: {weights} weights need numeric labels") from None
    distance = np.abs(values[:, None] - values[None, :])
    w = distance if weights == "linear" else distance**2
    expected_miss = float((w * chance).sum())
    if math.isclose(expected_miss, 0.0, abs_tol=1e-12):
        return math.nan
    return 1.0 - float((w * table).sum()) / expected_miss


def _missing(value: float | str | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _domain(values: set[float | str], level: Level) -> list[float | str]:
    if level == "nominal":
        # any hashable labels; the order only fixes matrix positions
        return sorted(values, key=lambda v: (isinstance(v, str), v))
    if level == "interval" and any(isinstance(v, str) for v in values):
        raise ValueError("krippendorff_alpha: interval level needs numbers, not labels")
    try:
        return sorted(values)
    except TypeError:
        raise ValueError(
            "krippendorff_alpha: ordinal level needs values of one ordered kind"
        ) from None


def _distances(
    domain: Sequence[float | str], totals: NDArray[np.float64], level: Level
) -> NDArray[np.float64]:
    """Squared difference delta^2 between each pair of values."""
    size = len(domain)
    if level == "nominal":
        return 1.0 - np.eye(size)
    if level == "interval":
        points = np.asarray(domain, dtype=np.float64)
        return np.subtract.outer(points, points) ** 2
    # ordinal: the number of pairable values between c and k (inclusive, halving the ends)
    cumulative = np.concatenate([[0.0], np.cumsum(totals)])
    positions = np.arange(size)
    low = np.minimum.outer(positions, positions)
    high = np.maximum.outer(positions, positions)
    between = cumulative[high + 1] - cumulative[low] - (totals[low] + totals[high]) / 2
    return np.asarray(between**2, dtype=np.float64)


def krippendorff_alpha(
    ratings: Sequence[Sequence[float | str | None]], level: Level = "nominal"
) -> float:
    """Krippendorff's alpha, 1 - D_o / D_e, from the coincidence matrix of pairable values.

    `ratings` has one row per rater and one column per unit; `None` (or NaN) is a missing
    rating. Units with fewer than two ratings are not pairable and are left out.
    """
    if level not in ("nominal", "ordinal", "interval"):
        raise ValueError(f"krippendorff_alpha: unknown level {level!r}")
    widths = {len(row) for row in ratings}
    if len(widths) > 1:
        raise ValueError("krippendorff_alpha: every rater's row needs one entry per unit")
    units = widths.pop() if widths else 0
    present = {v for row in ratings for v in row if not _missing(v)}
    if not present:
        raise ValueError("krippendorff_alpha: no ratings")
    domain = _domain(present, level)  # type: ignore[arg-type]
    index = {v: i for i, v in enumerate(domain)}

    counts = np.zeros((units, len(domain)), dtype=np.float64)  # unit x value
    for row in ratings:
        for unit, value in enumerate(row):
            if not _missing(value):
                counts[unit, index[value]] += 1  # type: ignore[index]
    pairable = counts.sum(axis=1)
    counts = counts[pairable >= 2]
    pairable = pairable[pairable >= 2]
    if counts.size == 0:
        raise ValueError("krippendorff_alpha: no unit has two or more ratings")

    weighted = counts / (pairable - 1)[:, None]
    coincidences = weighted.T @ counts - np.diag(weighted.sum(axis=0))
    totals = coincidences.sum(axis=1)
    n = float(totals.sum())
    delta = _distances(domain, totals, level)
    observed = float((coincidences * delta).sum()) / n
    expected = float((np.outer(totals, totals) * delta).sum()) / (n * (n - 1))
    if math.isclose(expected, 0.0, abs_tol=1e-15):
        return math.nan
    return 1.0 - observed / expected
