"""Writing runs imported from other frameworks' results (HELM, Inspect, lm-eval).

An import is one transaction (`importing`): every run written in it is committed together at
the end, or, if anything raises first (a truncated or foreign file), none is, and the store is
as it was, an earlier import of the same runs included. Within it a `RunWriter` streams one
run: an earlier import of that run is deleted, the run row written with status "importing",
samples, requests and scores added in batches, and the run finished with assay's own summary.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay import __version__
from assay.errors import UserError
from assay.store import schema
from assay.store.db import Store, check_lengths, now, upsert
from assay.store.payloads import share_predictions
from assay.store.writes import RequestRow, SampleRow, ScoreRow, record_run_stats

BATCH = 5_000  # rows per table per statement: fewer, larger statements
SAMPLE_ID_LIMIT = 200  # schema.samples.sample_id
# (connection, run id, main metric) -> the run's summary, read inside the import's transaction
ImportSummariser = Callable[[Connection, str, str], dict[str, Any]]


@dataclass
class ImportedRun:
    run_id: str
    benchmark: str
    model: str
    main_metric: str = ""
    samples: int = 0
    requests: int = 0
    scores: int = 0


class ImportSession:
    """One open import transaction; `writer` starts a run in it."""

    def __init__(self, conn: Connection, summarise: ImportSummariser) -> None:
        self._conn = conn
        self._summarise = summarise

    def writer(self, run: ImportedRun) -> RunWriter:
        return RunWriter(self._conn, run, self._summarise)


@contextmanager
def importing(store: Store, summarise: ImportSummariser) -> Iterator[ImportSession]:
    """An import transaction: committed when the block ends, rolled back if it raises."""
    with store.begin() as conn:
        yield ImportSession(conn, summarise)


@dataclass
class RunWriter:
    """Streams one imported run's rows into the session's open transaction."""

    conn: Connection
    run: ImportedRun
    summarise: ImportSummariser
    started: float = field(default_factory=time.monotonic)
    _samples: list[SampleRow] = field(default_factory=list)
    _requests: list[RequestRow] = field(default_factory=list)
    _scores: list[ScoreRow] = field(default_factory=list)
    _tokens: list[dict[str, Any]] = field(default_factory=list)
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
        run_id, benchmark = self.run.run_id, self.run.benchmark
        names = {"benchmark": benchmark, "model": self.run.model, "main_metric": ""}
        check_lengths(schema.runs, [names])
        check_lengths(schema.suites, [{"name": suite}])
        _delete_run(self.conn, run_id)
        stamp = now()
        self.conn.execute(
            schema.runs.insert().values(
                id=run_id,
                benchmark=benchmark,
                benchmark_name=benchmark.split(":")[0],
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
        """Add a sample row (run_id, idx and updated_at are filled in; choices, correct, split,
        status, prediction, error and confidence have defaults); False if the id came already."""
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
            **row,
            "sample_id": sample_id,
            "run_id": self.run.run_id,
            "idx": self.run.samples,
            "updated_at": now(),
        }
        self._samples.append(cast(SampleRow, base))
        self.run.samples += 1
        self._maybe_flush()
        return True

    def request(self, row: dict[str, Any]) -> None:
        """Add a request row (sample_id, idx, cache_key and request given; the rest default)."""
        base: dict[str, Any] = {
            "response": None,
            "text": None,
            "error": None,
            "latency_s": None,
            "input_tokens": None,
            "output_tokens": None,
            "cached": False,
            "attempts": 1,
            **row,
            "run_id": self.run.run_id,
            "created_at": now(),
        }
        self._requests.append(cast(RequestRow, base))
        self.run.requests += 1
        self._maybe_flush()

    def score(self, sample_id: str, metric: str, value: float) -> None:
        self._scores.append(
            {"run_id": self.run.run_id, "sample_id": sample_id, "metric": metric, "value": value}
        )
        self.run.scores += 1
        self._maybe_flush()

    def tokens(self, sample_id: str, idx: int, input_tokens: int, output_tokens: int) -> None:
        """Set the token counts of a request added earlier (HELM keeps them in its stats)."""
        self._tokens.append(
            {
                "k_run": self.run.run_id,
                "k_sample": sample_id,
                "k_idx": idx,
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
            }
        )
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        sizes = (len(self._samples), len(self._requests), len(self._scores), len(self._tokens))
        if max(sizes) >= BATCH:
            self.flush()

    def flush(self) -> None:
        upsert(self.conn, schema.samples, share_predictions(self._samples, self._requests))
        upsert(self.conn, schema.requests, self._requests)
        upsert(self.conn, schema.scores, self._scores)
        if self._tokens:  # after the requests they update
            rq = schema.requests
            stmt = (
                rq.update()
                .where(
                    rq.c.run_id == sa.bindparam("k_run"),
                    rq.c.sample_id == sa.bindparam("k_sample"),
                    rq.c.idx == sa.bindparam("k_idx"),
                )
                .values(
                    input_tokens=sa.bindparam("input_tokens"),
                    output_tokens=sa.bindparam("output_tokens"),
                )
            )
            self.conn.execute(stmt, self._tokens)
        self._samples.clear()
        self._requests.clear()
        self._scores.clear()
        self._tokens.clear()

    def discard(self) -> None:
        """Drop this run from the import: what it wrote so far and what it still holds (an
        importer skipping a run it has begun, e.g. one with no per-sample scores)."""
        for rows in (self._samples, self._requests, self._scores, self._tokens):
            rows.clear()
        self._sample_ids.clear()
        _delete_run(self.conn, self.run.run_id)

    def finish(
        self,
        *,
        main_metric: str,
        higher_is_better: bool,
        provenance: dict[str, Any],
        summary_extra: dict[str, Any] | None = None,
        dataset_hash: str | None = None,
        allow_empty: bool = False,
    ) -> ImportedRun:
        """Summarise the run as assay does its own and mark it finished. A run without samples
        is refused unless `allow_empty`."""
        self.flush()
        if not self.run.samples and not allow_empty:
            raise UserError(f"{provenance.get('path', 'the log')}: no samples to import")
        check_lengths(schema.runs, [{"main_metric": main_metric}])
        run_id = self.run.run_id
        summary = self.summarise(self.conn, run_id, main_metric)
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
        kept = {"assay_version": __version__, **provenance}
        row = {"run_id": run_id, "provenance": kept, "recorded_at": now()}
        upsert(self.conn, schema.run_provenance, [row])
        record_run_stats(self.conn, run_id)
        self.run.main_metric = main_metric
        return self.run


def _delete_run(conn: Connection, run_id: str) -> None:
    """Remove an earlier import of the same run, children first."""
    for table in (
        schema.scores,
        schema.requests,
        schema.samples,
        schema.run_provenance,
        schema.run_stats,
    ):
        conn.execute(table.delete().where(table.c.run_id == run_id))
    conn.execute(schema.suite_runs.delete().where(schema.suite_runs.c.run_id == run_id))
    conn.execute(schema.runs.delete().where(schema.runs.c.id == run_id))
