"""Every write to the store, and the reads that decide what to write.

The runner, the importers (see `store.imports`) and the batch client call these functions and
write no SQL of their own (a test scans the package for any that do). Each function is one
transaction, idempotent per (run, sample, request), so a run killed at any moment and begun
again skips the samples already finished and redoes the rest, with nothing lost or duplicated:

- `begin_run` creates the run (insert-or-ignore, so two processes beginning it at once both
  succeed) or marks it running again; `finished_sample_ids` says which samples not to redo;
- `record_samples` writes finished samples with their requests, scores and new cache rows
  together; `forget_samples` removes samples written from data that changed under the run;
- `finish_run` summarises the run (the caller's summariser reads the same transaction) and sets
  its status; `discard_run` removes a run that failed before storing any sample;
- `cached_responses` reads the response cache, `BatchLedger` the provider batch ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.store import schema
from assay.store.browse import count_run_stats
from assay.store.db import Store, check_lengths, insert_if_absent, now, upsert
from assay.store.payloads import expand, share_predictions

# A run's summary, computed from its stored rows inside the transaction that finishes it.
Summariser = Callable[[Connection], dict[str, Any]]
# Keys per query when reading the cache (bound parameters per statement stay well under limits).
LOOKUP_BATCH = 500
# Sample ids per statement when deleting them.
DELETE_BATCH = 500


class SampleRow(TypedDict):
    run_id: str
    sample_id: str
    idx: int
    input: Any
    references: Any
    choices: Any
    correct: int | None
    metadata: Any
    split: str
    status: str  # ok | unparsed | error
    prediction: str | None
    confidence: float | None
    error: str | None
    updated_at: float


class RequestRow(TypedDict):
    run_id: str
    sample_id: str
    idx: int
    cache_key: str
    request: dict[str, Any]
    response: dict[str, Any] | None
    text: str | None
    error: dict[str, Any] | None
    latency_s: float | None
    input_tokens: int | None
    output_tokens: int | None
    cached: bool
    attempts: int
    created_at: float


class ScoreRow(TypedDict):
    run_id: str
    sample_id: str
    metric: str
    value: float


class CacheRow(TypedDict):
    key: str
    model: str
    response: dict[str, Any]
    created_at: float


@dataclass(frozen=True)
class NewRun:
    """What a run row holds from its start: identity, what it runs, and where it was asked for."""

    run_id: str
    benchmark: str  # the variant, e.g. mmlu:subject=anatomy
    benchmark_version: str
    model: str
    spec: dict[str, Any]
    groups: list[str]
    main_metric: str
    higher_is_better: bool
    suite: str
    assay_version: str
    benchmark_source: str | None = None  # the file of a file-defined benchmark
    provenance: dict[str, Any] | None = None

    @property
    def benchmark_name(self) -> str:
        return self.benchmark.split(":")[0]


def check_new_run(run: NewRun) -> None:
    """Refuse, in one line and before any write, a name longer than its column allows (the
    same on SQLite and PostgreSQL)."""
    check_lengths(
        schema.runs,
        [
            {
                "benchmark": run.benchmark,
                "benchmark_name": run.benchmark_name,
                "model": run.model,
                "main_metric": run.main_metric,
            }
        ],
    )
    check_lengths(schema.suites, [{"name": run.suite}])


def begin_run(store: Store, run: NewRun) -> bool:
    """Create the run, or mark an existing one running again; True when this call created it.
    The run joins its suite and its provenance is (re)recorded."""
    check_new_run(run)
    stamp = now()
    running = {"status": "running", "started_at": stamp, "assay_version": run.assay_version}
    t = schema.runs
    with store.begin() as conn:
        # insert-or-ignore, then update: two processes beginning the same run at once both
        # succeed (a select-then-insert raced to "UNIQUE constraint failed")
        created = insert_if_absent(
            conn,
            t,
            {
                "id": run.run_id,
                "benchmark": run.benchmark,
                "benchmark_name": run.benchmark_name,
                "benchmark_version": run.benchmark_version,
                "benchmark_source": run.benchmark_source,
                "model": run.model,
                "spec": run.spec,
                "groups": list(run.groups),
                "main_metric": run.main_metric,
                "higher_is_better": run.higher_is_better,
                "created_at": stamp,
                **running,
            },
        )
        if not created:
            conn.execute(t.update().where(t.c.id == run.run_id).values(**running))
        _join_suite(conn, run.suite, run.run_id, stamp)
        if run.provenance is not None:
            _provenance(conn, run.run_id, run.provenance, stamp)
    return created


def _join_suite(conn: Connection, suite: str, run_id: str, stamp: float) -> None:
    upsert(conn, schema.suites, [{"name": suite, "created_at": stamp}], update=False)
    upsert(
        conn,
        schema.suite_runs,
        [{"suite": suite, "run_id": run_id, "added_at": stamp}],
        update=False,
    )


def _provenance(conn: Connection, run_id: str, provenance: dict[str, Any], stamp: float) -> None:
    row = {"run_id": run_id, "provenance": provenance, "recorded_at": stamp}
    upsert(conn, schema.run_provenance, [row])


def discard_run(store: Store, run_id: str) -> None:
    """Remove a run that stored no sample (it failed before any): its suite membership and
    provenance with it."""
    with store.begin() as conn:
        for table in (schema.suite_runs, schema.run_provenance, schema.run_stats):
            conn.execute(table.delete().where(table.c.run_id == run_id))
        conn.execute(schema.runs.delete().where(schema.runs.c.id == run_id))


def finished_sample_ids(store: Store, run_id: str) -> set[str]:
    """The run's samples not to redo on resume: all but errored ones and those whose judge call
    failed, or one judge of a panel failed ("partial"): their model answer comes from the cache
    and the judges are asked again."""
    t = schema.samples
    judge_status = t.c.metadata["judge_status"].as_string()
    query = sa.select(t.c.sample_id).where(
        t.c.run_id == run_id,
        t.c.status != "error",
        sa.or_(judge_status.is_(None), judge_status.not_in(("error", "partial"))),
    )
    with store.connect() as conn:
        return {r[0] for r in conn.execute(query)}


def record_samples(
    store: Store,
    samples: Sequence[SampleRow],
    requests: Sequence[RequestRow] = (),
    scores: Sequence[ScoreRow] = (),
    cache: Sequence[CacheRow] = (),
) -> None:
    """Finished samples with their requests and scores, and the cache rows of their new
    answers, in one transaction. A sample written again replaces its rows (a resumed sample
    that errored before); a cache row already there is kept."""
    if not (samples or requests or scores or cache):
        return
    with store.begin() as conn:
        upsert(conn, schema.samples, share_predictions(samples, requests))
        upsert(conn, schema.requests, requests)
        upsert(conn, schema.scores, scores)
        upsert(conn, schema.cache, cache, update=False)
        touched = {r["run_id"] for rows in (samples, requests, scores) for r in rows}
        _forget_run_stats(conn, touched)


def forget_samples(store: Store, run_id: str, sample_ids: Sequence[str]) -> None:
    """Delete these samples of the run, with their requests and scores, in one transaction."""
    with store.begin() as conn:
        for start in range(0, len(sample_ids), DELETE_BATCH):
            part = sample_ids[start : start + DELETE_BATCH]
            for table in (schema.scores, schema.requests, schema.samples):
                conn.execute(
                    table.delete().where(table.c.run_id == run_id, table.c.sample_id.in_(part))
                )
        _forget_run_stats(conn, {run_id})


def _forget_run_stats(conn: Connection, run_ids: set[str]) -> None:
    """A run's samples changed: its counts are made again when it next stops."""
    st = schema.run_stats
    for run_id in sorted(run_ids):
        conn.execute(st.delete().where(st.c.run_id == run_id))


def finish_run(
    store: Store,
    run_id: str,
    *,
    status: str,
    summarise: Summariser,
    duration_s: float,
    dataset_hash: str | None = None,
    n_samples: int | None = None,
    failure: str | None = None,
) -> dict[str, Any]:
    """Summarise the run from its stored rows and set its status (finished, interrupted,
    waiting, failed), in one transaction; the summary. `failure` (a failed run's reason) is
    kept in the summary; a hash or count left None keeps the value stored."""
    with store.begin() as conn:
        summary = summarise(conn)
        if failure is not None:
            summary["failure"] = failure
        values: dict[str, Any] = {
            "status": status,
            "summary": summary,
            "finished_at": now(),
            "duration_s": duration_s,
        }
        if dataset_hash is not None:
            values["dataset_hash"] = dataset_hash
        if n_samples is not None:
            values["n_samples"] = n_samples
        conn.execute(schema.runs.update().where(schema.runs.c.id == run_id).values(**values))
        record_run_stats(conn, run_id)
    return summary


def record_run_stats(conn: Connection, run_id: str) -> None:
    """Count what the viewer's run page shows of a run that just stopped (its sample count,
    its main metric's histogram) in the transaction that sets its status, stamped with that
    finish so a later change to the run is never read from a stale count."""
    r, st = schema.runs, schema.run_stats
    run = conn.execute(
        sa.select(r.c.main_metric, r.c.finished_at).where(r.c.id == run_id)
    ).one_or_none()
    if run is None or run.finished_at is None:
        return
    stats = count_run_stats(conn, run_id, run.main_metric)
    row = {
        "run_id": run_id,
        "finished_at": run.finished_at,
        "metric": run.main_metric,
        "n_samples": stats.n_samples,
        "histogram": [list(b) for b in stats.histogram],
        "keyed": stats.keyed,
    }
    upsert(conn, st, [row])


def fail_run(
    store: Store, run_id: str, failure: str, *, summarise: Summariser, duration_s: float
) -> dict[str, Any]:
    """`finish_run` for a run that stopped on an error (its finished samples are kept)."""
    return finish_run(
        store,
        run_id,
        status="failed",
        summarise=summarise,
        duration_s=duration_s,
        failure=failure,
    )


# -- the response cache ---------------------------------------------------------------------


def cached_responses(store: Store, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The stored response payload of each key that has one, in a few queries. A large response
    has no cache row: the request row that stored it answers (see store/payloads.py)."""
    wanted = list(dict.fromkeys(keys))
    found: dict[str, dict[str, Any]] = {}
    c, rq = schema.cache, schema.requests
    with store.connect() as conn:
        for start in range(0, len(wanted), LOOKUP_BATCH):
            part = wanted[start : start + LOOKUP_BATCH]
            for key, response in conn.execute(
                sa.select(c.c.key, c.c.response).where(c.c.key.in_(part))
            ):
                found[key] = response
            missing = [k for k in part if k not in found]
            if not missing:
                continue
            large = sa.select(rq.c.cache_key, rq.c.response, rq.c.text).where(
                rq.c.cache_key.in_(missing), rq.c.response.is_not(None)
            )
            for key, stored, text in conn.execute(large):
                if key not in found and stored.get("text_in_column"):
                    found[key] = expand(stored, text)
    return found


def cache_responses(store: Store, rows: Sequence[CacheRow]) -> None:
    """Add responses to the cache; a key already cached keeps its response."""
    if rows:
        with store.begin() as conn:
            upsert(conn, schema.cache, rows, update=False)


def record_pairwise_judgments(
    store: Store, rows: Sequence[dict[str, Any]], cache: Sequence[CacheRow] = ()
) -> None:
    """`assay pairwise`'s verdicts (a rerun's replace the old rows) with their new cache rows,
    in one transaction."""
    with store.begin() as conn:
        upsert(conn, schema.pairwise_judgments, rows)
        upsert(conn, schema.cache, cache, update=False)


# -- the provider batch ledger --------------------------------------------------------------


@dataclass(frozen=True)
class BatchLedger:
    """The store's record of batches submitted to providers (see `assay.models.batch`)."""

    store: Store

    def running(self, key: str) -> str | None:
        """The batch submitted for `key` and not yet collected, if any."""
        t = schema.provider_batches
        with self.store.connect() as conn:
            row = conn.execute(sa.select(t.c.batch_id, t.c.state).where(t.c.key == key)).first()
        if row is None or row.state != "running":
            return None
        return str(row.batch_id)

    def record(
        self, key: str, *, provider: str, model: str, batch_id: str, state: str, n_requests: int
    ) -> None:
        """Record a batch's state (`running` once submitted, `collected` once read back)."""
        t = schema.provider_batches
        stamp = now()
        with self.store.begin() as conn:
            created = conn.execute(sa.select(t.c.created_at).where(t.c.key == key)).scalar()
            row = {
                "key": key,
                "provider": provider,
                "model": model,
                "batch_id": batch_id,
                "state": state,
                "n_requests": n_requests,
                "created_at": created or stamp,
                "updated_at": stamp,
            }
            upsert(conn, t, [row])
