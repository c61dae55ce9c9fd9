"""Means with seeded bootstrap confidence intervals, clustered where samples share a source.

The bootstrap resamples samples with replacement. When a metric takes few distinct values (0/1
accuracy, most F1 scores on short answers), drawing a resample is the same as drawing how many
times each distinct value appears, a multinomial over the distinct values; that gives the exact
same distribution as resampling indices at a tiny fraction of the cost. Otherwise indices are
resampled in chunks to bound memory.

When samples come in clusters (the questions of one MMLU subject, the variants of one BBQ
template) they are not independent, and an i.i.d. bootstrap understates the uncertainty. The
clustered bootstrap resamples whole clusters and takes the ratio of the resampled sums to the
resampled sizes; the standard error is the cluster-robust (sandwich) one.

A 0/1 metric (accuracy) gets the Wilson score interval instead: the percentile bootstrap of a
proportion is far too narrow at small n near 0 or 1 (all answers right gives [1, 1]). With
clusters, the Wilson interval uses the effective sample size n / design effect, where the design
effect is the ratio of the cluster-robust variance to the binomial one (at least 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
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
    clusters: int | None = None  # number of clusters when the CI is clustered

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mean": self.mean,
            "ci_lo": self.lo,
            "ci_hi": self.hi,
            "se": self.se,
            "n": self.n,
        }
        if self.clusters is not None:
            out["clusters"] = self.clusters
        return out


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


def cluster_codes(labels: Sequence[Any] | NDArray[Any]) -> NDArray[np.int64]:
    """Integer codes 0..G-1 for cluster labels (any hashable values; None is its own cluster)."""
    index: dict[Any, int] = {}
    return np.fromiter((index.setdefault(v, len(index)) for v in labels), dtype=np.int64)


def clustered_bootstrap_means(
    values: ArrayLike,
    codes: ArrayLike,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> NDArray[np.float64]:
    """Means of bootstrap resamples that draw whole clusters (`codes`: 0..G-1 per value)."""
    x = np.asarray(values, dtype=np.float64)
    c = np.asarray(codes, dtype=np.int64)
    groups = int(c.max()) + 1
    sums = np.bincount(c, weights=x, minlength=groups)
    sizes = np.bincount(c, minlength=groups).astype(np.float64)
    rng = np.random.default_rng(seed)
    out = np.empty(resamples)
    step = max(1, _CHUNK_CELLS // groups)
    for start in range(0, resamples, step):
        stop = min(resamples, start + step)
        idx = rng.integers(0, groups, size=(stop - start, groups))
        out[start:stop] = sums[idx].sum(axis=1) / sizes[idx].sum(axis=1)
    return out


def resample_counts(n: int, resamples: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """(resamples, n) times each of n items is drawn in each bootstrap resample of size n."""
    idx = rng.integers(0, n, size=(resamples, n)) + (np.arange(resamples) * n)[:, None]
    counts: NDArray[np.float64] = (
        np.bincount(idx.ravel(), minlength=resamples * n).reshape(resamples, n).astype(np.float64)
    )
    return counts


def clustered_se(values: NDArray[np.float64], codes: NDArray[np.int64]) -> float:
    """Cluster-robust standard error of the mean, with the G/(G-1) small-sample correction."""
    n = values.size
    groups = int(codes.max()) + 1
    residual_sums = np.bincount(codes, weights=values - values.mean(), minlength=groups)
    return float(np.sqrt(groups / (groups - 1) * np.sum(residual_sums**2)) / n)


def is_binary(values: NDArray[np.float64]) -> bool:
    """True when every value is 0 or 1 (a proportion: accuracy, exact match, pass@1 of one)."""
    return bool(np.all((values == 0.0) | (values == 1.0)))


def wilson_interval(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (`n` may be a non-integer effective size)."""
    if n <= 0:
        return float("nan"), float("nan")
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))


def design_effect(values: NDArray[np.float64], codes: NDArray[np.int64]) -> float:
    """Cluster-robust variance of the mean over the binomial one; 1 when either is zero."""
    n = values.size
    p = float(values.mean())
    binomial = p * (1 - p) / n
    if binomial <= 0:
        return 1.0
    return max(1.0, clustered_se(values, codes) ** 2 / binomial)


def mean_ci(
    values: ArrayLike,
    *,
    clusters: Sequence[Any] | NDArray[Any] | None = None,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> MeanCI:
    """Mean, standard error and a CI: Wilson for 0/1 values, else percentile bootstrap.

    NaN bounds when n < 2. With `clusters` (one label per value), the CI and the standard error
    are clustered when there are at least two clusters and fewer clusters than values; otherwise
    they are i.i.d.
    """
    x = np.asarray(values, dtype=np.float64)
    n = int(x.size)
    if n == 0:
        return MeanCI(float("nan"), float("nan"), float("nan"), float("nan"), 0)
    mean = float(x.mean())
    if n < 2:
        return MeanCI(mean, float("nan"), float("nan"), float("nan"), n)
    alpha = (1 - confidence) / 2
    if clusters is not None:
        if len(clusters) != n:
            raise ValueError(f"{len(clusters)} cluster labels for {n} values")
        codes = cluster_codes(clusters)
        groups = int(codes.max()) + 1
        if 2 <= groups < n:
            se_clustered = clustered_se(x, codes)
            if is_binary(x):
                n_effective = n / design_effect(x, codes)
                lo, hi = wilson_interval(mean * n_effective, n_effective, confidence)
                return MeanCI(mean, lo, hi, se_clustered, n, groups)
            means = clustered_bootstrap_means(x, codes, resamples=resamples, seed=seed)
            lo, hi = np.quantile(means, [alpha, 1 - alpha])
            return MeanCI(mean, float(lo), float(hi), se_clustered, n, groups)
    se = float(x.std(ddof=1) / np.sqrt(n))
    if is_binary(x):
        lo, hi = wilson_interval(float(x.sum()), n, confidence)
        return MeanCI(mean, lo, hi, se, n)
    means = bootstrap_means(x, resamples=resamples, seed=seed)
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return MeanCI(mean, float(lo), float(hi), se, n)
