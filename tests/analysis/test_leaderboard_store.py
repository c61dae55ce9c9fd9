from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assay.analysis.leaderboard import leaderboard_from_store
from assay.analysis.model_info import ModelCatalog, ModelFilter, ModelInfo
from assay.store import schema
from assay.store.db import Store, resolve_url
from assay.store.queries import run_provenance


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    from assay.cli import main

    path = tmp_path_factory.mktemp("board") / "board.db"
    code = main(
        [
            "run",
            "mmlu",
            "mmlu:shots=0",
            "-m",
            "mock/oracle",
            "-m",
            "mock/constant?text=A",
            "-m",
            "mock/random?seed=1",
            "--limit",
            "120",
            "--db",
            str(path),
            "--data-dir",
            str(data_dir),
            "--no-progress",
            "--suite",
            "s",
        ]
    )
    assert code == 0
    return path


def test_cells_are_clustered_by_subject_and_standings_have_intervals(db: Path) -> None:
    board = leaderboard_from_store(Store(resolve_url(str(db)), readonly=True), "s")
    cell = board.cells[("mock/random?seed=1", "mmlu")]
    assert cell.clusters is not None and cell.clusters > 10  # MMLU subjects
    assert cell.ci_lo is not None and cell.ci_lo < cell.mean < (cell.ci_hi or 0)
    oracle = board.standings["mock/oracle"]
    assert (oracle.win_rate, oracle.rank, oracle.rank_lo, oracle.rank_hi) == (1.0, 1, 1, 1)
    for model, s in board.standings.items():
        assert s.ci_lo is not None and s.ci_hi is not None and s.win_rate is not None
        assert s.ci_lo <= s.win_rate + 1e-9 and s.win_rate - 1e-9 <= s.ci_hi, model
        assert s.rank_lo is not None and s.rank_hi is not None and s.rank is not None
        assert 1 <= s.rank_lo <= s.rank_hi <= 3
    assert "knowledge" in board.group_standings  # MMLU's groups
    # every column is in the group, so the group standing is the overall one
    assert board.group_standings["knowledge"] == board.standings
    assert board.warnings == []


def test_filters_compare_like_with_like(db: Path) -> None:
    catalog = ModelCatalog(
        {
            "mock/oracle": ModelInfo("Lab A", "closed", 70.0, "2024-05-01"),
            "mock/constant*": ModelInfo("Lab B", "open", 7.0, "2023-01-01"),
            "mock/random*": ModelInfo("Lab B", "open", 8.0, "2024-02-01"),
        }
    )
    store = Store(resolve_url(str(db)), readonly=True)
    open_board = leaderboard_from_store(
        store, "s", catalog=catalog, model_filter=ModelFilter(access="open")
    )
    assert sorted(open_board.models) == ["mock/constant?text=A", "mock/random?seed=1"]
    recent = leaderboard_from_store(
        store,
        "s",
        catalog=catalog,
        model_filter=ModelFilter(released_after="2024-01-01", max_parameters=10),
    )
    assert recent.models == ["mock/random?seed=1"]
    one = leaderboard_from_store(store, "s", benchmarks=["mmlu:shots=0"])
    assert [c.benchmark for c in one.columns] == ["mmlu:shots=0"]


def test_different_benchmark_versions_are_warned_about(cli: Any, db: Path) -> None:
    store = Store(resolve_url(str(db)))
    r = schema.runs
    with store.begin() as conn:
        run_id = conn.execute(
            sa.select(r.c.id).where(r.c.model == "mock/oracle", r.c.benchmark == "mmlu")
        ).scalar_one()
        conn.execute(r.update().where(r.c.id == run_id).values(benchmark_version="0"))
    try:
        result = cli("leaderboard", "--db", db, "--suite", "s")
        assert result.code == 0
        assert "warning: mmlu: rows come from different benchmark versions" in result.err
        assert "version 0: mock/oracle" in result.err
    finally:
        with store.begin() as conn:
            conn.execute(r.update().where(r.c.id == run_id).values(benchmark_version="1"))


def test_every_run_records_its_provenance(db: Path) -> None:
    store = Store(resolve_url(str(db)), readonly=True)
    with store.connect() as conn:
        ids = [row[0] for row in conn.execute(sa.select(schema.runs.c.id))]
    assert ids
    for run_id in ids:
        prov = run_provenance(store, run_id)
        assert prov is not None
        assert prov["assay_version"] and prov["dataset_hash"] and prov["prompt_format_hash"]
        assert "numpy" in prov["packages"] and prov["model_settings"]["model"].startswith("mock/")
        assert prov["benchmark_version"] == "1"
