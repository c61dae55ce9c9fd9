"""A judged run stores and summarises the same on PostgreSQL as on SQLite: the judge's role in
the request JSON and the judge status in the sample metadata are read by JSON paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.postgres import PostgresServer
from tests.store.test_postgres import run_cli, select, summaries

from assay.store import schema

pytestmark = pytest.mark.slow


def test_judged_run_is_the_same_on_postgres(
    postgres_server: PostgresServer, tmp_path: Path, data_dir: Path
) -> None:
    urls = {
        "sqlite": f"sqlite:///{tmp_path / 'judged.db'}",
        "postgresql": postgres_server.create_database("judged_runs"),
    }
    for url in urls.values():
        code, _, err = run_cli(
            "run", "xstest", "-m", "mock/constant?text=Sure", "--judge", "mock/judge?garbage=0.3",
            "-n", "60", "--db", url, "--data-dir", data_dir, "--no-progress",
        )  # fmt: skip
        assert code == 0, err
    pg, lite = summaries(urls["postgresql"]), summaries(urls["sqlite"])
    assert pg == lite
    (summary,) = pg.values()
    assert summary["judge_requests"] == 60 and summary["requests"] == 60
    assert 0 < summary["judge_unparsed"] < 60
    assert summary["metrics"]["xstest_appropriate"]["n"] == 60 - summary["judge_unparsed"]
    rq = schema.requests
    query = sa.select(rq.c.sample_id, rq.c.idx, rq.c.request, rq.c.text).where(
        rq.c.request["role"].as_string() == "judge"
    )
    rows: dict[str, Any] = {
        name: sorted(json.dumps(r, sort_keys=True) for r in select(url, query))
        for name, url in urls.items()
    }
    assert len(rows["postgresql"]) == 60 and rows["postgresql"] == rows["sqlite"]
