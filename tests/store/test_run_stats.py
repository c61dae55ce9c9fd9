"""A stopped run's counts for the viewer (store.run_stats): written when the run stops, equal to
counting its rows, never read once the run changed, and backfilled by the migration that adds
them, on SQLite and PostgreSQL. Scores are spread over a range wider than [0, 1] with values on
the bins' edges, in a run of samples whose ids sort unlike their dataset positions."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.store.test_writes import BACKENDS, _url, count_sql, new_run, request_row, sample, score

from assay.store import browse, migrate, schema, writes
from assay.store.db import Store
from assay.store.imports import ImportedRun, importing


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = Store(_url(request, tmp_path, "stats"))
    yield s
    s.close()


VALUES = [-2.0, -1.0, 0.0, 0.25, 0.5, 0.5, 1.0, 3.0, 8.0]


def fill(store: Store, run_id: str, n: int, offset: int = 0) -> None:
    ids = [f"s{(i * 37) % 101:03d}-{offset}" for i in range(n)]
    writes.record_samples(
        store,
        [sample(run_id, sid, 1000 + 7 * i + offset) for i, sid in enumerate(ids)],
        [request_row(run_id, sid, f"{run_id}{sid}") for sid in ids],
        [score(run_id, sid, VALUES[i % len(VALUES)]) for i, sid in enumerate(ids[:-2])],
    )


def finish(store: Store, run_id: str) -> None:
    writes.finish_run(store, run_id, status="finished", summarise=count_sql(run_id), duration_s=1.0)


def run_of(store: Store, run_id: str) -> dict[str, Any]:
    found = browse.run_row(store, run_id)
    assert found is not None
    return found


def counted(store: Store, run_id: str) -> browse.RunStats:
    with store.connect() as conn:
        return browse.count_run_stats(conn, run_id, "exact_match")


def expected_histogram(values: list[float]) -> list[int]:
    lo, hi = min(values), max(values)
    width = (hi - lo) / 10
    want = [0] * 10
    for v in values:
        want[min(int((v - lo) / width + 1e-9), 9)] += 1
    return want


def test_a_finished_run_has_its_exact_counts_stored(store: Store) -> None:
    writes.begin_run(store, new_run("r1"))
    fill(store, "r1", 40)
    assert browse.stored_run_stats(store, run_of(store, "r1")) is None  # still running
    finish(store, "r1")
    stored = browse.stored_run_stats(store, run_of(store, "r1"))
    assert stored is not None and stored == counted(store, "r1")
    assert stored.n_samples == 40
    assert stored.keyed == {"score": 38, "latency": 40, "tokens": 40}
    values = [VALUES[i % len(VALUES)] for i in range(38)]
    assert [n for _, _, n in stored.histogram] == expected_histogram(values)
    assert stored.histogram[0][0] == -2.0 and stored.histogram[-1][1] == 8.0


def test_counts_are_never_read_once_the_run_changed(store: Store) -> None:
    writes.begin_run(store, new_run("r2"))
    fill(store, "r2", 20)
    finish(store, "r2")
    assert browse.stored_run_stats(store, run_of(store, "r2")) is not None
    fill(store, "r2", 5, offset=1)  # written after it stopped: the counts are dropped
    assert browse.stored_run_stats(store, run_of(store, "r2")) is None
    writes.begin_run(store, new_run("r2"))  # resumed: running, so counted live
    assert browse.stored_run_stats(store, run_of(store, "r2")) is None
    finish(store, "r2")
    stored = browse.stored_run_stats(store, run_of(store, "r2"))
    assert stored is not None and stored.n_samples == 25 and stored == counted(store, "r2")
    writes.forget_samples(store, "r2", ["s000-1"])
    assert browse.stored_run_stats(store, run_of(store, "r2")) is None
    # counts of an earlier finish (another finished_at) or metric are not the run's
    finish(store, "r2")
    run = run_of(store, "r2")
    assert browse.stored_run_stats(store, {**run, "finished_at": run["finished_at"] + 1}) is None
    assert browse.stored_run_stats(store, {**run, "main_metric": "other"}) is None


def test_an_imported_run_has_its_counts_and_a_reimport_replaces_them(store: Store) -> None:
    def summarise(conn: sa.Connection, run_id: str, metric: str) -> dict[str, Any]:
        return {}

    for n in (6, 3):
        with importing(store, summarise) as session:
            writer = session.writer(ImportedRun("imp", "helm-x", "mock/m"))
            writer.begin(suite="nightly", source="helm", spec={}, benchmark_version="1")
            for i in range(n):
                writer.sample(
                    {"sample_id": f"q{i}", "input": "q", "references": ["a"], "metadata": {}}
                )
                writer.score(f"q{i}", "exact_match", i / max(n - 1, 1))
            writer.finish(main_metric="exact_match", higher_is_better=True, provenance={})
        stored = browse.stored_run_stats(store, run_of(store, "imp"))
        assert stored is not None and stored.n_samples == n and stored == counted(store, "imp")


def test_the_migration_counts_runs_stopped_before_it(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    store = Store(f"sqlite:///{db}")
    for run_id in ("a", "b"):
        writes.begin_run(store, new_run(run_id))
        fill(store, run_id, 30 if run_id == "a" else 11)
    finish(store, "a")  # "b" is still running
    want = counted(store, "a")
    store.close()
    with sqlite3.connect(db) as conn:  # as an assay from before the table left it
        conn.execute("DROP TABLE run_stats")
        conn.execute("UPDATE alembic_version SET version_num = '0007_prediction_span'")
    upgraded = Store(f"sqlite:///{db}")
    with upgraded.connect() as conn:
        assert migrate.current_revision(conn) == migrate.HEAD
        ids = set(conn.execute(sa.select(schema.run_stats.c.run_id)).scalars())
    assert ids == {"a"}
    assert browse.stored_run_stats(upgraded, run_of(upgraded, "a")) == want
    upgraded.close()


def test_the_run_page_reads_the_counts_or_counts_without_them(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from assay.web.app import create_app

    db = tmp_path / "web.db"
    writer = Store(f"sqlite:///{db}")
    writes.begin_run(writer, new_run("w"))
    fill(writer, "w", 23)
    finish(writer, "w")
    writer.close()
    pages = []
    for older in (False, True):
        if older:  # a store from before the table, read as it is
            with sqlite3.connect(db) as conn:
                conn.execute("DROP TABLE run_stats")
        reader = Store(f"sqlite:///{db}", readonly=True)
        if not older:
            assert browse.stored_run_stats(reader, run_of(reader, "w")) == counted(reader, "w")
        else:
            assert browse.stored_run_stats(reader, run_of(reader, "w")) is None
        response = TestClient(create_app(reader)).get("/runs/w")
        assert response.status_code == 200
        pages.append(response.text)
        reader.close()
    assert "23" in pages[0]
    same = [re.sub(r'nonce-[^\'"]*|nonce="[^"]*"', "", p) for p in pages]
    assert same[0] == same[1]  # the same page, counts and histogram, either way
