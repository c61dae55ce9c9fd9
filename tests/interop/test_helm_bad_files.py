"""`import-helm` on garbage or truncated HELM files: one line, exit 2, and all or nothing: no
half-imported run, and a failed re-import keeps the good run it would have replaced."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.cli.test_errors import assert_one_line_error

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "helm" / "benchmark_output"
RUN = Path("runs") / "test" / "simple1:model=simple_model1"

pytestmark = pytest.mark.usefixtures("_needs_ijson")


@pytest.fixture
def _needs_ijson() -> None:
    pytest.importorskip("ijson")


def _truncate(name: str, fraction: float) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        data = (run / name).read_bytes()
        (run / name).write_bytes(data[: int(len(data) * fraction)])

    return damage


def _replace(name: str, content: str | bytes) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        path = run / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())

    return damage


def _edit(name: str, change: Callable[[Any], Any]) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        path = run / name
        path.write_text(json.dumps(change(json.loads(path.read_text()))))

    return damage


def _first_stat(entries: list[Any], **fields: Any) -> list[Any]:
    entries[-1]["stats"][0].update(fields)
    return entries


DAMAGE: dict[str, Callable[[Path], None]] = {
    "scenario_state truncated early": _truncate("scenario_state.json", 0.1),
    "scenario_state truncated midway": _truncate("scenario_state.json", 0.5),
    "scenario_state truncated late": _truncate("scenario_state.json", 0.97),
    "scenario_state garbage": _replace("scenario_state.json", b"\x00\xff garbage \x13" * 50),
    "scenario_state states are numbers": _replace(
        "scenario_state.json", '{"request_states": [1, 2, 3]}'
    ),
    "per_instance_stats truncated": _truncate("per_instance_stats.json", 0.6),
    "per_instance_stats garbage": _replace("per_instance_stats.json", "not json at all"),
    "per_instance_stats a list of numbers": _replace("per_instance_stats.json", "[1, 2, 3]"),
    "per_instance_stats entry without instance id": _edit(
        "per_instance_stats.json", lambda e: [*e, {"stats": []}]
    ),
    "a stat without a name": _edit("per_instance_stats.json", lambda e: _first_stat(e, name=None)),
    "a stat with a text count": _edit(
        "per_instance_stats.json", lambda e: _first_stat(e, count="many")
    ),
    "stats truncated": _truncate("stats.json", 0.5),
    "run_spec garbage": _replace("run_spec.json", "{{{"),
    "run_spec a list": _replace("run_spec.json", "[1, 2]"),
    "run_spec truncated": _truncate("run_spec.json", 0.5),
}


def _state(db: Path) -> dict[str, Any]:
    conn = sqlite3.connect(db)
    try:
        tables = ("runs", "suite_runs", "samples", "requests", "scores", "run_provenance")
        state: dict[str, Any] = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables
        }
        state["run"] = conn.execute(
            "SELECT id, status, n_samples, main_metric, summary FROM runs"
        ).fetchall()
        return state
    finally:
        conn.close()


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_failed_reimport_keeps_the_good_run(cli: Any, tmp_path: Path, damage: str) -> None:
    db = tmp_path / "h.db"
    good = cli("import-helm", FIXTURE, "--db", db)
    assert good.code == 0, good.err
    before = _state(db)
    assert before["samples"] == 30 and before["run"][0][1] == "finished"
    broken = tmp_path / "benchmark_output"
    shutil.copytree(FIXTURE, broken)
    DAMAGE[damage](broken / RUN)
    result = cli("import-helm", broken, "--db", db)
    assert_one_line_error(result, "was not imported")
    assert _state(db) == before


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_failed_import_leaves_nothing(cli: Any, tmp_path: Path, damage: str) -> None:
    db = tmp_path / "h.db"
    broken = tmp_path / "benchmark_output"
    shutil.copytree(FIXTURE, broken)
    DAMAGE[damage](broken / RUN)
    result = cli("import-helm", broken / RUN, "--db", db)
    assert_one_line_error(result, "was not imported")
    state = _state(db)
    assert state["run"] == [] and state["samples"] == state["scores"] == 0
