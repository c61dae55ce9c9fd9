"""Which responses an annotator rates, in what order, and how a pairwise item is blinded.

An item is one model's response to one sample rated on a rubric, or two models' responses to
the same sample compared. Its id hashes what it is (kind, rubric, runs, sample), so the browser,
exported files and imports name the same item alike, whatever selection produced it. A pairwise
item's left/right order is drawn from the seed and the item's id and recorded with the item when
it is first registered; the stored rating is by run, never by side.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assay.annotation.rubrics import PAIRWISE, Rubric, rubric_for
from assay.errors import UserError
from assay.hashing import content_hash
from assay.store import ratings as store_ratings
from assay.store.db import Store
from assay.store.queries import default_suite, latest_suite_runs

ANNOTATOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}")


def check_annotator(name: str) -> str:
    if not ANNOTATOR.fullmatch(name):
        raise UserError(
            f"annotator {name!r} is not a token: use 1-100 letters, digits, '_', '.', '@' or "
            "'-', starting with a letter or digit (e.g. --annotator alice)"
        )
    return name


def by_run(value: float, kind: str, run_id: str, left_run_id: str | None) -> float:
    """A pairwise answer by side (1.0 left better, 0.0 right, 0.5 tie) as stored, by run (1.0:
    `run_id`'s response better, 0.0: `other_run_id`'s); other ratings are stored as given. Its
    own inverse."""
    if kind != "pairwise" or left_run_id == run_id:
        return value
    return 1.0 - value


@dataclass(frozen=True)
class Item:
    id: str
    kind: str  # rating | pairwise
    rubric: Rubric
    benchmark: str
    sample_id: str
    run_id: str
    other_run_id: str | None = None
    left_run_id: str | None = None
    seed: int | None = None

    @property
    def pairwise(self) -> bool:
        return self.kind == "pairwise"

    def shown_runs(self) -> list[str]:
        """The runs whose responses the page shows, in page order (left first)."""
        if not self.pairwise:
            return [self.run_id]
        assert self.other_run_id is not None
        if self.left_run_id == self.other_run_id:
            return [self.other_run_id, self.run_id]
        return [self.run_id, self.other_run_id]

    def stored(self, value: float) -> float:
        """The rating to store for an answer on the page (see `by_run`)."""
        return by_run(value, self.kind, self.run_id, self.left_run_id)

    def shown(self, value: float) -> float:
        """A stored rating as the page's answer (the inverse of `stored`)."""
        return self.stored(value)

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "rubric": self.rubric.name,
            "run_id": self.run_id,
            "other_run_id": self.other_run_id,
            "sample_id": self.sample_id,
            "left_run_id": self.left_run_id,
            "seed": self.seed,
        }


def item_id(kind: str, rubric: str, runs: Sequence[str], sample_id: str) -> str:
    return content_hash([kind, rubric, list(runs), sample_id], 24)


def left_first(seed: int, identity: str) -> bool:
    """Whether the first model named is shown left: a fair coin per item, drawn from the seed."""
    return int(content_hash(["pairwise-order", seed, identity], 16), 16) % 2 == 0


@dataclass(frozen=True)
class Selection:
    """What to rate: the newest runs of a suite's benchmark(s) for the models named (all when
    none), or one pair of models compared; at most `limit` samples per run, in run order."""

    benchmarks: Sequence[str] = ()
    models: Sequence[str] = ()
    pairwise: str | None = None  # "A,B"
    rubric: str | None = None
    suite: str | None = None
    seed: int = 0
    limit: int | None = None


def parse_pair(value: str, known: Sequence[str] = ()) -> tuple[str, str]:
    """`--pairwise A,B`: two different model labels. A label may hold commas itself (model
    settings): the split that names two `known` models wins."""
    cuts = [i for i, c in enumerate(value) if c == ","]
    splits = [(value[:i].strip(), value[i + 1 :].strip()) for i in cuts]
    for a, b in splits:
        if a in known and b in known and a != b:
            return a, b
    if len(splits) != 1 or not all(splits[0]) or splits[0][0] == splits[0][1]:
        raise UserError(
            f"--pairwise {value!r}: give two different models separated by a comma, e.g. "
            "--pairwise mock/oracle,mock/constant"
        )
    return splits[0]


def _matches(run: dict[str, Any], names: Sequence[str]) -> bool:
    if not names:
        return True
    variant = str(run["variant"])
    return any(n in (run["benchmark"], variant, variant.split(":", 1)[0]) for n in names)


def select(store: Store, selection: Selection) -> list[Item]:
    """The items, in the order an annotator meets them; each registered in the store."""
    suite = selection.suite or default_suite(store, prefer="default")
    if suite is None:
        raise UserError(f"no results in {store.location}: run `assay run` first")
    runs = [r for r in latest_suite_runs(store, suite) if _matches(r, selection.benchmarks)]
    if not runs:
        named = ", ".join(selection.benchmarks) or "any benchmark"
        raise UserError(f"suite {suite!r} has no finished run of {named}: check --benchmark")
    if selection.pairwise is not None:
        pair = parse_pair(selection.pairwise, sorted({r["model"] for r in runs}))
        items = _pairwise(store, runs, selection, *pair)
    else:
        items = _ratings(store, runs, selection)
    if not items:
        raise UserError("those runs have no answered samples to rate")
    store_ratings.register_items(store, [i.row() for i in items])
    recorded = store_ratings.items_by_id(store, [i.id for i in items if i.pairwise])
    return [_as_recorded(i, recorded.get(i.id)) for i in items]


def _samples(store: Store, run_id: str, limit: int | None) -> list[str]:
    found = store_ratings.answered_samples(store, run_id)
    return found if limit is None else found[:limit]


def _ratings(store: Store, runs: list[dict[str, Any]], selection: Selection) -> list[Item]:
    models = set(selection.models)
    unknown = models - {r["model"] for r in runs}
    if unknown:
        raise UserError(
            f"no run of model {sorted(unknown)[0]!r} in those benchmarks: pick from "
            f"{', '.join(sorted({r['model'] for r in runs}))}"
        )
    items = []
    for run in sorted(runs, key=lambda r: (r["benchmark"], r["model"])):
        if models and run["model"] not in models:
            continue
        measured = ((run.get("summary") or {}).get("metrics") or {}).keys()
        rubric = rubric_for(selection.rubric, run["main_metric"], sorted(measured))
        for sample_id in _samples(store, run["id"], selection.limit):
            identity = item_id("rating", rubric.name, [run["id"]], sample_id)
            items.append(Item(identity, "rating", rubric, run["benchmark"], sample_id, run["id"]))
    return items


def _pairwise(
    store: Store, runs: list[dict[str, Any]], selection: Selection, a: str, b: str
) -> list[Item]:
    if selection.rubric not in (None, PAIRWISE.name):
        raise UserError("--pairwise compares two responses: leave out --rubric")
    by_model: dict[str, dict[str, dict[str, Any]]] = {}
    for run in runs:
        by_model.setdefault(run["model"], {})[run["benchmark"]] = run
    for model in (a, b):
        if model not in by_model:
            raise UserError(
                f"--pairwise: no run of model {model!r} in those benchmarks: pick from "
                f"{', '.join(sorted(by_model))}"
            )
    shared = sorted(set(by_model[a]) & set(by_model[b]))
    if not shared:
        raise UserError(f"--pairwise: {a!r} and {b!r} have no benchmark in common")
    items = []
    for benchmark in shared:
        # the pair in a fixed order, so --pairwise A,B and B,A name the same items
        run_a, run_b = sorted((by_model[a][benchmark]["id"], by_model[b][benchmark]["id"]))
        answered_b = set(store_ratings.answered_samples(store, run_b))
        both = [s for s in store_ratings.answered_samples(store, run_a) if s in answered_b]
        for sample_id in both[: selection.limit] if selection.limit is not None else both:
            identity = item_id("pairwise", PAIRWISE.name, [run_a, run_b], sample_id)
            left = run_a if left_first(selection.seed, identity) else run_b
            items.append(
                Item(
                    identity,
                    "pairwise",
                    PAIRWISE,
                    benchmark,
                    sample_id,
                    run_a,
                    run_b,
                    left,
                    selection.seed,
                )
            )
    return items


def _as_recorded(item: Item, row: dict[str, Any] | None) -> Item:
    """A pairwise item as first registered: the order its earlier annotators saw."""
    if row is None or not item.pairwise:
        return item
    return Item(
        item.id,
        item.kind,
        item.rubric,
        item.benchmark,
        item.sample_id,
        item.run_id,
        item.other_run_id,
        row["left_run_id"],
        row["seed"],
    )


def first_unrated(items: Sequence[Item], rated: set[str]) -> int | None:
    """The position of the first item not in `rated`; None when every item is rated."""
    return next((n for n, item in enumerate(items) if item.id not in rated), None)
