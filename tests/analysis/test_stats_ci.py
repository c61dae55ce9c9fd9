from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from assay.analysis.stats import (
    bootstrap_means,
    cluster_codes,
    clustered_se,
    mean_ci,
    wilson_interval,
)


def test_iid_ci_matches_scipy_percentile_bootstrap_and_t_standard_error() -> None:
    x = np.random.default_rng(3).normal(0.4, 1.0, size=400)
    ours = mean_ci(x, resamples=20_000, seed=1)
    ref = sps.bootstrap(
        (x,),
        np.mean,
        n_resamples=20_000,
        method="percentile",
        random_state=np.random.default_rng(2),
    ).confidence_interval
    assert ours.mean == pytest.approx(x.mean())
    assert ours.se == pytest.approx(sps.sem(x))
    # two independent Monte Carlo estimates of the same percentiles
    assert ours.lo == pytest.approx(ref.low, abs=0.01)
    assert ours.hi == pytest.approx(ref.high, abs=0.01)


def test_binary_fast_path_has_the_binomial_spread() -> None:
    x = (np.random.default_rng(0).random(2_000) < 0.3).astype(float)
    means = bootstrap_means(x, resamples=20_000, seed=4)
    p = x.mean()
    assert means.std() == pytest.approx(np.sqrt(p * (1 - p) / x.size), rel=0.03)


def test_seeded() -> None:
    x = np.random.default_rng(5).random(5_000)
    assert mean_ci(x, seed=7, resamples=500) == mean_ci(x, seed=7, resamples=500)
    assert mean_ci(x, seed=7, resamples=500) != mean_ci(x, seed=8, resamples=500)


def _coverage(p: float, n: int, trials: int, rng: np.random.Generator) -> float:
    covered = 0
    for _ in range(trials):
        ci = mean_ci((rng.random(n) < p).astype(float))
        covered += ci.lo <= p <= ci.hi
    return covered / trials


@pytest.mark.parametrize("n", [20, 50])
@pytest.mark.parametrize("p", [0.02, 0.5, 0.95])
def test_binary_ci_covers_about_95_percent_at_small_n(n: int, p: float) -> None:
    # The percentile bootstrap covered 66-87% here; Wilson's worst cells are ~92%.
    coverage = _coverage(p, n, 2_000, np.random.default_rng(int(p * 1000) + n))
    assert 0.91 <= coverage <= 0.995


def test_all_right_still_has_an_interval_below_one() -> None:
    ci = mean_ci(np.ones(20))
    assert ci.hi == 1.0 and 0.8 < ci.lo < 0.9  # Wilson: 20 / (20 + 1.96^2) = 0.839
    assert wilson_interval(20, 20)[0] == pytest.approx(0.8389, abs=1e-4)


def test_clustered_binary_ci_covers_about_95_percent() -> None:
    # 25 clusters of 8 samples whose success rates vary (intra-cluster correlation 0.2)
    rng = np.random.default_rng(21)
    groups = np.repeat(np.arange(25), 8).tolist()
    p, icc, trials, covered, iid_covered = 0.7, 0.2, 1_000, 0, 0
    a = p * (1 / icc - 1)
    b = (1 - p) * (1 / icc - 1)
    for _ in range(trials):
        rates = rng.beta(a, b, 25)
        x = (rng.random(200) < np.repeat(rates, 8)).astype(float)
        ci = mean_ci(x, clusters=groups)
        covered += ci.lo <= p <= ci.hi
        iid = mean_ci(x)
        iid_covered += iid.lo <= p <= iid.hi
    assert 0.91 <= covered / trials <= 0.99
    assert iid_covered / trials < 0.85  # ignoring the clusters would be overconfident


def test_clustered_ci_is_wider_when_clusters_share_a_level() -> None:
    rng = np.random.default_rng(11)
    groups = np.repeat(np.arange(20), 25)
    x = rng.normal(0, 1, 20)[groups] + rng.normal(0, 0.2, groups.size)
    iid = mean_ci(x, seed=0)
    clustered = mean_ci(x, clusters=groups.tolist(), seed=0)
    assert clustered.clusters == 20 and iid.clusters is None
    assert (clustered.hi - clustered.lo) > 3 * (iid.hi - iid.lo)
    # the cluster-robust SE is the SE of the 20 cluster means (equal sizes) up to sqrt(G/(G-1))
    means = x.reshape(20, 25).mean(axis=1)
    assert clustered.se == pytest.approx(means.std(ddof=1) / np.sqrt(20), rel=1e-9)


def test_clustered_se_reference_value() -> None:
    x = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    codes = cluster_codes(["a", "a", "b", "b", "c", "c"])
    # residual sums per cluster: (1-.5)+(0-.5)=0, 1, -1 -> sqrt(3/2 * 2) / 6
    assert clustered_se(x, codes) == pytest.approx(np.sqrt(3.0) / 6)


def test_single_cluster_or_singletons_fall_back_to_iid() -> None:
    x = np.random.default_rng(1).random(50)
    iid = mean_ci(x)
    assert mean_ci(x, clusters=["same"] * 50) == iid
    assert mean_ci(x, clusters=list(range(50))) == iid


def test_degenerate_sizes() -> None:
    assert mean_ci([]).n == 0
    one = mean_ci([0.5])
    assert one.mean == 0.5 and one.lo != one.lo
    with pytest.raises(ValueError):
        mean_ci([1.0, 2.0], clusters=["a"])
