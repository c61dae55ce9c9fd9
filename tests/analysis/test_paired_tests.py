from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from assay.analysis.paired import (
    compare_paired,
    holm,
    mcnemar_exact,
    paired_permutation_test,
)


@pytest.mark.parametrize(
    ("a_only", "b_only", "both"), [(7, 2, 30), (0, 5, 3), (40, 61, 200), (600, 700, 50), (3, 3, 10)]
)
def test_mcnemar_exact_matches_scipy_binomtest(a_only: int, b_only: int, both: int) -> None:
    a = np.array([1] * a_only + [0] * b_only + [1] * both + [0] * 4, dtype=float)
    b = np.array([0] * a_only + [1] * b_only + [1] * both + [0] * 4, dtype=float)
    p, got_a, got_b = mcnemar_exact(a, b)
    assert (got_a, got_b) == (a_only, b_only)
    ref = sps.binomtest(min(a_only, b_only), a_only + b_only, 0.5).pvalue
    assert p == pytest.approx(ref, rel=1e-9)


def test_mcnemar_no_discordant_pairs() -> None:
    assert mcnemar_exact([1, 0, 1], [1, 0, 1])[0] == 1.0


def test_exact_permutation_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(0.3, 1, 12)
    b = rng.normal(0.0, 1, 12)
    p, exact = paired_permutation_test(a, b)
    ref = sps.permutation_test(
        (a, b),
        lambda x, y: np.mean(x - y),
        permutation_type="samples",
        n_resamples=np.inf,
        alternative="two-sided",
    ).pvalue
    assert exact and p == pytest.approx(ref, rel=1e-9)


def test_monte_carlo_permutation_is_close_to_the_normal_approximation() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(0.1, 1, 400)
    b = a - rng.normal(0.12, 1, 400)
    p, exact = paired_permutation_test(a, b, resamples=20_000, seed=3)
    assert not exact
    t = sps.ttest_rel(a, b).pvalue
    assert p == pytest.approx(t, abs=0.01)


def test_holm_reference_values() -> None:
    # by hand: sorted .01 .02 .03 .04 times 4 3 2 1 = .04 .06 .06 .04; monotone: .04 .06 .06 .06
    got = holm([0.04, 0.01, 0.03, 0.02])
    assert got == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def test_compare_paired_chooses_the_test_by_metric_kind() -> None:
    a = np.array([1, 1, 1, 0, 1, 1, 0, 1] * 10, dtype=float)
    b = np.array([0, 1, 0, 0, 1, 0, 0, 1] * 10, dtype=float)
    binary = compare_paired(a, b, seed=1)
    assert binary.test == "mcnemar-exact" and (binary.a_only, binary.b_only) == (30, 0)
    assert binary.diff == pytest.approx(0.375) and binary.ci_lo > 0 and binary.p_value < 1e-6
    graded = compare_paired(a * 0.5 + 0.1, b * 0.5)
    assert graded.test.startswith("permutation") and graded.a_only is None
    with pytest.raises(ValueError):
        compare_paired([1.0], [1.0, 0.0])
