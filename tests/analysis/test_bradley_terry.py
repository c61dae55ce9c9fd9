"""Bradley-Terry ratings: known small examples, the maximum-likelihood fit against a generic
optimiser, recovery of synthetic strengths, ties as half wins, and seeded bootstrap CIs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assay.analysis.bradley_terry import ELO_SCALE, bradley_terry, elo, fit_strengths


def games(outcomes: list[tuple[int, int, float]], size: int) -> np.ndarray:
    """One sample per game: (i, j, i's score: 1 win, 0.5 tie, 0 loss)."""
    out = np.zeros((len(outcomes), size, size))
    for s, (i, j, score) in enumerate(outcomes):
        out[s, i, j] += score
        out[s, j, i] += 1 - score
    return out


def test_two_models_three_wins_in_four() -> None:
    # p_a / p_b = 3: the Elo gap is 400 log10(3) = 190.8
    ratings = elo(fit_strengths(np.array([[0.0, 3.0], [1.0, 0.0]])))
    assert ratings[0] - ratings[1] == pytest.approx(400 * math.log10(3))
    assert ratings.mean() == pytest.approx(1000)


def test_a_tie_is_half_a_win_each() -> None:
    # one win and two ties out of three: 2 half-points against 1, a strength ratio of 2
    per_sample = games([(0, 1, 1.0), (0, 1, 0.5), (0, 1, 0.5)], 2)
    (top, bottom) = bradley_terry(["a", "b"], per_sample, prior=0, resamples=50)
    assert top.model == "a"
    assert top.rating - bottom.rating == pytest.approx(400 * math.log10(2))
    tied = bradley_terry(["a", "b"], games([(0, 1, 0.5)] * 4, 2), prior=0, resamples=50)
    assert [r.rating for r in tied] == pytest.approx([1000, 1000])


def test_a_cycle_rates_everyone_equal() -> None:
    per_sample = games([(0, 1, 1.0), (1, 2, 1.0), (2, 0, 1.0)], 3)
    ratings = bradley_terry(["a", "b", "c"], per_sample, prior=0, resamples=50)
    assert [r.rating for r in ratings] == pytest.approx([1000, 1000, 1000])


def test_the_fit_is_the_maximum_likelihood() -> None:
    optimize = pytest.importorskip("scipy.optimize")
    wins = np.array([[0, 7, 3, 5], [4, 0, 6, 2], [2, 3, 0, 4], [1, 5, 2, 0]], dtype=float)

    def negative_log_likelihood(free: np.ndarray) -> float:
        theta = np.concatenate([[0.0], free])
        diff = theta[:, None] - theta[None, :]
        return float(np.sum(wins * np.log1p(np.exp(-diff))))

    found = optimize.minimize(negative_log_likelihood, np.zeros(3), method="BFGS", tol=1e-12)
    theta = np.concatenate([[0.0], found.x])
    assert fit_strengths(wins) == pytest.approx(theta - theta.mean(), abs=1e-5)


def test_recovers_the_ordering_of_synthetic_strengths() -> None:
    rng = np.random.default_rng(7)
    truth = np.array([0.0, 0.4, 0.9, 1.5, 2.2])  # log-strengths, model 4 strongest
    size, samples = len(truth), 300
    per_sample = np.zeros((samples, size, size))
    for s in range(samples):
        for i in range(size):
            for j in range(i + 1, size):
                p = 1 / (1 + math.exp(truth[j] - truth[i]))
                winner, loser = (i, j) if rng.random() < p else (j, i)
                per_sample[s, winner, loser] += 1
    names = [f"m{i}" for i in range(size)]
    ratings = bradley_terry(names, per_sample, prior=0, resamples=300, seed=1)
    assert [r.model for r in ratings] == ["m4", "m3", "m2", "m1", "m0"]
    expected = 1000 + ELO_SCALE * (truth - truth.mean())
    for r in ratings:
        true = expected[int(r.model[1:])]
        assert r.lo < r.rating < r.hi
        assert r.lo - 15 < true < r.hi + 15  # the truth within (about) its interval
        assert r.rating == pytest.approx(true, abs=40)


def test_bootstrap_is_seeded_and_the_prior_keeps_a_perfect_record_finite() -> None:
    per_sample = games([(0, 1, 1.0)] * 5 + [(1, 2, 1.0)] * 5 + [(1, 2, 0.5)], 3)
    first = bradley_terry(["a", "b", "c"], per_sample, resamples=200, seed=3)
    again = bradley_terry(["a", "b", "c"], per_sample, resamples=200, seed=3)
    other = bradley_terry(["a", "b", "c"], per_sample, resamples=200, seed=4)
    assert first == again and first != other
    assert [r.model for r in first] == ["a", "b", "c"]
    assert all(math.isfinite(v) for r in first for v in (r.rating, r.lo, r.hi))
    assert all(r.lo <= r.rating <= r.hi for r in first)


def test_models_that_never_meet_cannot_be_rated() -> None:
    per_sample = games([(0, 1, 1.0), (2, 3, 1.0)], 4)
    with pytest.raises(ValueError, match="compared"):
        bradley_terry(["a", "b", "c", "d"], per_sample)
