"""What every importer of another framework's results shares.

An import runs inside one transaction that the caller opens (`Store.begin()`): an earlier
import of the same run is deleted, the run row written with status "importing", samples,
requests and scores streamed in batches, and the run finished with assay's own summary. A
truncated or foreign file raises before commit, so nothing of it is left half-imported.

Imported runs are ordinary runs (leaderboards, win rates and `assay compare` read them like
native ones); where they came from is in `runs.spec["source"]` and in their provenance.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import sqlalchemy as sa

from assay import __version__
from assay.errors import UserError
from assay.execution.summary import summarise
from assay.store import schema
from assay.store.db import now, upsert
from assay.store.payloads import share_predictions

BATCH = 5_000  # rows per table per insert: fewer, larger statements
SAMPLE_ID_LIMIT = 200  # schema.samples.sample_id


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import an optional dependency, or say in one line which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"{what} needs {module}: pip install 'assay[{extra}]'") from None


@dataclass
class ImportedRun:
    run_id: str
    benchmark: str
    model: str
    main_metric: str = ""
    samples: int = 0
    requests: int = 0
    scores: int = 0


@dataclass
class RunWriter:
    """Streams one imported run's rows into the caller's open transaction."""

    conn: sa.Connection
    run: ImportedRun
    started: float = field(default_factory=time.monotonic)
    _samples: list[dict[str, Any]] = field(default_factory=list)
    _requests: list[dict[str, Any]] = field(default_factory=list)
    _scores: list[dict[str, Any]] = field(default_factory=list)
    _sample_ids: set[str] = field(default_factory=set)

    def begin(
        self,
        *,
        suite: str,
        source: str,
        spec: dict[str, Any],
        benchmark_version: str,
        groups: list[str] | None = None,
    ) -> None:
        """Replace any earlier import of this run and open the new one."""
        run_id = self.run.run_id
        delete_run(self.conn, run_id)
        stamp = now()
        self.conn.execute(
            schema.runs.insert().values(
                id=run_id,
                benchmark=self.run.benchmark,
                benchmark_name=self.run.benchmark.split(":")[0],
                benchmark_version=benchmark_version[:40],
                model=self.run.model,
                spec={"source": source, **spec},
                groups=groups or [],
                main_metric="",
                higher_is_better=True,
                assay_version=__version__,
                status="importing",
                created_at=stamp,
                started_at=stamp,
            )
        )
        upsert(self.conn, schema.suites, [{"name": suite, "created_at": stamp}], update=False)
        upsert(
            self.conn,
            schema.suite_runs,
            [{"suite": suite, "run_id": run_id, "added_at": stamp}],
            update=False,
        )

    def sample(self, row: dict[str, Any]) -> bool:
        """Add a sample row (run_id and idx are filled in); False if the id came already."""
        sample_id = str(row["sample_id"])
        if len(sample_id) > SAMPLE_ID_LIMIT:
            raise UserError(f"sample id {sample_id[:40]!r}... is longer than {SAMPLE_ID_LIMIT}")
        if sample_id in self._sample_ids:
            return False
        self._sample_ids.add(sample_id)
        base: dict[str, Any] = {
            "choices": None,
            "correct": None,
            "split": "test",
            "status": "ok",
            "prediction": None,
            "error": None,
            "confidence": None,
        }
        base.update(row)
        base.update(run_id=self.run.run_id, idx=self.run.samples, updated_at=now())
        self._samples.append(base)
        self.run.samples += 1
        self._maybe_flush()
        return True

    def request(self, row: dict[str, Any]) -> None:
        base: dict[str, Any] = {
            "response": None,
            "text": None,
            "error": None,
            "latency_s": None,
            "input_tokens": None,
            "output_tokens": None,
            "cached": False,
            "attempts": 1,
        }
        base.update(row)
        base.update(run_id=self.run.run_id, created_at=now())
        self._requests.append(base)
        self.run.requests += 1
        self._maybe_flush()

    def score(self, sample_id: str, metric: str, value: float) -> None:
        self._scores.append(
            {"run_id": self.run.run_id, "sample_id": sample_id, "metric": metric, "value": value}
        )
        self.run.scores += 1
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if max(len(self._samples), len(self._requests), len(self._scores)) >= BATCH:
            self.flush()

    def flush(self) -> None:
        upsert(self.conn, schema.samples, share_predictions(self._samples, self._requests))
        upsert(self.conn, schema.requests, self._requests)
        upsert(self.conn, schema.scores, self._scores)
        self._samples.clear()
        self._requests.clear()
        self._scores.clear()

    def finish(
        self,
        *,
        main_metric: str,
        higher_is_better: bool,
        provenance: dict[str, Any],
        summary_extra: dict[str, Any] | None = None,
        dataset_hash: str | None = None,
    ) -> ImportedRun:
        """Summarise the run as assay does its own and mark it finished."""
        self.flush()
        if not self.run.samples:
            raise UserError(f"{provenance.get('path', 'the log')}: no samples to import")
        run_id = self.run.run_id
        summary = summarise(self.conn, run_id, main_metric)
        summary.update(summary_extra or {})
        self.conn.execute(
            schema.runs.update()
            .where(schema.runs.c.id == run_id)
            .values(
                status="finished",
                main_metric=main_metric,
                higher_is_better=higher_is_better,
                summary=summary,
                dataset_hash=dataset_hash,
                n_samples=self.run.samples,
                finished_at=now(),
                duration_s=time.monotonic() - self.started,
            )
        )
        upsert(
            self.conn,
            schema.run_provenance,
            [
                {
                    "run_id": run_id,
                    "provenance": {"assay_version": __version__, **provenance},
                    "recorded_at": now(),
                }
            ],
        )
        self.run.main_metric = main_metric
        return self.run


def delete_run(conn: sa.Connection, run_id: str) -> None:
    """Remove an earlier import of the same run, children first."""
    for table in (schema.scores, schema.requests, schema.samples, schema.run_provenance):
        conn.execute(table.delete().where(table.c.run_id == run_id))
    conn.execute(schema.suite_runs.delete().where(schema.suite_runs.c.run_id == run_id))
    conn.execute(schema.runs.delete().where(schema.runs.c.id == run_id))


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
