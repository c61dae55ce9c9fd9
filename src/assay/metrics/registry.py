"""Look metrics up by name."""

from __future__ import annotations

from collections.abc import Iterable

from assay.errors import UserError
from assay.extras import require
from assay.metrics.catalog import NEEDS
from assay.metrics.reference import METRICS, Metric


def get_metric(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise UserError(
            f"unknown metric {name!r}: use one of {', '.join(sorted(METRICS))}"
        ) from None


def require_metric_packages(names: Iterable[str]) -> None:
    """Say in one line which extra a metric needs, before any work starts."""
    for name in sorted(set(names)):
        if name in NEEDS:
            require(NEEDS[name], "metrics", f"the {name} metric", load=False)
