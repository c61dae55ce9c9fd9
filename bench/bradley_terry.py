"""Bradley-Terry ratings at scale: models x samples of pairwise outcomes (every pair judged on
every sample), fitted once and bootstrapped. Prints wall time, peak memory and how far the
fitted Elo ratings are from the strengths the outcomes were drawn from.

    python bench/bradley_terry.py [--models 12] [--samples 2000] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from assay.analysis.bradley_terry import ELO_SCALE, bradley_terry


def synthetic(models: int, samples: int, seed: int, ties: float) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes drawn from Bradley-Terry strengths; a `ties` share of comparisons is a tie
    whatever the strengths (which pulls fitted ratings together: ties count half a win)."""
    rng = np.random.default_rng(seed)
    truth = np.linspace(0.0, 2.5, models)
    i, j = np.triu_indices(models, 1)
    p_i = 1 / (1 + np.exp(truth[j] - truth[i]))
    draws = rng.random((samples, len(i)))
    tie = draws > 1 - ties
    i_wins = (draws < (1 - ties) * p_i) & ~tie
    per_sample = np.zeros((samples, models, models))
    s = np.arange(samples)[:, None]
    per_sample[s, i, j] += np.where(tie, 0.5, i_wins.astype(float))
    per_sample[s, j, i] += np.where(tie, 0.5, (~i_wins & ~tie).astype(float))
    return truth, per_sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=12)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--ties", type=float, default=0.0, help="share of tied comparisons")
    args = parser.parse_args()
    truth, per_sample = synthetic(args.models, args.samples, seed=0, ties=args.ties)
    started = time.perf_counter()
    ratings = bradley_terry(
        [f"m{k}" for k in range(args.models)], per_sample, resamples=args.resamples, seed=0
    )
    wall = time.perf_counter() - started
    expected = 1000 + ELO_SCALE * (truth - truth.mean())
    errors = [abs(r.rating - expected[int(r.model[1:])]) for r in ratings]
    covered = sum(r.lo <= expected[int(r.model[1:])] <= r.hi for r in ratings)
    pairs = args.models * (args.models - 1) // 2
    print(
        f"{args.models} models, {args.samples} samples ({pairs * args.samples:,} comparisons), "
        f"{args.resamples} resamples: {wall:.2f} s, peak RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    ordered = [r.model for r in ratings] == [f"m{k}" for k in reversed(range(args.models))]
    print(
        f"ordering recovered: {ordered}; max |rating - truth| {max(errors):.1f} Elo; truth "
        f"inside the 95% CI for {covered}/{args.models} models"
    )


if __name__ == "__main__":
    main()
