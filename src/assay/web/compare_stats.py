"""The compare page's statistics: is model A better than model B, and how sure.

The numbers are `assay compare`'s (`assay.analysis.comparison.compare_models`: the paired
difference on shared samples with its bootstrap CI, McNemar's exact test or the paired
permutation test, Holm-adjusted over every benchmark the models share), computed once per set
of runs and kept; agreement counts come from the store.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from assay.analysis.comparison import ComparisonRow, compare_models
from assay.errors import UserError
from assay.store import browse
from assay.store.db import Store
from assay.store.queries import latest_suite_runs

log = logging.getLogger(__name__)
ALPHA = 0.05


@dataclass
class PairStats:
    model_a: str
    model_b: str
    here: ComparisonRow | None  # the page's benchmark
    rows: list[ComparisonRow]  # every shared benchmark, Holm-adjusted together
    agreement: dict[str, int] = field(default_factory=dict)
    note: str = ""

    def verdict(self, row: ComparisonRow) -> str:
        r = row.result
        p = r.p_holm if r.p_holm is not None else r.p_value
        if p != p or p >= ALPHA:
            return "no significant difference"
        a_better = (r.diff > 0) == row.higher_is_better
        return f"{row.model_a if a_better else row.model_b} better"


class CompareStats:
    """Paired statistics for pairs of runs, computed after the page that asked for them is sent
    (the bootstrap over every shared benchmark takes seconds on a large store) and kept by the
    runs' ids and states: the page shows them once they are ready."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._cache: dict[tuple[Any, ...], PairStats] = {}
        self._busy: set[tuple[Any, ...]] = set()
        self._queued: list[tuple[tuple[Any, ...], str, dict[str, Any], dict[str, Any]]] = []

    def pairs(self, suite: str, runs: list[dict[str, Any]]) -> list[PairStats | None]:
        """A against each other selected run (the first run is A); None: being computed."""
        if len(runs) < 2 or not suite:
            return []
        return [self._pair(suite, runs[0], other) for other in runs[1:]]

    def _pair(self, suite: str, a: dict[str, Any], b: dict[str, Any]) -> PairStats | None:
        key = (
            suite,
            a["id"],
            a["status"],
            a["finished_at"],
            b["id"],
            b["status"],
            b["finished_at"],
        )
        with self._lock:
            found = self._cache.get(key)
            if found is not None or key in self._busy:
                return found
            self._busy.add(key)
            self._queued.append((key, suite, a, b))
        return None

    def run_queued(self) -> None:
        """Compute the pairs pages asked for: the page runs this after its response is sent,
        so the first load is not slowed by the bootstrap."""
        while True:
            with self._lock:
                if not self._queued:
                    return
                key, suite, a, b = self._queued.pop(0)
            self._fill(key, suite, a, b)

    def _fill(self, key: tuple[Any, ...], suite: str, a: dict[str, Any], b: dict[str, Any]) -> None:
        try:
            stats = self._compute(suite, a, b)
        except Exception as exc:  # the page says why instead of waiting forever
            log.exception("paired comparison failed")
            stats = PairStats(a["model"], b["model"], None, [], {}, f"the tests failed: {exc}")
        with self._lock:
            if len(self._cache) > 500:
                self._cache.clear()
            self._cache[key] = stats
            self._busy.discard(key)

    def wait(self, timeout: float = 60.0) -> None:
        """Block until no comparison is being computed (tests use this)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._busy:
                    return
            time.sleep(0.02)

    def _compute(self, suite: str, a: dict[str, Any], b: dict[str, Any]) -> PairStats:
        agreement = browse.agreement(self.store, a, b)
        if a["model"] == b["model"]:
            note = "both runs are of one model: pick runs of two models for a paired test"
            return PairStats(a["model"], b["model"], None, [], agreement, note)
        latest = {r["id"]: r for r in latest_suite_runs(self.store, suite)}
        note = ""
        if a["id"] not in latest or b["id"] not in latest:
            note = (
                f"the tests use each model's latest finished run in suite {suite!r}, "
                "which is not the run picked here"
            )
        label = latest.get(a["id"], a)["benchmark"]  # the leaderboard column of this benchmark
        try:
            rows = compare_models(self.store, suite, [a["model"], b["model"]])
        except UserError as exc:
            return PairStats(a["model"], b["model"], None, [], agreement, str(exc))
        here = next((r for r in rows if r.benchmark == label), None)
        return PairStats(a["model"], b["model"], here, rows, agreement, note)
