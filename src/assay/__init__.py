"""assay: holistic, transparent and fast evaluation of language models.

The public Python API is re-exported here lazily so that `assay --help` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Sample": "assay.samples",
    "Message": "assay.samples",
    "Request": "assay.requests",
    "Response": "assay.requests",
    "benchmark": "assay.benchmarks.base",
    "Task": "assay.benchmarks.base",
    "Generate": "assay.prompting.formats",
    "MultipleChoice": "assay.prompting.formats",
    "Model": "assay.models.base",
    "Capabilities": "assay.models.base",
    "metric": "assay.metrics.metric",
    "Metric": "assay.metrics.metric",
}

if TYPE_CHECKING:
    from assay.benchmarks.base import Task, benchmark
    from assay.metrics.metric import Metric, metric
    from assay.models.base import Capabilities, Model
    from assay.prompting.formats import Generate, MultipleChoice
    from assay.requests import Request, Response
    from assay.samples import Message, Sample

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'assay' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
