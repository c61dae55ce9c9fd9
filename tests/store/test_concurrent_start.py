"""Two `assay run` processes starting on the same store at the same moment both succeed: the
schema is created once (under a lock) and the run row is begun by insert-or-ignore."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assay.store import migrate, schema
from assay.store.db import Store

# Each process imports everything it needs, then waits for the file `go` (a bounded wait), so
# both reach the store together instead of one finishing its imports first.
LAUNCHER = """
import os, sys, time
import assay.cli.run, assay.execution.runner, assay.store.db
from assay.cli import main
go = sys.argv[1]
for _ in range(6000):
    if os.path.exists(go):
        break
    time.sleep(0.005)
sys.exit(main(sys.argv[2:]))
"""
LIMIT = 40


def start_together(tmp: Path, url: str, data_dir: Path, n: int = 2) -> list[Any]:
    go = tmp / "go"
    go.unlink(missing_ok=True)
    args = [
        "run", "mmlu:subject=anatomy", "-m", "mock/random?seed=3", "-n", str(LIMIT),
        "--suite", "race", "--db", url, "--data-dir", str(data_dir), "--no-progress",
    ]  # fmt: skip
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(go), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    go.touch()
    return [(p.wait(timeout=180), *p.communicate()) for p in procs]


def contents(url: str) -> dict[str, Any]:
    store = Store(url, readonly=True)
    try:
        with store.connect() as conn:
            runs = conn.execute(sa.select(schema.runs.c.id, schema.runs.c.status)).all()
            ids = conn.execute(sa.select(schema.samples.c.sample_id)).scalars().all()
            scored = conn.execute(
                sa.select(sa.func.count()).select_from(schema.scores)
            ).scalar_one()
            suite_runs = conn.execute(sa.select(schema.suite_runs.c.run_id)).all()
            version = conn.execute(sa.select(schema.meta.c.value)).scalars().all()
            revision = migrate.current_revision(conn)
    finally:
        store.close()
    return {
        "runs": runs,
        "ids": ids,
        "scored": scored,
        "suite_runs": suite_runs,
        "version": version,
        "revision": revision,
    }


def check_both_succeeded(results: list[Any], url: str) -> None:
    for code, _out, err in results:
        assert code == 0, err
        assert err == "", err
    found = contents(url)
    assert len(found["runs"]) == 1 and found["runs"][0][1] == "finished"
    assert len(found["ids"]) == len(set(found["ids"])) == LIMIT  # every sample, once
    assert found["scored"] >= LIMIT
    assert len(found["suite_runs"]) == 1
    assert found["version"] == [str(schema.SCHEMA_VERSION)]
    assert found["revision"] == migrate.HEAD


@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_two_runs_start_together_on_sqlite(tmp_path: Path, data_dir: Path, existing: bool) -> None:
    for attempt in range(3):
        url = f"sqlite:///{tmp_path / f'race{attempt}.db'}"
        if existing:
            Store(url).close()
        check_both_succeeded(start_together(tmp_path, url, data_dir), url)


@pytest.mark.slow
@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_two_runs_start_together_on_postgresql(
    postgres_server: Any, tmp_path: Path, data_dir: Path, existing: bool
) -> None:
    for _ in range(3):
        url = postgres_server.create_database(f"race_{uuid.uuid4().hex[:12]}")
        if existing:
            Store(url).close()
        check_both_succeeded(start_together(tmp_path, url, data_dir), url)


def test_the_head_constant_is_the_scripts_head() -> None:
    assert migrate.script_head() == migrate.HEAD
