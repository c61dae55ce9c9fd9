"""Data files that parse but have the wrong shape: one line naming the file, row and field, exit
2, and no run left behind (or, when some samples were already stored, the run marked failed)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from tests.cli.test_errors import assert_one_line_error

from assay.errors import UserError

GOOD_ROWS = [{"id": f"r{i}", "q": f"{i} + 1 = ?", "a": str(i + 1)} for i in range(8)]
FIELDS = "{id: id, input: q, target: a}"


def _jsonl(rows: list[Any]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


# (data file name, its content, fields, what the one line must say)
SHAPES: dict[str, tuple[str, str, str, str]] = {
    "json list of numbers": ("d.json", "[1, 2, 3]", FIELDS, "item 1 is a number"),
    "json list of nulls": ("d.json", "[null, null]", FIELDS, "item 1 is null"),
    "json list of strings": ("d.json", '["a", "b"]', FIELDS, "item 1 is a string"),
    "json list of lists": ("d.json", '[["q", "a"]]', FIELDS, "item 1 is a list"),
    "json object then a number": (
        "d.json",
        json.dumps([GOOD_ROWS[0], 7]),
        FIELDS,
        "item 2 is a number",
    ),
    "null input": (
        "d.jsonl",
        _jsonl([*GOOD_ROWS[:2], {"id": "x", "q": None, "a": "1"}]),
        FIELDS,
        "row 3: field 'q' is null",
    ),
    "null target": (
        "d.jsonl",
        _jsonl([{"id": "x", "q": "1+1", "a": None}]),
        FIELDS,
        "field 'a' is null",
    ),
    "null id": (
        "d.jsonl",
        _jsonl([{"id": None, "q": "1+1", "a": "2"}]),
        FIELDS,
        "field 'id' is null",
    ),
    "null among targets": (
        "d.jsonl",
        _jsonl([{"id": "x", "q": "1+1", "a": ["2", None]}]),
        FIELDS,
        "field 'a' is null",
    ),
    "input is an object": (
        "d.jsonl",
        _jsonl([{"id": "x", "q": {"t": "1+1"}, "a": "2"}]),
        FIELDS,
        "field 'q' is an object, not text",
    ),
    "input is a list": (
        "d.jsonl",
        _jsonl([{"id": "x", "q": ["1+1"], "a": "2"}]),
        FIELDS,
        "field 'q' is a list, not text",
    ),
    "csv unclosed quote": (
        "d.csv",
        'id,q,a\nr1,"1+1,2\nr2,2+2,4\nr3,3+3,6\n',
        FIELDS,
        "unclosed quote",
    ),
    "csv text after a closing quote": ("d.csv", 'id,q,a\nr1,"1+1"x,2\n', FIELDS, "not valid CSV"),
    "csv row with an extra field": (
        "d.csv",
        "id,q,a\nr1,1+1,2\nr2,2+2,4,oops\n",
        FIELDS,
        "d.csv:3: this row has more fields",
    ),
    "csv row with a missing field": (
        "d.csv",
        "id,q,a\nr1,1+1,2\nr2,2+2\n",
        FIELDS,
        "d.csv:3: this row has fewer fields",
    ),
    "csv repeated header": ("d.csv", "id,q,q,a\nr1,1,2,3\n", FIELDS, "'q' more than once"),
    "tsv row with an extra field": (
        "d.tsv",
        "id\tq\ta\nr1\t1+1\t2\t9\n",
        FIELDS,
        "d.tsv:2: this row has more fields",
    ),
    "missing column": (
        "d.jsonl",
        _jsonl([{"id": "x", "question": "1+1", "a": "2"}]),
        FIELDS,
        "has no field 'q'",
    ),
    "repeated id": (
        "d.jsonl",
        _jsonl([GOOD_ROWS[0], GOOD_ROWS[1], GOOD_ROWS[0]]),
        FIELDS,
        "appears twice",
    ),
    "missing file": ("elsewhere.jsonl", "", FIELDS, "does not exist"),
}


def _benchmark(folder: Path, name: str, content: str, fields: str) -> Path:
    if name != "elsewhere.jsonl":
        (folder / name).write_text(content)
    else:
        name = "not-there.jsonl"
    path = folder / "shape.yaml"
    path.write_text(f"name: shape\ndata: {{path: {name}}}\nfields: {fields}\n")
    return path


def _runs(db: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT id, benchmark, status, n_samples FROM runs ORDER BY id"
        ).fetchall()
    finally:
        conn.close()


@pytest.fixture
def db(cli: Any, tmp_path: Path, data_dir: Path) -> Path:
    path = tmp_path / "kept.db"
    args = ["run", "gsm8k", "-m", "mock/oracle", "-n", "5", "--data-dir", data_dir]
    assert cli(*args, "--no-progress", "--db", path).code == 0
    return path


@pytest.mark.parametrize("limit", [None, 3])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_wrong_shape_is_one_line_and_leaves_no_run(
    cli: Any, tmp_path: Path, db: Path, shape: str, limit: int | None
) -> None:
    name, content, fields, fragment = SHAPES[shape]
    bench = _benchmark(tmp_path, name, content, fields)
    before = _runs(db)
    extra = [] if limit is None else ["--limit", str(limit)]
    result = cli("run", bench, "-m", "mock/oracle", *extra, "--db", db, "--no-progress")
    assert_one_line_error(result, fragment)
    assert _runs(db) == before


def test_tsv_is_read_as_tab_separated(cli: Any, tmp_path: Path) -> None:
    """Commas and quotes are ordinary text in a .tsv file."""
    rows = ['What is "1,2" read as?\tone, two', "Say 'x', then \"y\"\ty"]
    (tmp_path / "d.tsv").write_text("q\ta\n" + "\n".join(rows) + "\n")
    (tmp_path / "t.yaml").write_text(
        "name: t\ndata: {path: d.tsv}\nfields: {input: q, target: a}\n"
    )
    db = tmp_path / "t.db"
    result = cli("run", tmp_path / "t.yaml", "-m", "mock/oracle", "--db", db, "--no-progress")
    assert result.code == 0, result.err
    conn = sqlite3.connect(db)
    stored = conn.execute('SELECT input, "references" FROM samples ORDER BY idx').fetchall()
    conn.close()
    assert [json.loads(i) for i, _ in stored] == [r.split("\t")[0] for r in rows]
    assert [json.loads(r) for _, r in stored] == [[r.split("\t")[1]] for r in rows]


def test_a_bad_row_far_down_a_large_file_leaves_no_run(cli: Any, tmp_path: Path) -> None:
    """A repeated id far down a large file is found while the samples are hashed for the run's
    identity, before the run exists: no run is left behind, and the fixed file runs."""
    rows = [{"id": f"r{i}", "q": f"{i}+1", "a": str(i + 1)} for i in range(300)]
    broken = [*rows, rows[5]]
    (tmp_path / "d.jsonl").write_text(_jsonl(broken))
    bench = tmp_path / "big.yaml"
    bench.write_text(f"name: big\ndata: {{path: d.jsonl}}\nfields: {FIELDS}\n")
    db = tmp_path / "f.db"
    result = cli("run", bench, "-m", "mock/oracle", "--db", db, "--no-progress")
    assert_one_line_error(result, "'r5' appears twice")
    assert _runs(db) == []
    (tmp_path / "d.jsonl").write_text(_jsonl(rows))
    again = cli("run", bench, "-m", "mock/oracle", "--db", db, "--no-progress")
    assert again.code == 0, again.err
    [(_, name, status, n)] = _runs(db)
    assert (name, status, n) == ("big", "finished", 300)


def test_an_error_found_after_samples_were_stored_marks_the_run_failed(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user error raised while the run streams (here: building the 280th prompt) keeps the
    samples already stored, marks the run failed with the reason, and a fixed rerun resumes."""
    from assay.prompting.formats import Generate

    rows = [{"id": f"r{i}", "q": f"{i}+1", "a": str(i + 1)} for i in range(300)]
    (tmp_path / "d.jsonl").write_text(_jsonl(rows))
    bench = tmp_path / "big.yaml"
    bench.write_text(f"name: big\ndata: {{path: d.jsonl}}\nfields: {FIELDS}\n")
    db = tmp_path / "f.db"
    real_build = Generate.build
    calls = {"n": 0}

    def failing_build(self: Generate, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 280:
            raise UserError("sample r279: the prompt cannot be built (appears twice)")
        return real_build(self, *args, **kwargs)

    monkeypatch.setattr(Generate, "build", failing_build)
    result = cli("run", bench, "-m", "mock/oracle", "--db", db, "--no-progress")
    assert_one_line_error(result, "appears twice")
    [(run_id, _, status, _)] = _runs(db)
    assert status == "failed"
    conn = sqlite3.connect(db)
    summary = json.loads(conn.execute("SELECT summary FROM runs").fetchone()[0])
    stored = conn.execute("SELECT count(*) FROM samples").fetchone()[0]
    conn.close()
    assert "appears twice" in summary["failure"] and stored > 0
    board = cli("leaderboard", "--format", "json", "--db", db)
    assert board.code == 0, board.err
    assert '"complete": false' in board.out  # shown as not finished
    _viewer_shows_failed(db, run_id)
    monkeypatch.setattr(Generate, "build", real_build)
    again = cli("run", bench, "-m", "mock/oracle", "--db", db, "--no-progress")
    assert again.code == 0, again.err
    assert _runs(db) == [(run_id, "big", "finished", 300)]


def _viewer_shows_failed(db: Path, run_id: str) -> None:
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from assay.store.db import Store
    from assay.web.app import create_app

    store = Store(f"sqlite:///{db}", readonly=True)
    try:
        with TestClient(create_app(store)) as client:
            page = client.get(f"/runs/{run_id}")
            listing = client.get("/runs")
    finally:
        store.close()
    assert page.status_code == 200
    assert "This run failed" in page.text and "appears twice" in page.text
    assert "failed" in listing.text and ">running<" not in listing.text
