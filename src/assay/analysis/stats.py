"""Means with seeded bootstrap confidence intervals.

The bootstrap resamples samples with replacement. When a metric takes few distinct values (0/1
accuracy, most F1 scores on short answers), drawing a resample is the same as drawing how many
times each distinct value appears, a multinomial over the distinct values; that gives the exact
same distribution as resampling indices at a tiny fraction of the cost. Otherwise indices are
resampled in chunks to bound memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

DEFAULT_RESAMPLES = 10_000
_MAX_DISTINCT = 2_000
_CHUNK_CELLS = 4_000_000


@dataclass(frozen=True, slots=True)
class MeanCI:
    mean: float
    lo: float
    hi: float
    se: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "ci_lo": self.lo, "ci_hi": self.hi, "se": self.se, "n": self.n}


def bootstrap_means(
    values: ArrayLike, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> NDArray[np.float64]:
    """Means of `resamples` bootstrap resamples of `values`."""
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    rng = np.random.default_rng(seed)
    distinct, counts = np.unique(x, return_counts=True)
    if distinct.size <= _MAX_DISTINCT:
        draws = rng.multinomial(n, counts / n, size=resamples)
        result: NDArray[np.float64] = (draws @ distinct) / n
        return result
    out = np.empty(resamples)
    step = max(1, _CHUNK_CELLS // n)
    for start in range(0, resamples, step):
        stop = min(resamples, start + step)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = x[idx].mean(axis=1)
    return out


def mean_ci(
    values: ArrayLike,
    *,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> MeanCI:
    """Mean, standard error and percentile bootstrap CI. NaN bounds when n < 2."""
    x = np.asarray(values, dtype=np.float64)
    n = int(x.size)
    if n == 0:
        return MeanCI(float("nan"), float("nan"), float("nan"), float("nan"), 0)
    mean = float(x.mean())
    if n < 2:
        return MeanCI(mean, float("nan"), float("nan"), float("nan"), n)
    se = float(x.std(ddof=1) / np.sqrt(n))
    means = bootstrap_means(x, resamples=resamples, seed=seed)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return MeanCI(mean, float(lo), float(hi), se, n)
