"""Cohen's kappa and Krippendorff's alpha against hand-computed textbook examples and against
reference implementations (scikit-learn, the `krippendorff` package)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assay.analysis.agreement import cohen_kappa, krippendorff_alpha

N = None
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", example C: four observers,
# twelve units, missing values; published alphas nominal .743, ordinal .815, interval .849.
KRIPPENDORFF_C: list[list[float | str | None]] = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]
# His example A: two observers, ten units, binary; alpha = 0.095 (by hand: D_o = 8/20,
# D_e = 2 * 14 * 6 / (20 * 19), alpha = 1 - 0.4 / 0.4421 = 2/21).
KRIPPENDORFF_A = [[0, 1, 0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]]


@pytest.mark.parametrize(
    ("level", "published"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)]
)
def test_alpha_reproduces_krippendorffs_worked_example(level: str, published: float) -> None:
    assert krippendorff_alpha(KRIPPENDORFF_C, level) == pytest.approx(published, abs=5e-4)  # type: ignore[arg-type]


def test_alpha_binary_example_by_hand() -> None:
    assert krippendorff_alpha(KRIPPENDORFF_A) == pytest.approx(2 / 21)


def test_kappa_textbook_example() -> None:
    # 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> p_o .7, p_e .5, kappa .4
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_kappa_by_hand_binary() -> None:
    # p_o = .6; marginals (.8, .2) and (.6, .4): p_e = .56; kappa = .04 / .44
    assert cohen_kappa(*KRIPPENDORFF_A) == pytest.approx(0.04 / 0.44)


def test_perfect_and_systematic_disagreement() -> None:
    assert cohen_kappa(["a", "b", "a"], ["a", "b", "a"]) == pytest.approx(1.0)
    assert cohen_kappa([0, 1, 0, 1], [1, 0, 1, 0]) == pytest.approx(-1.0)
    assert krippendorff_alpha([["x", "y", "x"], ["x", "y", "x"]]) == pytest.approx(1.0)
    assert krippendorff_alpha([[0, 1, 0, 1], [1, 0, 1, 0]]) < 0


def test_undefined_when_every_rating_is_the_same() -> None:
    assert math.isnan(cohen_kappa([1, 1, 1], [1, 1, 1]))
    assert math.isnan(krippendorff_alpha([[1, 1, 1], [1, 1, N]]))


def test_nan_is_missing_like_none() -> None:
    with_nan = [[math.nan if v is None else v for v in row] for row in KRIPPENDORFF_C]
    assert krippendorff_alpha(with_nan) == pytest.approx(krippendorff_alpha(KRIPPENDORFF_C))


def test_string_labels_nominal_and_ordinal() -> None:
    letters = [[None if v is None else "abcde"[int(v) - 1] for v in row] for row in KRIPPENDORFF_C]
    assert krippendorff_alpha(letters) == pytest.approx(krippendorff_alpha(KRIPPENDORFF_C))
    # letters sort like the numbers, and ordinal distances use ranks only
    assert krippendorff_alpha(letters, "ordinal") == pytest.approx(
        krippendorff_alpha(KRIPPENDORFF_C, "ordinal")
    )


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="interval"):
        krippendorff_alpha([["a", "b"], ["a", "a"]], "interval")
    with pytest.raises(ValueError, match="one entry per unit"):
        krippendorff_alpha([[1, 2], [1]])
    with pytest.raises(ValueError, match="two or more"):
        krippendorff_alpha([[1, N], [N, 2]])
    with pytest.raises(ValueError, match="rated 2 and 1"):
        cohen_kappa([1, 2], [1])
    with pytest.raises(ValueError, match="no units"):
        cohen_kappa([], [])


def _random_ratings(
    rng: np.random.Generator, raters: int, units: int, values: int
) -> list[list[float | str | None]]:
    data = rng.integers(1, values + 1, size=(raters, units)).astype(float)
    # raters agree more than chance: copy a shared truth into most cells
    truth = rng.integers(1, values + 1, size=units)
    copy = rng.random((raters, units)) < 0.6
    data[copy] = np.broadcast_to(truth, data.shape)[copy]
    data[rng.random((raters, units)) < 0.15] = np.nan
    return [[None if math.isnan(v) else float(v) for v in row] for row in data]


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
@pytest.mark.parametrize("seed", range(5))
def test_alpha_matches_the_krippendorff_package(level: str, seed: int) -> None:
    krippendorff = pytest.importorskip("krippendorff")
    rng = np.random.default_rng(seed)
    ratings = _random_ratings(rng, raters=int(rng.integers(2, 6)), units=40, values=5)
    reference = krippendorff.alpha(
        np.array([[np.nan if v is None else v for v in row] for row in ratings]),
        level_of_measurement=level,
    )
    assert krippendorff_alpha(ratings, level) == pytest.approx(reference, abs=1e-9)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(5))
def test_kappa_matches_scikit_learn(seed: int) -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, size=60)
    b = np.where(rng.random(60) < 0.5, a, rng.integers(0, 4, size=60))
    labels = ["low", "mid", "high", "top"]
    a_labels, b_labels = [labels[i] for i in a], [labels[i] for i in b]
    assert cohen_kappa(a_labels, b_labels) == pytest.approx(
        metrics.cohen_kappa_score(a_labels, b_labels), abs=1e-12
    )


def _weighted_kappa_by_definition(a: list[float], b: list[float], power: int) -> float:
    """Cohen (1968) term by term: 1 - sum over unit pairs of disagreement / its chance level."""
    n = len(a)
    observed = sum(abs(x - y) ** power for x, y in zip(a, b, strict=True)) / n
    expected = sum(abs(x - y) ** power for x in a for y in b) / (n * n)
    return 1 - observed / expected


def test_weighted_kappa_counts_near_misses_as_partly_agreeing() -> None:
    from assay.analysis.agreement import cohen_kappa

    truth = [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 3, 3]
    near = [2, 2, 3, 5, 4, 1, 3, 3, 4, 5, 2, 3]  # the misses are one step off
    far = [5, 2, 3, 1, 1, 1, 5, 3, 4, 5, 5, 3]  # as many misses, four steps off
    assert cohen_kappa(truth, near) == pytest.approx(cohen_kappa(truth, far), abs=0.15)
    assert cohen_kappa(truth, near, "quadratic") > 0.8 > cohen_kappa(truth, near)
    assert cohen_kappa(truth, far, "quadratic") < cohen_kappa(truth, near, "quadratic")
    for power, weights in ((1, "linear"), (2, "quadratic")):
        for other in (near, far):
            assert cohen_kappa(truth, other, weights) == pytest.approx(  # type: ignore[arg-type]
                _weighted_kappa_by_definition(truth, other, power)
            )
    two_labels = ([0, 1, 1, 0, 1, 1], [0, 1, 0, 0, 1, 1])  # with two labels all weights agree
    assert cohen_kappa(*two_labels, "quadratic") == pytest.approx(cohen_kappa(*two_labels))
    with pytest.raises(ValueError, match="numeric labels"):
        cohen_kappa(["a", "b"], ["b", "a"], "quadratic")
    assert math.isnan(cohen_kappa([3, 3], [3, 3], "quadratic"))
