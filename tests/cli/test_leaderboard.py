from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def board_db(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once for the module: every test only reads it."""
    db = tmp_path_factory.mktemp("board") / "board.db"
    result = run_cli(
        "run",
        "mmlu",
        "gsm8k",
        "-m",
        "mock/oracle",
        "-m",
        "mock/constant?text=A",
        "-m",
        "mock/random?seed=1",
        "--limit",
        "100",
        "--db",
        db,
        "--data-dir",
        data_dir,
        "--no-progress",
        "--suite",
        "demo",
    )
    assert result.code == 0, result.err
    return db


def test_json_leaderboard_has_cis_and_helm_win_rates(cli: Any, board_db: Path) -> None:
    result = cli("leaderboard", "--db", board_db, "--suite", "demo", "--format", "json")
    board = json.loads(result.out)
    rows = {r["model"]: r for r in board["rows"]}
    assert next(iter(rows)) == "mock/oracle"
    assert rows["mock/oracle"]["mean_win_rate"] == 1.0
    gsm_random = rows["mock/random?seed=1"]["cells"]["gsm8k"]
    assert gsm_random["ci_lo"] <= gsm_random["mean"] <= gsm_random["ci_hi"]
    assert gsm_random["n"] == 100
    # win rates follow the cell means: recompute them from the table itself
    columns = [c["benchmark"] for c in board["columns"]]
    for model, row in rows.items():
        rates = []
        for column in columns:
            mine = row["cells"][column]["mean"]
            others = [r["cells"][column]["mean"] for m, r in rows.items() if m != model]
            rates.append(
                sum(1.0 if mine > o else 0.5 if mine == o else 0.0 for o in others) / len(others)
            )
        assert row["mean_win_rate"] == pytest.approx(sum(rates) / len(rates))


def test_table_markdown_and_csv(cli: Any, board_db: Path) -> None:
    table = cli("leaderboard", "--db", board_db, "--suite", "demo")
    assert "mock/oracle" in table.out and "mmlu (exact_match)" in table.out
    # all 100 right: Wilson's interval, not the bootstrap's degenerate [1, 1]
    assert "1.000 [0.963, 1.000] n=100" in table.out
    markdown = cli("leaderboard", "--db", board_db, "--suite", "demo", "--format", "markdown")
    lines = markdown.out.splitlines()
    assert lines[0].startswith("| model | mean win rate |") and lines[1].startswith("|---|")
    assert sum(line.startswith("| mock/") for line in lines) == 3
    rows = list(
        csv.DictReader(
            io.StringIO(
                cli("leaderboard", "--db", board_db, "--suite", "demo", "--format", "csv").out
            )
        )
    )
    assert {r["model"] for r in rows} == {
        "mock/oracle",
        "mock/constant?text=A",
        "mock/random?seed=1",
    }
    oracle = next(r for r in rows if r["model"] == "mock/oracle")
    assert float(oracle["mmlu:mean"]) == 1.0 and oracle["mmlu:n"] == "100"


def test_unknown_suite_names_the_known_ones(cli: Any, board_db: Path) -> None:
    result = cli("leaderboard", "--db", board_db, "--suite", "nope")
    assert result.code == 2 and "suites here: demo" in result.err


def test_listings_are_one_line_each(cli: Any) -> None:
    benchmarks = cli("benchmarks").out.splitlines()
    assert any(line.startswith("gsm8k ") and "final_number_match" in line for line in benchmarks)
    assert any(line.startswith("mmlu ") and "subject=all" in line for line in benchmarks)
    models = cli("models").out.splitlines()
    for provider in ("mock", "openai-compatible", "llamacpp"):
        assert sum(line.startswith(provider + " ") for line in models) == 1


def test_listing_counts_samples_per_split_with_a_data_dir(cli: Any, data_dir: Path) -> None:
    lines = {
        line.split()[0]: line for line in cli("benchmarks", "--data-dir", data_dir).out.splitlines()
    }
    assert "samples test=14042 " in lines["mmlu"]  # MMLU's 57 test files, as SOURCE.md counts
    assert "samples test=1319 " in lines["gsm8k"]
