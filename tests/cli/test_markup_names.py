"""Names that look like rich markup (`[/]`, `[bold`, `[link=...]`) are shown as written by
every command that prints them, and never break the suite they are stored in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

NAMES = ["[/]", "[bold]loud[/bold]", "x[/x]", "[link=http://evil]y", "tail\\", "[red", "a]b[/]c"]


def _bench(folder: Path, name: str) -> Path:
    rows = "".join(f'{{"q": "{i} + 1 = ?", "a": "{i + 1}"}}\n' for i in range(6))
    (folder / "data.jsonl").write_text(rows)
    path = folder / "bench.yaml"
    path.write_text(
        f"name: {json.dumps(name)}\ndescription: {json.dumps(name)}\ndata: {{path: data.jsonl}}\n"
        "fields: {input: q, target: a}\n"
    )
    return path


@pytest.mark.parametrize("name", NAMES)
def test_markup_in_stored_names_is_shown_as_written(cli: Any, tmp_path: Path, name: str) -> None:
    db = tmp_path / "m.db"
    bench = _bench(tmp_path, f"b{name}")
    models = [f"mock/constant?text={name}", "mock/oracle"]
    for model in models:
        result = cli("run", bench, "-m", model, "--suite", name, "--db", db, "--no-progress")
        assert result.code == 0, result.err
        assert f"b{name}" in result.out and model in result.out
    assert name in result.out  # the suite, in the closing hint
    board = cli("leaderboard", "--suite", name, "--db", db)
    assert board.code == 0, board.err
    assert models[0] in board.out and f"b{name}" in board.out and name in board.out
    for fmt in ("markdown", "csv", "json", "latex"):
        assert cli("leaderboard", "--suite", name, "--format", fmt, "--db", db).code == 0
    compared = cli("compare", *models, "--suite", name, "--db", db)
    assert compared.code == 0, compared.err
    # the table may fold a long cell, so look for its start: markup read as markup would be gone
    assert models[0][:21] in compared.out and f"b{name}"[:3] in compared.out
    out = tmp_path / "board.md"
    exported = cli("export", "--format", "markdown", "-o", out, "--suite", name, "--db", db)
    assert exported.code == 0, exported.err
    assert models[0].replace("|", "\\|") in out.read_text()


@pytest.mark.parametrize("name", NAMES)
def test_markup_in_names_on_the_progress_bar(cli: Any, tmp_path: Path, name: str) -> None:
    bench = _bench(tmp_path, f"b{name}")
    result = cli("run", bench, "-m", f"mock/constant?text={name}", "--db", tmp_path / "x.db")
    assert result.code == 0, result.err
    assert f"b{name} · mock/constant?text=" in result.err  # the bar's label (it may be cut)
