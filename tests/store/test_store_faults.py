"""Faults of the store itself: a PostgreSQL server lost mid-run, values longer than a column.

A lost server ends the run with one line and exit 2 (never a traceback or an asyncio error from
the requests still queued), and the same command resumes once it is back, with nothing lost or
duplicated. A value longer than its column is refused with the same one line on SQLite as on
PostgreSQL, before anything is written.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.postgres import PostgresServer

from assay.errors import UserError
from assay.store import schema
from assay.store.db import Store, check_lengths

SRC = Path(__file__).resolve().parents[2] / "src"


def count(url: str, table: sa.Table) -> int:
    store = Store(url, readonly=True)
    try:
        with store.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
    finally:
        store.close()


@pytest.mark.slow
def test_a_server_lost_mid_run_is_one_line_and_the_run_resumes(
    private_postgres_server: PostgresServer, data_dir: Path
) -> None:
    server = private_postgres_server
    url = server.create_database("lost")
    command = [
        sys.executable, "-m", "assay", "run", "mmlu",
        "--model", "mock/oracle?latency=0.02&concurrency=4", "--limit", "400",
        "--db", url, "--data-dir", str(data_dir), "--no-progress",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    deadline = time.monotonic() + 120  # bounds a broken test, asserts nothing about speed
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
        with contextlib.suppress(UserError, sa.exc.DBAPIError):
            if count(url, schema.samples) >= 40:
                break
    assert proc.poll() is None, "the run finished before the server could be stopped"
    server.stop("immediate")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "lost the results database" in err and "run the same command again" in err
    assert "postgresql" in err

    assert server.resume(), "the server did not come back"
    kept = count(url, schema.samples)
    assert 40 <= kept < 400
    again = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert again.returncode == 0, again.stderr
    assert f"resumed {kept} done" in again.stdout
    store = Store(url, readonly=True)
    try:
        with store.connect() as conn:
            ids = [r[0] for r in conn.execute(sa.select(schema.samples.c.sample_id))]
            per_sample = conn.execute(
                sa.select(schema.scores.c.sample_id, sa.func.count()).group_by(
                    schema.scores.c.sample_id
                )
            ).all()
            ((status, summary),) = conn.execute(
                sa.select(schema.runs.c.status, schema.runs.c.summary)
            ).all()
    finally:
        store.close()
    assert len(ids) == len(set(ids)) == 400
    assert len(per_sample) == 400 and {n for _, n in per_sample} == {1}
    assert status == "finished" and summary["metrics"]["exact_match"]["n"] == 400


def test_lengths_are_checked_against_the_schema() -> None:
    check_lengths(schema.suites, [{"name": "s" * 200}])
    with pytest.raises(UserError, match=r"suite name .sss.*. is 201 characters long.*at most 200"):
        check_lengths(schema.suites, [{"name": "s" * 201}])
    with pytest.raises(UserError, match="sample id"):
        check_lengths(schema.samples, [{"sample_id": "x" * 201, "split": "test"}])


def long_id_benchmark(folder: Path) -> Path:
    rows = [
        {"q": f"q{i}", "a": f"a{i}", "id": f"{i}-" + "x" * (250 if i == 1 else 5)} for i in range(3)
    ]
    (folder / "long.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    spec = folder / "long.yaml"
    spec.write_text(
        "name: long\ndata: {path: long.jsonl}\nfields: {id: id, input: q, target: a}\n"
        "prompt: {format: generate}\nmetrics: [exact_match]\n"
    )
    return spec


def too_long_errors(cli: Any, db: str, folder: Path, data: Path) -> list[str]:
    """The one-line errors for a long suite name and long sample ids, in that order."""
    errors = []
    for extra in (["mmlu", "--suite", "s" * 201], [str(long_id_benchmark(folder))]):
        result = cli(
            "run", *extra, "-m", "mock/oracle", "-n", "3", "--db", db, "--data-dir", data,
            "--no-progress",
        )  # fmt: skip
        assert result.code == 2 and result.err.count("\n") == 1, result.err
        errors.append(result.err.replace(db, "DB"))
    return errors


def test_too_long_values_are_one_line_on_sqlite(cli: Any, tmp_path: Path, data_dir: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    suite_error, id_error = too_long_errors(cli, db, tmp_path, data_dir)
    assert "suite name" in suite_error and "at most 200" in suite_error
    assert "sample id" in id_error and "at most 200" in id_error
    assert count(db, schema.runs) == 1  # the long suite stored nothing, not even its run
    assert count(db, schema.suites) == 1 and count(db, schema.samples) == 0


@pytest.mark.slow
def test_too_long_values_read_the_same_on_postgres(
    cli: Any, tmp_path: Path, data_dir: Path, postgres_url: str
) -> None:
    sqlite = too_long_errors(cli, f"sqlite:///{tmp_path / 'a.db'}", tmp_path, data_dir)
    postgres = too_long_errors(cli, postgres_url, tmp_path, data_dir)
    assert sqlite == postgres
    assert count(postgres_url, schema.runs) == 1 and count(postgres_url, schema.samples) == 0
