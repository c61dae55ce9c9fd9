"""How far annotators agree with each other and with each judge, per benchmark and rubric.

Annotators are compared on the items they both rated; a judge is compared on the items it gave
a verdict for (its stored request, read with its prompt's strict parser; an unparsed verdict or
a judge error is missing, never a vote). Two raters: Cohen's kappa (quadratically weighted on
the 1-5 and 1-10 scales, where a 4 against a 5 is a near miss) and the share of identical
ratings. All annotators together: Krippendorff's alpha (ordinal for the 1-5 and 1-10 scales,
nominal otherwise), which allows missing ratings.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from assay.analysis.agreement import KappaWeights, cohen_kappa, krippendorff_alpha
from assay.annotation.rubrics import PAIRWISE, RUBRICS, Rubric, judge_prompt_of
from assay.metrics.metric import Unparsed
from assay.metrics.pairwise import Winner, combine
from assay.store import ratings as store_ratings
from assay.store.db import Store

JUDGE_PREFIX = "judge:"  # an annotator's name cannot hold ':'; a judge's rater name does


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    n: int  # items both rated
    agreement: float  # share of those with the same rating
    kappa: float  # NaN where undefined (every rating the same)
    weights: str = "none"  # "quadratic" on ordinal scales


@dataclass
class Group:
    benchmark: str
    rubric: str
    kind: str
    items: int
    models: str = ""  # pairwise: "A vs B" (a rating of 1 means A's response is better)
    ratings: dict[str, int] = field(default_factory=dict)  # rater: items rated
    alpha: float | None = None  # annotators only; None with fewer than two
    level: str = "nominal"
    pairs: list[Pair] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        def number(x: float | None) -> float | None:
            return None if x is None or math.isnan(x) else round(x, 6)

        return {
            "benchmark": self.benchmark,
            "rubric": self.rubric,
            "kind": self.kind,
            "models": self.models,
            "items": self.items,
            "ratings": self.ratings,
            "alpha": number(self.alpha),
            "alpha_level": self.level,
            "pairs": [
                {
                    "a": p.a,
                    "b": p.b,
                    "n": p.n,
                    "agreement": number(p.agreement),
                    "kappa": number(p.kappa),
                    "kappa_weights": p.weights,
                }
                for p in self.pairs
            ],
        }


def annotation_agreement(store: Store, benchmarks: Iterable[str] = ()) -> list[Group]:
    """One group per benchmark and rubric (and, pairwise, per pair of models) with ratings."""
    if not store_ratings.available(store):
        return []
    named = set(benchmarks)
    items = [
        i
        for i in store_ratings.rated_items(store)
        if not named or i["benchmark"] in named or i["benchmark"].split(":", 1)[0] in named
    ]
    values: dict[str, dict[str, float]] = {}  # rater -> item -> value
    for rating in store_ratings.ratings_of(store, [i["id"] for i in items]):
        values.setdefault(rating["annotator"], {})[rating["item_id"]] = rating["value"]
    for rater, found in judge_values(store, items).items():
        values[rater] = found
    groups: dict[tuple[str, str, str, str], list[str]] = {}
    for item in items:
        pair = f"{item['model']} vs {item['other_model']}" if item["kind"] == "pairwise" else ""
        key = (item["benchmark"], item["rubric"], item["kind"], pair)
        groups.setdefault(key, []).append(item["id"])
    return [_group(key, ids, values) for key, ids in groups.items()]


def judge_values(store: Store, items: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """judge:<model> -> item -> the judge's verdict on the item's rubric: for rating items whose
    rubric reads a judge prompt, and for pairwise items `assay pairwise` judged."""
    out = _rating_judges(store, items)
    for rater, found in _pairwise_judges(store, items).items():
        out.setdefault(rater, {}).update(found)
    return out


_WON = {"a": 1.0, "b": 0.0, "tie": 0.5}  # as annotation ratings store a pairwise answer


def _pairwise_judges(store: Store, items: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """A pairwise judge's outcome per item from its two orders (a flip is a tie, an unread
    order no vote), as `assay pairwise` scores it."""
    by_key = {
        (i["run_id"], i["other_run_id"], i["sample_id"]): i["id"]
        for i in items
        if i["kind"] == "pairwise"
    }
    if not by_key:
        return {}
    orders: dict[tuple[str, str], dict[str, Winner | Unparsed]] = {}
    for row in store_ratings.pairwise_verdicts(store, by_key):
        item_id = by_key[(row["run_a"], row["run_b"], row["sample_id"])]
        if row["status"] == "ok" and row["winner"] in _WON:
            verdict: Winner | Unparsed = row["winner"]
        else:
            reason = row["reason"] or row["status"]
            prefix = "judge error: " if row["status"] == "error" else ""
            verdict = Unparsed(prefix + reason)
        orders.setdefault((row["judge"], item_id), {})[row["order"]] = verdict
    missing = Unparsed("no verdict for this order")
    out: dict[str, dict[str, float]] = {}
    for (judge, item_id), found in orders.items():
        outcome = combine(found.get("ab", missing), found.get("ba", missing))
        if outcome.status == "ok" and outcome.winner is not None:
            out.setdefault(JUDGE_PREFIX + judge, {})[item_id] = _WON[outcome.winner]
    return out


def _rating_judges(store: Store, items: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    by_key: dict[tuple[str, str], list[tuple[str, Rubric]]] = {}
    for item in items:
        rubric = RUBRICS.get(item["rubric"])
        if item["kind"] == "rating" and rubric is not None and rubric.verdicts:
            by_key.setdefault((item["run_id"], item["sample_id"]), []).append((item["id"], rubric))
    out: dict[str, dict[str, float]] = {}
    for request in store_ratings.judge_requests(store, by_key):
        prompt = judge_prompt_of(request["metrics"])
        if prompt is None or request["error"] is not None or request["text"] is None:
            continue
        for item_id, rubric in by_key.get((request["run_id"], request["sample_id"]), []):
            read = rubric.verdicts.get(prompt.name)
            if read is None:
                continue
            verdict = prompt.parse(request["text"])
            if not isinstance(verdict, Unparsed):
                out.setdefault(JUDGE_PREFIX + request["judge"], {}).setdefault(
                    item_id, read(verdict)
                )
    return out


def _group(
    key: tuple[str, str, str, str], ids: list[str], values: dict[str, dict[str, float]]
) -> Group:
    benchmark, rubric_name, kind, pair = key
    rubric = PAIRWISE if kind == "pairwise" else RUBRICS.get(rubric_name)
    level = rubric.level if rubric is not None else "nominal"
    weights: KappaWeights = "none" if level == "nominal" else "quadratic"
    members = set(ids)
    rated = {r: {i: v for i, v in found.items() if i in members} for r, found in values.items()}
    rated = {r: found for r, found in rated.items() if found}
    people = sorted(r for r in rated if not r.startswith(JUDGE_PREFIX))
    judges = sorted(r for r in rated if r.startswith(JUDGE_PREFIX))
    group = Group(benchmark, rubric_name, kind, len(ids), pair, level=level)
    group.ratings = {r: len(rated[r]) for r in people + judges}
    candidates = list(combinations(people, 2)) + [(p, j) for p in people for j in judges]
    for a, b in candidates:
        shared = sorted(set(rated[a]) & set(rated[b]))
        if not shared:
            continue
        left, right = [rated[a][i] for i in shared], [rated[b][i] for i in shared]
        same = sum(1 for x, y in zip(left, right, strict=True) if x == y) / len(shared)
        kappa = cohen_kappa(left, right, weights)
        group.pairs.append(Pair(a, b, len(shared), same, kappa, weights))
    if len(people) >= 2:
        matrix: list[list[float | str | None]] = [[rated[p].get(i) for i in ids] for p in people]
        try:
            group.alpha = krippendorff_alpha(matrix, level=level)
        except ValueError:  # no item rated by two annotators
            group.alpha = None
    return group
