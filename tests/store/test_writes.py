"""The store's write API (store/writes.py, store/imports.py) on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assay.errors import UserError
from assay.store import migrate, schema, writes
from assay.store.copy import copy_store
from assay.store.db import Store, _with_driver
from assay.store.imports import ImportedRun, importing
from assay.store.payloads import LARGE, compact

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.slow)]


def _url(request: pytest.FixtureRequest, tmp_path: Path, name: str = "w") -> str:
    if request.param == "postgres":
        server = request.getfixturevalue("postgres_server")
        url: str = server.create_database(f"{name}_{uuid.uuid4().hex[:12]}")
        return url
    return f"sqlite:///{tmp_path / f'{name}.db'}"


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _url(request, tmp_path)


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    s = Store(url)
    yield s
    s.close()


def new_run(run_id: str = "run1", **changes: Any) -> writes.NewRun:
    fields: dict[str, Any] = {
        "run_id": run_id,
        "benchmark": "mmlu:subject=anatomy",
        "benchmark_version": "1",
        "model": "mock/oracle",
        "spec": {"limit": 7, "seed": 3},
        "groups": ["knowledge"],
        "main_metric": "exact_match",
        "higher_is_better": True,
        "suite": "nightly",
        "assay_version": "0.test",
        "provenance": {"git": "abc"},
        **changes,
    }
    return writes.NewRun(**fields)


def sample(run_id: str, sid: str, idx: int, status: str = "ok", **meta: Any) -> writes.SampleRow:
    return {
        "run_id": run_id,
        "sample_id": sid,
        "idx": idx,
        "input": f"question {sid}",
        "references": ["4"],
        "choices": None,
        "correct": None,
        "metadata": {"year": 1999, **meta},
        "split": "test",
        "status": status,
        "prediction": "4" if status == "ok" else None,
        "confidence": None,
        "error": "rate_limit: slow down" if status == "error" else None,
        "updated_at": 1.0,
    }


def request_row(run_id: str, sid: str, key: str, text: str | None = "4") -> writes.RequestRow:
    payload = None if text is None else compact({"text": text, "raw": {"content": text}})
    return {
        "run_id": run_id,
        "sample_id": sid,
        "idx": 0,
        "cache_key": key,
        "request": {"prompt": sid},
        "response": payload,
        "text": text,
        "error": None if text is not None else {"kind": "rate_limit", "message": "slow down"},
        "latency_s": 0.5,
        "input_tokens": 3,
        "output_tokens": 1,
        "cached": False,
        "attempts": 1,
        "created_at": 1.0,
    }


def score(run_id: str, sid: str, value: Any) -> writes.ScoreRow:
    return {"run_id": run_id, "sample_id": sid, "metric": "exact_match", "value": value}


def cache_row(key: str, text: str) -> writes.CacheRow:
    return {"key": key, "model": "mock/oracle", "response": {"text": text}, "created_at": 1.0}


def rows(store: Store, table: sa.Table, *order: str) -> list[dict[str, Any]]:
    with store.connect() as conn:
        query = sa.select(table).order_by(*(table.c[o] for o in order))
        return [dict(r._mapping) for r in conn.execute(query)]


def count_sql(summary_of: str) -> writes.Summariser:
    """A summariser that reads the transaction it is given (as execution.summary does)."""

    def summarise(conn: sa.Connection) -> dict[str, Any]:
        s = schema.samples
        n = conn.execute(sa.select(sa.func.count()).where(s.c.run_id == summary_of)).scalar_one()
        return {"n_samples": int(n)}

    return summarise


def test_begin_creates_once_then_marks_running_again(store: Store) -> None:
    assert writes.begin_run(store, new_run()) is True
    writes.finish_run(
        store, "run1", status="interrupted", summarise=count_sql("run1"), duration_s=1
    )
    assert writes.begin_run(store, new_run(spec={"changed": True})) is False
    [run] = rows(store, schema.runs, "id")
    assert run["status"] == "running" and run["spec"] == {"limit": 7, "seed": 3}
    assert run["benchmark_name"] == "mmlu" and run["groups"] == ["knowledge"]
    assert [(r["suite"], r["run_id"]) for r in rows(store, schema.suite_runs, "run_id")] == [
        ("nightly", "run1")
    ]
    assert rows(store, schema.run_provenance, "run_id")[0]["provenance"] == {"git": "abc"}


def test_a_name_too_long_is_refused_before_any_write(store: Store) -> None:
    with pytest.raises(UserError, match=r"model name .* 501 characters"):
        writes.begin_run(store, new_run(model="m" * 501))
    with pytest.raises(UserError, match="suite name"):
        writes.begin_run(store, new_run(suite="s" * 201))
    assert rows(store, schema.runs, "id") == [] and rows(store, schema.suites, "name") == []


def test_record_samples_resume_and_replace(store: Store) -> None:
    writes.begin_run(store, new_run())
    writes.record_samples(
        store,
        [sample("run1", "a", 0), sample("run1", "b", 1, status="error")],
        [request_row("run1", "a", "ka"), request_row("run1", "b", "kb", text=None)],
        [score("run1", "a", 1.0)],
        [cache_row("ka", "first")],
    )
    writes.record_samples(
        store, [sample("run1", "c", 2, judge_status="error")], [], [], [cache_row("kc", "c")]
    )
    # errored samples and those whose judge failed are redone on resume
    assert writes.finished_sample_ids(store, "run1") == {"a"}
    # the errored sample answered on resume: its rows replaced; a cached key keeps its response
    writes.record_samples(
        store,
        [sample("run1", "b", 1)],
        [request_row("run1", "b", "kb")],
        [score("run1", "b", 0.0)],
        [cache_row("ka", "second"), cache_row("kb", "b")],
    )
    assert writes.finished_sample_ids(store, "run1") == {"a", "b"}
    assert [(r["sample_id"], r["status"]) for r in rows(store, schema.samples, "idx")] == [
        ("a", "ok"),
        ("b", "ok"),
        ("c", "ok"),
    ]
    assert [r["error"] for r in rows(store, schema.requests, "sample_id")] == [None, None]
    assert [(r["sample_id"], r["value"]) for r in rows(store, schema.scores, "sample_id")] == [
        ("a", 1.0),
        ("b", 0.0),
    ]
    cached = {r["key"]: r["response"]["text"] for r in rows(store, schema.cache, "key")}
    assert cached == {"ka": "first", "kb": "b", "kc": "c"}
    assert rows(store, schema.samples, "idx")[0]["metadata"] == {"year": 1999}


def test_a_refused_batch_writes_none_of_its_rows(store: Store) -> None:
    writes.begin_run(store, new_run())
    with pytest.raises(sa.exc.IntegrityError):
        writes.record_samples(
            store,
            [sample("run1", "a", 0), sample("run1", "b", 1)],
            [request_row("run1", "a", "ka")],
            [score("run1", "a", 1.0), score("run1", "b", None)],  # a score must have a value
            [cache_row("ka", "x")],
        )
    for table in (schema.samples, schema.requests, schema.scores, schema.cache):
        assert rows(store, table, *(c.name for c in table.primary_key.columns)) == []


def test_forget_samples_removes_only_those(store: Store) -> None:
    writes.begin_run(store, new_run())
    ids = [f"s{i:04d}" for i in range(1_200)]  # more than one delete statement's worth
    writes.record_samples(
        store,
        [sample("run1", sid, i) for i, sid in enumerate(ids)],
        [request_row("run1", sid, f"k{sid}") for sid in ids],
        [score("run1", sid, 1.0) for sid in ids],
    )
    writes.forget_samples(store, "run1", ids[:1_100])
    assert writes.finished_sample_ids(store, "run1") == set(ids[1_100:])
    assert len(rows(store, schema.requests, "sample_id")) == 100
    assert len(rows(store, schema.scores, "sample_id")) == 100


def test_finish_summarises_in_its_transaction_and_keeps_unset_values(store: Store) -> None:
    writes.begin_run(store, new_run())
    writes.record_samples(store, [sample("run1", "a", 0), sample("run1", "b", 1)])
    summary = writes.finish_run(
        store,
        "run1",
        status="finished",
        summarise=count_sql("run1"),
        duration_s=2.5,
        dataset_hash="h1",
        n_samples=2,
    )
    assert summary == {"n_samples": 2}
    failed = writes.fail_run(
        store, "run1", "bad row 3", summarise=count_sql("run1"), duration_s=1.0
    )
    assert failed == {"n_samples": 2, "failure": "bad row 3"}
    [run] = rows(store, schema.runs, "id")
    assert run["status"] == "failed" and run["summary"]["failure"] == "bad row 3"
    assert (run["dataset_hash"], run["n_samples"]) == ("h1", 2)  # None kept what was there


def test_discard_removes_the_run_and_its_membership(store: Store) -> None:
    writes.begin_run(store, new_run("keep"))
    writes.begin_run(store, new_run("gone"))
    writes.discard_run(store, "gone")
    assert [r["id"] for r in rows(store, schema.runs, "id")] == ["keep"]
    assert [r["run_id"] for r in rows(store, schema.suite_runs, "run_id")] == ["keep"]
    assert [r["run_id"] for r in rows(store, schema.run_provenance, "run_id")] == ["keep"]


def test_cached_responses_small_large_and_many(store: Store) -> None:
    writes.begin_run(store, new_run())
    big = "x" * (LARGE + 10)
    writes.record_samples(
        store,
        [sample("run1", "big", 0)],
        [request_row("run1", "big", "kbig", text=big)],  # large: no cache row, its request row
    )
    writes.cache_responses(store, [cache_row(f"k{i}", str(i)) for i in range(0, 1_200, 3)])
    writes.cache_responses(store, [cache_row("k0", "not this")])  # a cached key keeps its answer
    wanted = [f"k{i}" for i in range(1_200)] + ["kbig", "k0"]
    found = writes.cached_responses(store, wanted)
    assert set(found) == {f"k{i}" for i in range(0, 1_200, 3)} | {"kbig"}
    assert found["k0"] == {"text": "0"} and found["k3"] == {"text": "3"}
    assert found["kbig"]["text"] == big and found["kbig"]["raw"] == {"content": big}


def test_batch_ledger_remembers_running_batches(store: Store) -> None:
    ledger = writes.BatchLedger(store)
    assert ledger.running("key1") is None
    ledger.record(
        "key1", provider="openai", model="openai/x", batch_id="b1", state="running", n_requests=3
    )
    assert ledger.running("key1") == "b1"
    [first] = rows(store, schema.provider_batches, "key")
    ledger.record(
        "key1", provider="openai", model="openai/x", batch_id="b1", state="collected", n_requests=3
    )
    assert ledger.running("key1") is None
    [row] = rows(store, schema.provider_batches, "key")
    assert row["state"] == "collected" and row["created_at"] == first["created_at"]


def _summary(conn: sa.Connection, run_id: str, main_metric: str) -> dict[str, Any]:
    return {**count_sql(run_id)(conn), "main_metric": main_metric}


def _import(store: Store, run_id: str, n: int, *, fail_after: bool = False) -> ImportedRun:
    with importing(store, _summary) as session:
        writer = session.writer(ImportedRun(run_id, "helm/mmlu", "openai/gpt2"))
        writer.begin(suite="imported", source="helm", spec={"n": n}, benchmark_version="helm")
        for i in range(n):
            assert writer.sample(
                {"sample_id": f"i{i}", "input": "q", "references": [], "metadata": {}}
            )
            writer.request({"sample_id": f"i{i}", "idx": 0, "cache_key": "c", "request": {}})
            writer.score(f"i{i}", "exact_match", float(i % 2))
            writer.tokens(f"i{i}", 0, 10 + i, 1)
        assert not writer.sample({"sample_id": "i0", "input": "again"})  # a repeated id
        run = writer.finish(main_metric="exact_match", higher_is_better=True, provenance={})
        if fail_after:
            raise ValueError("a later file in the same import is garbage")
        return run


def test_an_import_is_atomic_and_replaces_an_earlier_one(store: Store) -> None:
    run = _import(store, "imp", 3)
    assert (run.samples, run.requests, run.scores) == (3, 3, 3)
    with pytest.raises(ValueError, match="garbage"):
        _import(store, "imp", 5, fail_after=True)
    assert len(rows(store, schema.samples, "sample_id")) == 3  # the failed import left nothing
    _import(store, "imp", 2)
    [stored] = rows(store, schema.runs, "id")
    assert stored["status"] == "finished" and stored["summary"] == {
        "n_samples": 2,
        "main_metric": "exact_match",
    }
    assert [r["input_tokens"] for r in rows(store, schema.requests, "sample_id")] == [10, 11]
    assert rows(store, schema.run_provenance, "run_id")[0]["provenance"]["assay_version"]


def test_an_empty_import_is_refused_unless_allowed(store: Store) -> None:
    with pytest.raises(UserError, match="no samples"), importing(store, _summary) as session:
        writer = session.writer(ImportedRun("e", "x", "y"))
        writer.begin(suite="s", source="x", spec={}, benchmark_version="1")
        writer.finish(main_metric="m", higher_is_better=True, provenance={"path": "a.json"})
    assert rows(store, schema.runs, "id") == []


OLD_LEDGER = sa.Table(  # as models/batch.py created it on first use, before migration 0003
    "provider_batches",
    sa.MetaData(),
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("provider", sa.String(40), nullable=False),
    sa.Column("model", sa.String(500), nullable=False),
    sa.Column("batch_id", sa.String(200), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("n_requests", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)


def _store_at_0002(url: str, *, ledger: bool) -> None:
    from alembic import command

    engine = sa.create_engine(_with_driver(url))
    with engine.connect() as conn:
        command.upgrade(migrate._config(conn), "0002_adopt_older_stores")
        conn.commit()
    if ledger:
        OLD_LEDGER.create(engine)
        with engine.begin() as conn:
            conn.execute(
                OLD_LEDGER.insert().values(
                    key="k", provider="openai", model="openai/x", batch_id="batch_old",
                    state="running", n_requests=9, created_at=1.0, updated_at=2.0,
                )
            )  # fmt: skip
    engine.dispose()


@pytest.mark.parametrize("ledger", [True, False], ids=["with-ledger", "without"])
def test_migration_brings_the_ledger_into_the_schema(url: str, ledger: bool) -> None:
    _store_at_0002(url, ledger=ledger)
    store = Store(url)
    try:
        with store.connect() as conn:
            assert migrate.current_revision(conn) == migrate.HEAD
        kept = writes.BatchLedger(store).running("k")
        assert kept == ("batch_old" if ledger else None)
    finally:
        store.close()


@pytest.fixture(params=BACKENDS)
def second_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _url(request, tmp_path, name="copy")


def test_db_copy_carries_the_batch_ledger(store: Store, second_url: str) -> None:
    writes.BatchLedger(store).record(
        "k1", provider="anthropic", model="anthropic/x", batch_id="b", state="running", n_requests=2
    )
    target = Store(second_url)
    try:
        checks = copy_store(Store(store.url, readonly=True), target)
        assert {c.table: c.ok for c in checks}["provider_batches"] is True
        assert writes.BatchLedger(target).running("k1") == "b"
    finally:
        target.close()


def test_a_run_discarded_mid_import_leaves_nothing_and_others_stay(store: Store) -> None:
    with importing(store, _summary) as session:
        kept = session.writer(ImportedRun("kept", "lmeval/a", "m"))
        kept.begin(suite="s", source="lmeval", spec={}, benchmark_version="1")
        dropped = session.writer(ImportedRun("dropped", "lmeval/b", "m"))
        dropped.begin(suite="s", source="lmeval", spec={}, benchmark_version="1")
        for i in range(3):
            for writer in (kept, dropped):
                writer.sample(
                    {"sample_id": f"x{i}", "input": "q", "references": [], "metadata": {}}
                )
                writer.score(f"x{i}", "acc", 1.0)
        dropped.flush()  # some of it already written in the transaction
        dropped.sample({"sample_id": "late", "input": "q", "references": [], "metadata": {}})
        dropped.discard()
        kept.finish(main_metric="acc", higher_is_better=True, provenance={})
    assert [r["id"] for r in rows(store, schema.runs, "id")] == ["kept"]
    assert {r["run_id"] for r in rows(store, schema.samples, "sample_id")} == {"kept"}
    assert {r["run_id"] for r in rows(store, schema.scores, "sample_id")} == {"kept"}
    assert [r["run_id"] for r in rows(store, schema.suite_runs, "run_id")] == ["kept"]


def _raw_rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    """A table's rows as SQLite holds them (JSON as its stored text, NULL apart from 'null')."""
    import sqlite3

    with sqlite3.connect(path) as conn:
        return sorted(conn.execute(f"SELECT * FROM {table}"), key=repr)


def test_sqlite_writes_store_exactly_what_sqlalchemy_would(tmp_path: Path) -> None:
    """On SQLite, `upsert` hands the driver tuples made by each column's own bind processor
    (SQLAlchemy's per-row parameter handling made most of a flush's cost): every kind of value
    (JSON null vs SQL NULL, nested and non-ASCII JSON, booleans, floats, an odd sample id) is
    stored byte for byte as SQLAlchemy's own statement stores it, insert and replace alike."""
    from assay.store.db import _upsert_statement, upsert

    odd = sample("run1", "ünï/☃ 'x'", 2, "unparsed", nested={"a": [1, None, 2.5]}, flag=True)
    odd["choices"] = ["ä", "b"]
    odd["correct"] = 0
    odd["confidence"] = 0.25
    samples = [sample("run1", "s1", 0), sample("run1", "s2", 1, "error"), odd]
    requests = [request_row("run1", "s1", "k1"), request_row("run1", "s2", "k2", None)]
    requests[0]["cached"] = True
    scores = [
        score("run1", "s1", 1.0),
        score("run1", "s2", 0.0),
        score("run1", odd["sample_id"], 0.5),
    ]
    caches = [cache_row("k1", "4"), {**cache_row("k2", "ü"), "response": {"text": None, "x": []}}]
    tables = [
        (schema.samples, samples),
        (schema.requests, requests),
        (schema.scores, scores),
        (schema.cache, caches),
    ]
    paths = {"fast": tmp_path / "fast.db", "sqlalchemy": tmp_path / "sqlalchemy.db"}
    for way, path in paths.items():
        store = Store(f"sqlite:///{path}")
        writes.begin_run(store, new_run())
        for update in (True, True, False):  # insert, replace, keep
            with store.begin() as conn:
                for table, table_rows in tables:
                    if way == "fast":
                        upsert(conn, table, table_rows, update=update)
                    else:
                        statement = _upsert_statement("sqlite", table, update)
                        conn.execute(statement, table_rows)
        store.close()
    for table, table_rows in tables:
        fast = _raw_rows(paths["fast"], table.name)
        assert len(fast) == len(table_rows)
        assert fast == _raw_rows(paths["sqlalchemy"], table.name), table.name
    with Store(f"sqlite:///{paths['fast']}", readonly=True).connect() as conn:
        back = conn.execute(sa.select(schema.samples).where(schema.samples.c.idx == 2)).one()
    assert back.metadata["nested"] == {"a": [1, None, 2.5]} and back.choices == ["ä", "b"]
    assert back.sample_id == odd["sample_id"] and back.confidence == 0.25
