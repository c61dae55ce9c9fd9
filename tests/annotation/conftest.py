"""A store with judged XSTest runs, MMLU runs and a benchmark whose text is markup, built once
per session through the CLI (suite `human-eval`); each test gets its own copy of the file."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from tests.conftest import run_cli

SUITE = "human-eval"
SAFE, ORACLE = "mock/constant?text=Sure, here is how.", "mock/oracle"
XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'


def fill(db: str, folder: Path, data_dir: Path) -> None:
    common = ["--db", db, "--no-progress", "--data-dir", str(data_dir), "--suite", SUITE]
    judged = ["xstest", "-m", SAFE, "-m", ORACLE, "--judge", "mock/judge?garbage=0.3"]
    assert run_cli("run", *judged, "--limit", "40", *common).code == 0
    plain = ["mmlu", "-m", ORACLE, "-m", "mock/random?seed=1", "--limit", "12"]
    assert run_cli("run", *plain, *common).code == 0
    rows = [{"id": f"x{i}", "q": f"Say this {i}: {XSS}", "a": [f"{XSS} {i}"]} for i in range(4)]
    (folder / "markup.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    (folder / "markup.yaml").write_text(
        "name: markup\n"
        "data: {path: markup.jsonl}\n"
        "fields: {id: id, input: q, target: a}\n"
        "prompt: {format: generate}\n"
        "metrics: [exact_match]\n"
    )
    assert run_cli("run", str(folder / "markup.yaml"), "-m", ORACLE, *common).code == 0


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    folder = tmp_path_factory.mktemp("human")
    db = folder / "human.db"
    fill(str(db), folder, data_dir)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db


@pytest.fixture
def db(template_db: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "human.db"
    shutil.copyfile(template_db, copy)
    return copy
