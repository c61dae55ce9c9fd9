"""Paired comparisons of models in a suite, benchmark by benchmark, on the samples they share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

from assay.analysis.paired import PairedComparison, compare_paired, holm_adjust
from assay.analysis.scores import load_run_scores
from assay.analysis.stats import DEFAULT_RESAMPLES
from assay.errors import UserError
from assay.metrics.registry import higher_is_better
from assay.store.db import Store
from assay.store.queries import latest_suite_runs


@dataclass(frozen=True)
class ComparisonRow:
    benchmark: str
    metric: str
    higher_is_better: bool
    model_a: str
    model_b: str
    result: PairedComparison

    def to_dict(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "model_a": self.model_a,
            "model_b": self.model_b,
            **self.result.to_dict(),
        }


def compare_models(
    store: Store,
    suite: str,
    models: Sequence[str],
    *,
    benchmarks: Sequence[str] | None = None,
    metric: str | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> list[ComparisonRow]:
    """Every pair of `models` on every benchmark both ran; p-values Holm-adjusted together."""
    if len(models) < 2:
        raise UserError("compare needs at least two models")
    runs = latest_suite_runs(store, suite)
    if not runs:
        raise UserError(f"suite {suite!r} has no finished runs in {store.location}")
    known = {r["model"] for r in runs}
    missing = [m for m in models if m not in known]
    if missing:
        raise UserError(
            f"no runs for {', '.join(map(repr, missing))} in suite {suite!r} "
            f"(models here: {', '.join(sorted(known))})"
        )
    by_key = {(r["model"], r["benchmark"]): r for r in runs}
    names = sorted({r["benchmark"] for r in runs})
    if benchmarks:
        wanted = set(benchmarks)
        names = [b for b in names if b in wanted or b.split(":")[0] in wanted]
        if not names:
            raise UserError(f"suite {suite!r} has no benchmark {', '.join(benchmarks)}")
    rows: list[ComparisonRow] = []
    with store.connect() as conn:
        for benchmark in names:
            for a, b in combinations(models, 2):
                run_a, run_b = by_key.get((a, benchmark)), by_key.get((b, benchmark))
                if run_a is None or run_b is None:
                    continue
                name = metric or run_a["main_metric"]
                scores_a = load_run_scores(conn, run_a["id"], name)
                scores_b = load_run_scores(conn, run_b["id"], name)
                position_b = {s: i for i, s in enumerate(scores_b.sample_ids)}
                shared = [
                    (i, position_b[s]) for i, s in enumerate(scores_a.sample_ids) if s in position_b
                ]
                if not shared:
                    continue
                ia = np.fromiter((i for i, _ in shared), dtype=np.int64, count=len(shared))
                ib = np.fromiter((j for _, j in shared), dtype=np.int64, count=len(shared))
                labels = scores_a.clustered
                clusters = None if labels is None else [labels[i] for i in ia]
                result = compare_paired(
                    scores_a.values[ia],
                    scores_b.values[ib],
                    clusters=clusters,
                    resamples=resamples,
                    seed=seed,
                )
                rows.append(
                    ComparisonRow(
                        benchmark,
                        name,
                        higher_is_better(
                            name, run_a["main_metric"], bool(run_a["higher_is_better"])
                        ),
                        a,
                        b,
                        result,
                    )
                )
    if not rows:
        raise UserError(f"the models share no scored samples in suite {suite!r}")
    adjusted = holm_adjust([r.result for r in rows])
    return [
        ComparisonRow(r.benchmark, r.metric, r.higher_is_better, r.model_a, r.model_b, p)
        for r, p in zip(rows, adjusted, strict=True)
    ]
