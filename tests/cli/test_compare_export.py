from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def db(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once for the module: every test only reads it."""
    path = tmp_path_factory.mktemp("compare") / "c.db"
    result = run_cli(
        "run",
        "mmlu",
        "mmlu:shots=0",
        "-m",
        "mock/oracle",
        "-m",
        "mock/random?seed=1",
        "-m",
        "mock/random?seed=2",
        "--limit",
        "80",
        "--db",
        path,
        "--data-dir",
        data_dir,
        "--no-progress",
    )
    assert result.code == 0, result.err
    return path


def test_compare_is_paired_and_holm_adjusted(cli: Any, db: Path) -> None:
    result = cli(
        "compare",
        "mock/oracle",
        "mock/random?seed=1",
        "mock/random?seed=2",
        "--db",
        db,
        "--format",
        "json",
    )
    assert result.code == 0
    rows = json.loads(result.out)
    assert len(rows) == 2 * 3  # two benchmarks x three pairs
    for row in rows:
        assert row["n"] == 80 and row["test"] == "mcnemar-exact"
        assert row["p_holm"] >= row["p_value"]
        assert row["diff"] == pytest.approx(row["mean_a"] - row["mean_b"])
    oracle = [r for r in rows if r["model_a"] == "mock/oracle"]
    assert all(r["ci_lo"] > 0 and r["p_holm"] < 0.001 and r["b_only"] == 0 for r in oracle)
    table = cli(
        "compare", "mock/oracle", "mock/random?seed=1", "--db", db, "--benchmark", "mmlu:shots=0"
    )
    assert "mock/oracle better" in table.out and table.out.count("mcnemar-exact") == 1


def test_compare_mistakes_are_one_line(cli: Any, db: Path) -> None:
    result = cli("compare", "mock/oracle", "mock/nope", "--db", db)
    assert result.code == 2 and "no runs for 'mock/nope'" in result.err
    assert cli("compare", "mock/oracle", "--db", db).code == 2


def test_export_formats(cli: Any, db: Path, tmp_path: Path) -> None:
    md = cli("export", "--format", "markdown", "--db", db)
    assert md.out.startswith("| model | mean win rate | rank |")
    rows = list(csv.DictReader(io.StringIO(cli("export", "--format", "csv", "--db", db).out)))
    assert rows[0]["model"] == "mock/oracle" and rows[0]["rank"] == "1"
    assert float(rows[0]["mmlu:mean"]) == 1.0 and rows[0]["creator"] == "assay"
    latex = cli("export", "--format", "latex", "--view", "groups", "--db", db).out
    assert r"\begin{tabular}" in latex and "knowledge (win rate)" in latex
    assert r"mock/random?seed=1" in latex and r"\_" not in "".join(r["model"] for r in rows)
    data = json.loads(cli("export", "--format", "json", "--db", db).out)
    assert data["rows"][0]["standing"]["rank"] == 1
    pq = pytest.importorskip("pyarrow.parquet", reason="needs assay[export]")
    out = tmp_path / "board.parquet"
    assert cli("export", "--format", "parquet", "-o", out, "--db", db).code == 0
    table = pq.read_table(out).to_pylist()
    assert [r["model"] for r in table] == [r["model"] for r in rows]
    assert table[0]["mmlu:n"] == 80
    assert cli("export", "--format", "parquet", "--db", db).code == 2


def test_model_info_file_and_filters(cli: Any, db: Path, tmp_path: Path) -> None:
    info = tmp_path / "models.yaml"
    info.write_text(
        "mock/random*:\n  creator: Lab\n  access: closed\n  parameters: 7\n"
        "  price_input: 1.0\n  price_output: 2.0\n"
    )
    result = cli(
        "leaderboard", "--db", db, "--model-info", info, "--access", "closed", "--format", "json"
    )
    board = json.loads(result.out)
    assert {r["model"] for r in board["rows"]} == {"mock/random?seed=1", "mock/random?seed=2"}
    assert all(r["cost_usd"] is not None and r["cost_usd"] > 0 for r in board["rows"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("mock/oracle:\n  size: 3\n")
    result = cli("leaderboard", "--db", db, "--model-info", bad)
    assert result.code == 2 and "unknown field" in result.err
    none = cli("leaderboard", "--db", db, "--creator", "Nobody")
    assert none.code == 2 and "match the filters" in none.err
