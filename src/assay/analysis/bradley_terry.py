"""Bradley-Terry ratings from pairwise outcomes, with bootstrap confidence intervals.

Model i beats model j with probability p_i / (p_i + p_j). The strengths are fitted by
maximum likelihood with Hunter's (2004) MM iteration, p_i <- W_i / sum_j n_ij / (p_i + p_j),
where W_i counts i's wins and n_ij the games between i and j; a tie counts half a win to each
side. Ratings are reported on the Elo scale, 400 log10(p_i), centred so their mean is 1000.

A model that won (or lost) every game has no finite maximum-likelihood strength. `prior` adds
that many virtual ties between every two models that met, which keeps every rating finite and
pulls them together a little; it is 0 for the plain MLE.

The bootstrap resamples samples (the units the models were compared on, each carrying all of
its pairs' outcomes) with replacement, refits, and takes percentile intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

ELO_SCALE = 400.0 / np.log(10.0)
ELO_CENTRE = 1000.0
DEFAULT_PRIOR = 1.0
DEFAULT_RESAMPLES = 1000
_CHUNK = 256


@dataclass(frozen=True)
class Rating:
    model: str
    rating: float
    lo: float
    hi: float
    games: float  # decided games and ties, over all of the model's pairs


def fit_strengths(
    wins: NDArray[np.float64], *, tol: float = 1e-10, max_iter: int = 100_000
) -> NDArray[np.float64]:
    """Log-strengths (mean 0) from a win matrix `wins[..., i, j]` = i's (half-)wins over j;
    leading axes are independent problems (bootstrap resamples) fitted together."""
    wins = np.asarray(wins, dtype=np.float64)
    games = wins + np.swapaxes(wins, -1, -2)
    total_wins = wins.sum(axis=-1)
    strengths = np.ones(wins.shape[:-1])
    for _ in range(max_iter):
        pair_sums = strengths[..., :, None] + strengths[..., None, :]
        ratio = np.divide(games, pair_sums, out=np.zeros_like(games), where=pair_sums > 0)
        denominator = ratio.sum(axis=-1)
        updated = np.divide(
            total_wins, denominator, out=np.zeros_like(total_wins), where=denominator > 0
        )
        # geometric-mean normalisation over models with a positive strength
        logs = np.log(np.where(updated > 0, updated, 1.0))
        positive = np.maximum((updated > 0).sum(axis=-1, keepdims=True), 1)
        updated = updated / np.exp(logs.sum(axis=-1, keepdims=True) / positive)
        change = np.max(np.abs(updated - strengths))
        strengths = updated
        if change < tol:
            break
    with np.errstate(divide="ignore"):
        logs = np.log(strengths)
    finite = np.where(np.isfinite(logs), logs, np.nan)
    return np.asarray(logs - np.nanmean(finite, axis=-1, keepdims=True), dtype=np.float64)


def elo(log_strengths: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(ELO_CENTRE + ELO_SCALE * log_strengths, dtype=np.float64)


def connected(games: NDArray[np.float64]) -> bool:
    """Whether every model is linked to every other by a chain of games (else the ratings of
    the separate parts cannot be compared)."""
    size = games.shape[0]
    reached = {0}
    frontier = [0]
    while frontier:
        i = frontier.pop()
        for j in np.flatnonzero(games[i] > 0):
            if int(j) not in reached:
                reached.add(int(j))
                frontier.append(int(j))
    return bool(len(reached) == size)


def bradley_terry(
    models: Sequence[str],
    per_sample: NDArray[np.float64],
    *,
    prior: float = DEFAULT_PRIOR,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    confidence: float = 0.95,
) -> list[Rating]:
    """Ratings with percentile bootstrap CIs, best first.

    `per_sample[s, i, j]`: model i's (half-)wins over j on sample s (1 for a win, 0.5 each for
    a tie). Raises ValueError when some models never meet, directly or through others.
    """
    per_sample = np.asarray(per_sample, dtype=np.float64)
    size = len(models)
    if per_sample.ndim != 3 or per_sample.shape[1:] != (size, size):
        raise ValueError(f"per_sample must have shape (samples, {size}, {size})")
    total = per_sample.sum(axis=0)
    games = total + total.T
    if size < 2 or not connected(games):
        raise ValueError("every model must be compared, directly or through others, with the rest")
    virtual = prior / 2 * (games > 0)  # `prior` virtual ties per pair that met
    point = elo(fit_strengths(total + virtual))
    draws = _bootstrap(per_sample, virtual, resamples, seed)
    tail = (1 - confidence) / 2 * 100
    # no interpolation: a resample where a model lost every game rates it -inf (prior 0)
    lo, hi = np.nanpercentile(draws, [tail, 100 - tail], axis=0, method="inverted_cdf")
    ratings = [
        Rating(name, float(point[i]), float(lo[i]), float(hi[i]), float(games[i].sum()))
        for i, name in enumerate(models)
    ]
    return sorted(ratings, key=lambda r: -r.rating)


def _bootstrap(
    per_sample: NDArray[np.float64], virtual: NDArray[np.float64], resamples: int, seed: int
) -> NDArray[np.float64]:
    """Elo ratings of `resamples` resamples of the samples: each resample's win matrix is the
    sum of the samples' matrices weighted by how often the resample drew them."""
    samples, size, _ = per_sample.shape
    flat = per_sample.reshape(samples, size * size)
    rng = np.random.default_rng(seed)
    out = np.empty((resamples, size))
    for start in range(0, resamples, _CHUNK):
        count = min(_CHUNK, resamples - start)
        weights = rng.multinomial(samples, np.full(samples, 1.0 / samples), size=count)
        wins = (weights @ flat).reshape(count, size, size) + virtual
        out[start : start + count] = elo(fit_strengths(wins))
    return out
