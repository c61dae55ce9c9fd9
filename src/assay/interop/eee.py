"""What assay's Every Eval Ever export and import share: the package, and how assay's names map.

Every Eval Ever (EEE, the `every-eval-ever` package) is a shared results schema: per evaluation,
an aggregate JSON (`EvaluationLog`: source, library, model, one result per metric with its
uncertainty) and beside it a JSONL of instance-level rows (`InstanceLevelEvaluationLog`: one per
sample per result), filed as `data/<collection>/<developer>/<model>/<uuid>.json` and
`<uuid>_samples.jsonl`. Documents are built and read with the package's own pydantic models and
path helpers, never re-implemented here.

The package declares Python >= 3.12 and a heavy dependency list (duckdb, matplotlib, seaborn,
rich < 15, huggingface-hub < 2) for its converters and statistics; the schema models and path
helpers assay uses need only pydantic (core) and requests. On Python 3.11 it is installed
without its declared dependencies (see `INSTALL`).
"""

from __future__ import annotations

import importlib
import re
import sys
import uuid
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import orjson

from assay.errors import UserError

SOURCE = "eee"
LIBRARY = "assay"  # eval_library.name of documents assay writes
SAMPLE_KEY = "assay_sample"  # instance metadata: the sample row as assay stores it (JSON)
REQUESTS_KEY = "assay_requests"  # instance metadata: the sample's raw requests and responses
SAMPLES_SUFFIX = "_samples.jsonl"
_UNSAFE = re.compile(r'[<>:"\\|?*\x00-\x1f\s]+')

if sys.version_info >= (3, 12):
    INSTALL = "pip install 'assay[eee]'"
else:  # the package declares 3.12; its schema models run on 3.11 without its extra deps
    INSTALL = (
        "pip install 'assay[eee]' && pip install --no-deps --ignore-requires-python "
        "every-eval-ever==0.3.0"
    )


@dataclass(frozen=True)
class Eee:
    """The package's modules assay uses."""

    types: ModuleType  # every_eval_ever.eval_types: EvaluationLog and its parts
    instances: ModuleType  # every_eval_ever.instance_level_types: InstanceLevelEvaluationLog
    io: ModuleType  # every_eval_ever.helpers.io: the datastore layout
    schema_version: str


def load(what: str) -> Eee:
    """The package, or one line saying how to install it."""
    try:
        types = importlib.import_module("every_eval_ever.eval_types")
        instances = importlib.import_module("every_eval_ever.instance_level_types")
        io = importlib.import_module("every_eval_ever.helpers.io")
        schema = importlib.import_module("every_eval_ever.schema")
    except ImportError as exc:
        missing = exc.name or "every_eval_ever"
        raise UserError(
            f"{what} needs the every-eval-ever package ({missing} is not installed): {INSTALL}"
        ) from None
    return Eee(types, instances, io, str(schema.get_schema_version()))


def model_id(model: str) -> str:
    """assay's model label as an EEE model id (`developer/name`, portable path parts):
    `openai-compatible/q@http://127.0.0.1:8080/v1` -> `openai-compatible/q@http_/127.0.0.1_8080/v1`.
    The label itself travels as model_info.name and `assay_model`."""
    parts = [_UNSAFE.sub("_", p).rstrip(". ") for p in model.split("/")]
    parts = [p if p not in ("", ".", "..", "data") else f"_{p}" for p in parts if p.strip("_")]
    if len(parts) < 2:
        parts = ["assay", *(parts or ["model"])]
    return "/".join(parts)


def file_uuid(*identity: Any) -> str:
    """A stable name for a run's files (a UUID4 as the datastore asks, derived from the run):
    exporting the same run again rewrites the same two files instead of adding copies."""
    from assay.hashing import content_hash

    return str(uuid.UUID(hex=content_hash(list(identity), 32), version=4))


def json_text(value: Any) -> Any:
    """The JSON a text field holds (EEE keeps assay's samples and specs as strings), or None
    for anything else or broken JSON."""
    if not isinstance(value, str):
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
