from __future__ import annotations

import time

import numpy as np
import pytest
from scipy import stats as sps

from assay.analysis.stats import bootstrap_means, cluster_codes, clustered_se, mean_ci


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


def test_seeded_and_fast() -> None:
    x = np.random.default_rng(5).random(10_000)
    assert mean_ci(x, seed=7) == mean_ci(x, seed=7)
    start = time.perf_counter()
    mean_ci(x, resamples=10_000)
    assert time.perf_counter() - start < 3.0  # bench/aggregate.py reports the real figure


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
