"""Look metrics up by name: every built-in as a `Metric` object, plus the ones a user
registers, and the numbers run-level hooks report."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from assay.errors import UserError
from assay.extras import require
from assay.metrics import reference
from assay.metrics.bias import BBQ_RUN_METRICS
from assay.metrics.calibration import CALIBRATION_RUN_METRICS
from assay.metrics.ifeval import IFEVAL_RUN_METRICS
from assay.metrics.judge import JUDGED_METRICS
from assay.metrics.metric import Metric, Values
from assay.metrics.translation import TRANSLATION_RUN_METRICS
from assay.plugins import defined_at, same_definition

# What the plain functions of `reference` score: a match is 0 or 1, F1 a share. Declared here,
# beside the lookup, so reference.py keeps only the definitions.
_REFERENCE_VALUES: dict[str, Values] = {
    "exact_match": Values.BINARY,
    "quasi_exact_match": Values.BINARY,
    "prefix_exact_match": Values.BINARY,
    "quasi_prefix_exact_match": Values.BINARY,
    "final_number_match": Values.BINARY,
    "f1": Values.UNIT,
}


def _as_metric(name: str, fn: reference.Metric) -> Metric:
    if isinstance(fn, Metric):
        return fn
    # a function added to reference.METRICS without a declaration: higher-is-better with
    # values unknown (the registry test asks for a declaration)
    values = _REFERENCE_VALUES.get(name, Values.UNBOUNDED)
    return Metric(name, fn=fn, values=values, explain=getattr(fn, "explain", None))


METRICS: dict[str, Metric] = {name: _as_metric(name, fn) for name, fn in reference.METRICS.items()}
METRICS.update((m.name, m) for m in JUDGED_METRICS)  # scored by a judge model (--judge)

# Numbers the run-level hooks report (summary["run_metrics"]), described the same way.
RUN_LEVEL: dict[str, Metric] = {
    m.name: m
    for m in (
        *BBQ_RUN_METRICS,
        *CALIBRATION_RUN_METRICS,
        *IFEVAL_RUN_METRICS,
        *TRANSLATION_RUN_METRICS,
    )
}


def register(metric: Metric) -> Metric:
    """Make a user's metric usable by name in benchmarks (Python or YAML)."""
    taken = METRICS.get(metric.name) or RUN_LEVEL.get(metric.name)
    if taken is not None and taken != metric:
        same = taken.fn is not None and metric.fn is not None
        if not (same and same_definition(taken.fn, metric.fn)):
            where = "" if metric.fn is None else f" ({defined_at(metric.fn)})"
            raise UserError(
                f"metric name {metric.name!r} is taken{where}: give the metric another name"
            )
    if metric.aggregation == "run":
        RUN_LEVEL[metric.name] = metric
    else:
        METRICS[metric.name] = metric
    return metric


def unknown_metric(name: str) -> str:
    """One line for a name that is no metric, with the closest ones."""
    close = difflib.get_close_matches(name, METRICS, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return f"unknown metric {name!r}: {hint}known metrics: {', '.join(sorted(METRICS))}"


def get_metric(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise UserError(unknown_metric(name)) from None


def is_judged(name: str) -> bool:
    """Whether the metric named `name` is scored by a judge model."""
    metric = METRICS.get(name)
    return metric is not None and metric.judged


def describe(name: str) -> Metric | None:
    """The metric behind a stored score or run-level name: a per-sample metric, its
    perturbation variants (`exact_match_worst`, `exact_match_typos`), or a run-level number."""
    if name in METRICS:
        return METRICS[name]
    if name in RUN_LEVEL:
        return RUN_LEVEL[name]
    base = max((m for m in METRICS if name.startswith(f"{m}_")), key=len, default=None)
    return None if base is None else METRICS[base]


def require_metric_packages(names: Iterable[str]) -> None:
    """Say in one line which extra a metric needs, before any work starts."""
    for name in sorted(set(names)):
        needs = METRICS[name].needs if name in METRICS else None
        if needs is not None:
            require(needs, "metrics", f"the {name} metric", load=False)


def higher_is_better(name: str, main_metric: str, main_higher: bool) -> bool:
    """Which way is better for a stored score: the run's own flag (`runs.higher_is_better`) for
    its main metric and that metric's variants (`_worst`, per perturbation), else the metric's
    declared direction; True for a name that declares none."""
    if name == main_metric or name.startswith(f"{main_metric}_"):
        return main_higher
    described = describe(name)
    declared = None if described is None else described.higher_is_better
    return True if declared is None else declared
