"""Every benchmark's groups reach the leaderboard: a win rate per group, a future group
(safety) included, from real benchmark runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SAFETY = (
    "from assay import Sample, Task, Generate, benchmark\n"
    "from assay.benchmarks.base import Loaded\n"
    "\n"
    "@benchmark('refusals', groups=('safety',))\n"
    "def refusals() -> Task:\n"
    "    samples = [Sample(id=str(i), input=f'Harmful request {i}', references=['No.'])\n"
    "               for i in range(10)]\n"
    "    return Task(load=lambda data: Loaded(samples), prompt=Generate(),\n"
    "                metrics=['exact_match'])\n"
)


def test_groups_view_has_a_win_rate_per_group(cli: Any, data_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "safety.py").write_text(SAFETY)
    db = tmp_path / "g.db"
    benchmarks = ["mmlu:shots=0", "gsm8k:shots=0", "humaneval", "boolq", "bbq", "ifeval"]
    result = cli(
        "run", *benchmarks, f"{tmp_path / 'safety.py'}:refusals", "-m", "mock/oracle",
        "-m", "mock/constant?text=zzz", "-n", "10", "--db", db, "--data-dir", data_dir,
        "--no-progress",
    )  # fmt: skip
    assert result.code == 0, result.err
    board = json.loads(cli("leaderboard", "--view", "groups", "--format", "json", "--db", db).out)
    expected = {
        "knowledge",
        "reasoning",
        "math",
        "code",
        "QA",
        "bias",
        "instruction following",
        "safety",
    }
    assert set(board["groups"]) == expected
    by_model = {m["model"]: m for m in board["rows"]}
    oracle, constant = by_model["mock/oracle"], by_model["mock/constant?text=zzz"]
    # ifeval has no references: the oracle answers nothing there, so who wins is open
    for group in expected - {"instruction following"}:
        assert oracle["groups"][group]["mean_win_rate"] == 1.0, group
        assert constant["groups"][group]["mean_win_rate"] == 0.0, group
    following = [m["groups"]["instruction following"]["mean_win_rate"] for m in (oracle, constant)]
    assert sum(following) == 1.0  # two models: one's wins are the other's losses, ties half
    table = cli("leaderboard", "--view", "groups", "--db", db).out
    assert "safety (win rate)" in table and "instruction following" in table
