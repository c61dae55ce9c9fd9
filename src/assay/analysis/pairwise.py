"""Pairwise results: each pair's wins, ties and losses over the samples judged in both orders,
and Bradley-Terry ratings across all models (see `bradley_terry`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np

from assay.analysis.agreement import cohen_kappa, krippendorff_alpha
from assay.analysis.bradley_terry import DEFAULT_PRIOR, DEFAULT_RESAMPLES, Rating, bradley_terry
from assay.metrics.metric import Unparsed
from assay.metrics.pairwise import Order, Outcome, Winner, combine
from assay.metrics.panel import PanelAggregate, aggregate


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
    split: int = 0  # a panel without a majority (not scored)
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
            "split": self.split,
            "same_family_judge": self.same_family_judge,
        }


@dataclass
class PairwiseResult:
    pairs: list[PairTally]
    ratings: list[Rating]
    samples: int  # samples with at least one scored comparison (the bootstrap's units)
    notes: list[str] = field(default_factory=list)


Status = Literal["ok", "unparsed", "error"]


def stored_verdict(status: str, winner: str | None, reason: str | None) -> Winner | Unparsed:
    """One stored order's verdict (a row of `pairwise_judgments`): its winner when read, else
    why not (a judge error's reason starts with "judge error")."""
    if status == "ok" and winner is not None:
        return cast(Winner, winner)
    return Unparsed(reason or status)


def report(
    suite: str,
    benchmark: str,
    judges: Sequence[str],
    flagged: Sequence[str],
    result: PairwiseResult,
    panel: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON `assay pairwise --format json` prints (and the viewer's download holds)."""
    data: dict[str, Any] = {
        "suite": suite,
        "benchmark": benchmark,
        "judges": list(judges),
        "same_family": list(flagged),
        "samples": result.samples,
        "pairs": [p.to_dict() for p in result.pairs],
        "ratings": [
            {"model": r.model, "rating": r.rating, "ci_lo": r.lo, "ci_hi": r.hi}
            for r in result.ratings
        ],
        "notes": result.notes,
    }
    if panel is not None:
        data["panel"] = dict(panel)
    return data


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


Key = tuple[str, str, str]  # model a, model b, sample


def panel_outcomes(
    per_judge: Mapping[str, Mapping[Key, Outcome]], how: PanelAggregate
) -> dict[Key, Outcome]:
    """One outcome per comparison from several judges' (each from both of its orders), over
    the judges that scored it. `majority`: the result more than half of them gave, else
    `split` (not scored); `mean`: model a's mean score (win 1, tie 0.5, loss 0), a winning
    when above one half, b below, a tie at one half."""
    keys = sorted({key for found in per_judge.values() for key in found})
    out: dict[Key, Outcome] = {}
    for key in keys:
        said = [found[key] for found in per_judge.values() if key in found]
        scored = [o for o in said if o.status == "ok"]
        if not scored:
            failed = any(o.status == "error" for o in said)
            reason = "no judge of the panel scored it"
            out[key] = Outcome("error" if failed else "unparsed", reason=reason)
            continue
        value = aggregate([o.score_a for o in scored], how)
        if value is None:
            out[key] = Outcome("split", reason="the panel has no majority")
            continue
        winner: Winner = "a" if value > 0.5 else ("b" if value < 0.5 else "tie")
        inconsistent = winner == "tie" and all(o.inconsistent for o in scored)
        out[key] = Outcome("ok", winner, inconsistent=inconsistent, share=value)
    return out


def panel_agreement(per_judge: Mapping[str, Mapping[Key, Outcome]]) -> dict[str, Any]:
    """The judges' agreement on the comparisons (a, b or tie, nominal): Cohen's kappa for two
    judges over the comparisons both scored, Krippendorff's alpha for more."""
    keys = sorted({key for found in per_judge.values() for key in found})
    table = [
        [
            o.winner if (o := found.get(key)) is not None and o.status == "ok" else None
            for key in keys
        ]
        for found in per_judge.values()
    ]
    if len(table) == 2:
        both = [(x, y) for x, y in zip(*table, strict=True) if x is not None and y is not None]
        value = cohen_kappa([x for x, _ in both], [y for _, y in both]) if both else math.nan
        return {"statistic": "cohen_kappa", "value": _finite(value), "n": len(both)}
    pairable = sum(1 for unit in zip(*table, strict=True) if sum(v is not None for v in unit) > 1)
    value = krippendorff_alpha(table, "nominal") if pairable else math.nan
    return {"statistic": "krippendorff_alpha", "value": _finite(value), "n": pairable}


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


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
            elif outcome.status == "split":
                pair.split += 1
            else:
                pair.unparsed += 1
            continue
        wins = per_sample.setdefault(sample, np.zeros((len(models), len(models))))
        i, j = index[a], index[b]
        wins[i, j] += outcome.score_a  # a tie (or a panel's mean) shares the win
        wins[j, i] += 1 - outcome.score_a
        if outcome.winner == "a":
            pair.wins_a += 1
        elif outcome.winner == "b":
            pair.wins_b += 1
        else:
            pair.ties += 1
            pair.inconsistent += outcome.inconsistent
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
