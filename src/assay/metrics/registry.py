"""Look metrics up by name."""

from __future__ import annotations

from assay.errors import UserError
from assay.metrics.reference import METRICS, Metric


def get_metric(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise UserError(
            f"unknown metric {name!r}: use one of {', '.join(sorted(METRICS))}"
        ) from None
