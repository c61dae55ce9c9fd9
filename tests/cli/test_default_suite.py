"""Without --suite, leaderboard, compare and export read `default`, else the only suite, else
the most recently updated one (the viewer's front page uses the same function)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from assay.store import schema
from assay.store.db import Store
from assay.store.queries import default_suite

HELM = Path(__file__).resolve().parents[1] / "fixtures" / "helm" / "benchmark_output"


def test_a_store_with_one_imported_suite_needs_no_suite_flag(cli: Any, tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    assert cli("import-helm", HELM, "--db", db, "--suite", "helm-lite").code == 0
    board = cli("leaderboard", "--db", db, "--format", "csv")
    assert board.code == 0, board.err
    assert "simple/model1" in board.out
    exported = cli("export", "--format", "json", "--db", db)
    assert exported.code == 0 and '"suite": "helm-lite"' in exported.out


def test_default_is_preferred_else_the_newest_suite(
    cli: Any, tmp_path: Path, data_dir: Path
) -> None:
    db = tmp_path / "s.db"
    common = ["--db", db, "--no-progress", "--data-dir", data_dir]
    models = ["-m", "mock/oracle", "-m", "mock/constant"]
    assert cli("run", "gsm8k", *models, "--suite", "zeta", "--limit", "3", *common).code == 0
    assert cli("run", "gsm8k", *models, "--suite", "alpha", "--limit", "4", *common).code == 0
    store = Store(f"sqlite:///{db}", readonly=True)
    assert default_suite(store) == "alpha"  # newest, though "zeta" was made first
    with Store(f"sqlite:///{db}").begin() as conn:  # zeta's run finishes later
        zeta = sa.select(schema.suite_runs.c.run_id).where(schema.suite_runs.c.suite == "zeta")
        conn.execute(schema.runs.update().where(schema.runs.c.id.in_(zeta)).values(finished_at=4e9))
    assert default_suite(store) == "zeta"
    board = cli("leaderboard", "--db", db, "--format", "json")
    assert board.code == 0 and '"suite": "zeta"' in board.out
    compared = cli("compare", "mock/oracle", "mock/constant", "--db", db, "--format", "json")
    assert compared.code == 0 and '"benchmark": "gsm8k"' in compared.out
    assert cli("run", "gsm8k", *models, "--limit", "5", *common).code == 0  # into `default`
    assert default_suite(store, prefer="default") == "default"
    assert '"suite": "default"' in cli("leaderboard", "--db", db, "--format", "json").out
    store.close()


def test_an_empty_store_says_so(cli: Any, tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    Store(f"sqlite:///{db}").close()
    result = cli("leaderboard", "--db", db)
    assert result.code == 2
    assert "no suites" in result.err and "Traceback" not in result.err
