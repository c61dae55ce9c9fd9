"""Paired comparison of two models on the same samples.

Scores of two models on the same samples are correlated (an easy question is easy for both), so
the difference of the two means is far more certain than the two CIs side by side suggest. The
difference gets a paired bootstrap CI (the per-sample differences resampled, by cluster where
samples share a source), and a p-value: McNemar's exact test when both scores are 0/1, else a
paired permutation (sign-flip) test, exact up to 2^20 arrangements and Monte Carlo beyond. Holm's
step-down correction keeps the family-wise error rate when many pairs are compared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from assay.analysis.stats import DEFAULT_RESAMPLES, mean_ci

EXACT_PERMUTATION_MAX = 20  # nonzero differences up to which every sign pattern is enumerated
_CHUNK_CELLS = 4_000_000


@dataclass(frozen=True, slots=True)
class PairedComparison:
    """Model A minus model B on `n` shared samples."""

    n: int
    mean_a: float
    mean_b: float
    diff: float
    ci_lo: float
    ci_hi: float
    test: str  # "mcnemar-exact" | "permutation" | "permutation-exact" | "none"
    p_value: float
    a_only: int | None = None  # binary metrics: samples A got right and B wrong
    b_only: int | None = None
    p_holm: float | None = None  # set by `holm_adjust` when several comparisons are made

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_binary(values: NDArray[np.float64]) -> bool:
    return bool(np.all((values == 0.0) | (values == 1.0)))


def _binomial_cdf_half(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2), summed in log space so large n does not overflow."""
    if k >= n:
        return 1.0
    steps = np.log((n - np.arange(k)) / (np.arange(k) + 1.0))
    log_pmf = -n * np.log(2.0) + np.concatenate(([0.0], np.cumsum(steps)))
    top = log_pmf.max()
    return float(min(1.0, np.exp(top) * np.sum(np.exp(log_pmf - top))))


def mcnemar_exact(a: ArrayLike, b: ArrayLike) -> tuple[float, int, int]:
    """Two-sided exact McNemar test on paired 0/1 outcomes: (p-value, A-only, B-only)."""
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    a_only = int(np.sum((x == 1) & (y == 0)))
    b_only = int(np.sum((x == 0) & (y == 1)))
    discordant = a_only + b_only
    if discordant == 0:
        return 1.0, a_only, b_only
    p = 2.0 * _binomial_cdf_half(min(a_only, b_only), discordant)
    return min(1.0, p), a_only, b_only


def paired_permutation_test(
    a: ArrayLike, b: ArrayLike, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> tuple[float, bool]:
    """Two-sided sign-flip test of mean(a - b) = 0: (p-value, exact).

    Exact when at most EXACT_PERMUTATION_MAX differences are nonzero (zeros never change the
    statistic); otherwise Monte Carlo with the (1 + hits) / (1 + resamples) estimate, which never
    returns zero.
    """
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    d = d[d != 0]
    k = d.size
    if k == 0:
        return 1.0, True
    observed = abs(d.sum())
    tolerance = 1e-9 * max(1.0, observed)
    if k <= EXACT_PERMUTATION_MAX:
        patterns = np.arange(2**k, dtype=np.int64)
        hits = 0
        step = max(1, _CHUNK_CELLS // k)
        for start in range(0, patterns.size, step):
            bits = (patterns[start : start + step, None] >> np.arange(k)) & 1
            totals = (1 - 2 * bits) @ d
            hits += int(np.sum(np.abs(totals) >= observed - tolerance))
        return hits / 2**k, True
    rng = np.random.default_rng(seed)
    hits = 0
    step = max(1, _CHUNK_CELLS // k)
    for start in range(0, resamples, step):
        rows = min(step, resamples - start)
        signs = rng.integers(0, 2, size=(rows, k), dtype=np.int8) * 2 - 1
        hits += int(np.sum(np.abs(signs @ d) >= observed - tolerance))
    return (1 + hits) / (1 + resamples), False


def compare_paired(
    a: ArrayLike,
    b: ArrayLike,
    *,
    clusters: Sequence[Any] | NDArray[Any] | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> PairedComparison:
    """Compare A and B on aligned samples (value i of each is the same sample)."""
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"paired scores differ in length: {x.size} and {y.size}")
    n = int(x.size)
    if n == 0:
        nan = float("nan")
        return PairedComparison(0, nan, nan, nan, nan, nan, "none", nan)
    diff = mean_ci(x - y, clusters=clusters, resamples=resamples, seed=seed)
    if is_binary(x) and is_binary(y):
        p, a_only, b_only = mcnemar_exact(x, y)
        return PairedComparison(
            n,
            float(x.mean()),
            float(y.mean()),
            diff.mean,
            diff.lo,
            diff.hi,
            "mcnemar-exact",
            p,
            a_only,
            b_only,
        )
    p, exact = paired_permutation_test(x, y, resamples=resamples, seed=seed)
    return PairedComparison(
        n,
        float(x.mean()),
        float(y.mean()),
        diff.mean,
        diff.lo,
        diff.hi,
        "permutation-exact" if exact else "permutation",
        p,
    )


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    scaled = p[order] * (m - np.arange(m))
    adjusted_sorted = np.minimum(1.0, np.maximum.accumulate(scaled))
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    return [float(v) for v in adjusted]


def holm_adjust(comparisons: Sequence[PairedComparison]) -> list[PairedComparison]:
    """The same comparisons with `p_holm` filled in over the whole family."""
    from dataclasses import replace

    adjusted = holm([c.p_value for c in comparisons])
    return [replace(c, p_holm=p) for c, p in zip(comparisons, adjusted, strict=True)]
