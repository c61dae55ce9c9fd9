"""Pairwise results: each pair's wins, ties and losses over the samples judged in both orders,
and Bradley-Terry ratings across all models (see `bradley_terry`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from assay.analysis.bradley_terry import DEFAULT_PRIOR, DEFAULT_RESAMPLES, Rating, bradley_terry
from assay.metrics.metric import Unparsed
from assay.metrics.pairwise import Order, Outcome, Winner, combine


@dataclass
class PairTally:
    """One pair's record: `wins_a` and `wins_b` where both orders agreed, `ties` (both said
    tie, or the orders disagreed: `inconsistent`), and the comparisons not scored."""

    model_a: str
    model_b: str
    wins_a: int = 0
    wins_b: int = 0
    ties: int = 0
    inconsistent: int = 0
    unparsed: int = 0
    errors: int = 0
    same_family_judge: bool = False

    @property
    def n(self) -> int:
        """Comparisons scored (the unparsed and errored ones are not)."""
        return self.wins_a + self.wins_b + self.ties

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_a": self.model_a,
            "model_b": self.model_b,
            "wins_a": self.wins_a,
            "ties": self.ties,
            "wins_b": self.wins_b,
            "n": self.n,
            "inconsistent": self.inconsistent,
            "unparsed": self.unparsed,
            "errors": self.errors,
            "same_family_judge": self.same_family_judge,
        }


@dataclass
class PairwiseResult:
    pairs: list[PairTally]
    ratings: list[Rating]
    samples: int  # samples with at least one scored comparison (the bootstrap's units)
    notes: list[str] = field(default_factory=list)


Status = Literal["ok", "unparsed", "error"]


def outcomes(
    judgments: Iterable[tuple[str, str, str, Order, Winner | Unparsed]],
) -> dict[tuple[str, str, str], Outcome]:
    """Each (model a, model b, sample)'s outcome from its two orders' verdicts; a comparison
    with an order missing is unparsed."""
    orders: dict[tuple[str, str, str], dict[Order, Winner | Unparsed]] = {}
    for a, b, sample, order, verdict in judgments:
        orders.setdefault((a, b, sample), {})[order] = verdict
    missing = Unparsed("no verdict for this order")
    return {
        key: combine(found.get("ab", missing), found.get("ba", missing))
        for key, found in orders.items()
    }


def tally(
    models: Sequence[str],
    results: dict[tuple[str, str, str], Outcome],
    *,
    same_family: Iterable[str] = (),
    prior: float = DEFAULT_PRIOR,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> PairwiseResult:
    """Win/tie/loss per pair and Bradley-Terry ratings with bootstrap CIs over samples.
    `same_family`: the models the judge shares a family with (their pairs are flagged)."""
    flagged = set(same_family)
    index = {m: i for i, m in enumerate(models)}
    pairs: dict[tuple[str, str], PairTally] = {}
    per_sample: dict[str, np.ndarray[Any, np.dtype[np.float64]]] = {}
    for (a, b, sample), outcome in sorted(results.items()):
        pair = pairs.setdefault((a, b), PairTally(a, b, same_family_judge=bool(flagged & {a, b})))
        if outcome.status != "ok":
            if outcome.status == "error":
                pair.errors += 1
            else:
                pair.unparsed += 1
            continue
        wins = per_sample.setdefault(sample, np.zeros((len(models), len(models))))
        i, j = index[a], index[b]
        if outcome.winner == "a":
            pair.wins_a += 1
            wins[i, j] += 1
        elif outcome.winner == "b":
            pair.wins_b += 1
            wins[j, i] += 1
        else:
            pair.ties += 1
            pair.inconsistent += outcome.inconsistent
            wins[i, j] += 0.5
            wins[j, i] += 0.5
    notes: list[str] = []
    ratings: list[Rating] = []
    if per_sample:
        try:
            ratings = bradley_terry(
                list(models),
                np.stack(list(per_sample.values())),
                prior=prior,
                resamples=resamples,
                seed=seed,
            )
        except ValueError as exc:
            notes.append(f"no Bradley-Terry ratings: {exc}")
    else:
        notes.append("no Bradley-Terry ratings: no comparison was scored")
    return PairwiseResult(list(pairs.values()), ratings, len(per_sample), notes)
