"""Samples without a sort key (no score, no latency) come after the others, and an older
store's viewer indexes are rebuilt with their current columns: on a copy of the viewer's store."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient
from tests.web.test_web_pages import every_page, expected_order

from assay.store import schema
from assay.store.db import Store
from assay.web.app import create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def copy(tmp_path: Path, viewer_db: Path) -> Path:
    db = tmp_path / "copy.db"
    with sqlite3.connect(viewer_db) as source, sqlite3.connect(db) as target:
        source.backup(target)
    return db


@pytest.mark.parametrize("sort", ["score", "latency"])
@pytest.mark.parametrize("desc", [False, True])
def test_samples_without_a_key_come_last_and_every_page_holds_new_ones(
    copy: Path, find_run: Any, listed: Any, sort: str, desc: bool
) -> None:
    run = find_run("mmlu", "mock/random?seed=1")
    writer = Store(f"sqlite:///{copy}")
    sc, rq, s = schema.scores, schema.requests, schema.samples
    with writer.begin() as conn:
        ids = list(
            conn.execute(
                sa.select(s.c.sample_id).where(s.c.run_id == run).order_by(s.c.idx)
            ).scalars()
        )
        gone = ids[3:40:3]  # 13 samples: the tail spans pages of 10
        conn.execute(sc.delete().where(sc.c.run_id == run, sc.c.sample_id.in_(gone)))
        conn.execute(
            rq.update().where(rq.c.run_id == run, rq.c.sample_id.in_(gone)).values(latency_s=None)
        )
        # rows changed behind the store's writer: drop the counts made when the run finished,
        # as the writer does when it changes a run's samples
        conn.execute(schema.run_stats.delete().where(schema.run_stats.c.run_id == run))
    writer.close()
    reader = Store(f"sqlite:///{copy}", readonly=True)
    with TestClient(create_app(reader)) as client:
        got = every_page(client, f"/runs/{run}?sort={sort}&desc={int(desc)}", listed)
        wanted = expected_order(reader, run, sort, desc)
        assert got == wanted and len(got) == 60
        assert set(got[-13:]) == set(gone)
        wrong = every_page(client, f"/runs/{run}?sort={sort}&outcome=incorrect", listed)
        assert not set(wrong) & set(gone)  # no score: neither correct nor incorrect
    reader.close()


def test_an_index_with_old_columns_is_rebuilt(copy: Path) -> None:
    with sqlite3.connect(copy) as conn:
        conn.execute("DROP INDEX ix_scores_run_metric_value")
        conn.execute("CREATE INDEX ix_scores_run_metric_value ON scores (run_id, metric, value)")
        conn.execute("DROP TABLE alembic_version")  # made before migrations

    def columns() -> list[str]:
        with sqlite3.connect(copy) as conn:
            return [r[2] for r in conn.execute("PRAGMA index_info(ix_scores_run_metric_value)")]

    assert columns() == ["run_id", "metric", "value"]
    Store(f"sqlite:///{copy}", readonly=True).close()  # a reader changes nothing
    assert columns() == ["run_id", "metric", "value"]
    Store(f"sqlite:///{copy}").close()
    assert columns() == ["run_id", "metric", "value", "sample_id"]
