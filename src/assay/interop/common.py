"""What every importer of another framework's results shares.

An import is one transaction (`importing`, see `assay.store.imports`): an earlier import of the
same run is replaced, and a truncated or foreign file raises before commit, so nothing of it is
left half-imported. Imported runs are ordinary runs (leaderboards, win rates and `assay compare`
read them like native ones); where they came from is in `runs.spec["source"]` and in their
provenance.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from assay.errors import UserError
from assay.execution.summary import summarise
from assay.store import imports
from assay.store.db import Store
from assay.store.imports import ImportedRun, ImportSession, RunWriter

__all__ = ["ImportSession", "ImportedRun", "RunWriter", "as_float", "importing", "require"]


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import an optional dependency, or say in one line which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"{what} needs {module}: pip install 'assay[{extra}]'") from None


def _summary(conn: Any, run_id: str, main_metric: str) -> dict[str, Any]:
    return summarise(conn, run_id, main_metric)


@contextmanager
def importing(store: Store) -> Iterator[ImportSession]:
    """One import transaction, whose runs are summarised as assay summarises its own."""
    with imports.importing(store, _summary) as session:
        yield session


def as_float(value: Any) -> float | None:
    """A score value as a number: numbers and booleans as they are, numeric strings parsed,
    anything else None (kept in the sample's metadata, not scored)."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        number = float(value)
        return number if number == number else None  # NaN is no score
    if isinstance(value, str):
        try:
            return as_float(float(value))
        except ValueError:
            return None
    return None
