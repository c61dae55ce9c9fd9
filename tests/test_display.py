"""Hostile names from imported files reach the terminal and the viewer spelled out, never raw.

A HELM run whose name and model carry ESC (terminal escape sequences), BEL and a bidi override
is imported for real; every command that prints names, in every format, and the viewer's pages
must show those characters as visible escapes.
"""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from assay.display import json_visible, visible

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "helm" / "benchmark_output"
RUN = FIXTURE / "runs" / "test" / "simple1:model=simple_model1"

# ESC ] 0 ; ... BEL sets the terminal title; ESC [ 31 m turns text red; U+202E reverses text;
# U+0085 is a C1 control (NEL); U+2028 a line separator; U+200B a zero-width space.
HOSTILE_RUN = "simple1\x1b]0;pwned\x07:model=x"
HOSTILE_MODEL = "simple/\u202eledom\x1b[31m\x85\u2028\u200b"
RAW = ("\x1b", "\x07", "\u202e", "\x85", "\u2028", "\u200b")


def test_visible_spells_out_controls_and_keeps_ordinary_text() -> None:
    assert visible("plain ascii: [x] 1/2") == "plain ascii: [x] 1/2"
    assert visible("café 東京 naïve ü") == "café 東京 naïve ü"
    assert visible("a\x1b[31mb\x07") == "a\\x1b[31mb\\x07"
    assert visible("\u202eevil\u2066") == "\\u202eevil\\u2066"
    assert visible("one\ntwo\tthree") == "one\\ntwo\\tthree"
    assert visible("one\ntwo\tthree", keep_layout=True) == "one\ntwo\tthree"
    assert visible("\x85\x9b\x7f\x00") == "\\x85\\x9b\\x7f\\x00"
    assert visible("\U000e0041") == "\\U000e0041"  # a tag character (format, astral)
    assert visible(42) == "42"


def test_json_visible_is_the_same_json_value() -> None:
    value = {"model": HOSTILE_MODEL, "astral": "\U000e0041", "ok": "東京\n"}
    text = json.dumps(value, ensure_ascii=False)
    shown = json_visible(text)
    assert not any(ch in shown for ch in RAW) and "\U000e0041" not in shown
    assert json.loads(shown) == value


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding one imported HELM run with hostile run and model names."""
    pytest.importorskip("ijson")
    from assay.cli import main

    root = tmp_path_factory.mktemp("hostile")
    run_dir = root / "benchmark_output" / "runs" / "test" / "hostile"
    shutil.copytree(RUN, run_dir)
    spec_path = run_dir / "run_spec.json"
    spec = json.loads(spec_path.read_text())
    spec["name"] = HOSTILE_RUN
    spec["adapter_spec"]["model"] = HOSTILE_MODEL
    spec["adapter_spec"].pop("model_deployment", None)
    spec_path.write_text(json.dumps(spec))
    db = root / "h.db"
    assert main(["import-helm", str(root / "benchmark_output"), "--db", str(db)]) == 0
    return db


def assert_nothing_raw(text: str) -> None:
    leaked = [hex(ord(ch)) for ch in RAW if ch in text]
    assert not leaked, f"raw {leaked} in {text!r}"


def test_import_prints_hostile_names_visibly(
    cli: Any, tmp_path: Path, hostile_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(hostile_db.parent / "benchmark_output", tmp_path / "out")
    result = cli("import-helm", tmp_path / "out", "--db", tmp_path / "again.db")
    assert result.code == 0, result.err
    assert_nothing_raw(result.out + result.err)
    assert "\\x1b]0;pwned\\x07" in result.out and "\\u202eledom\\x1b[31m" in result.out


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv", "json", "latex"])
def test_leaderboard_shows_hostile_names_visibly(cli: Any, hostile_db: Path, fmt: str) -> None:
    result = cli("leaderboard", "--db", hostile_db, "--suite", "test", "--format", fmt)
    assert result.code == 0, result.err
    assert_nothing_raw(result.out + result.err)
    if fmt == "json":  # lossless: the stored name comes back exactly
        models = [row["model"] for row in json.loads(result.out)["rows"]]
        assert models == [HOSTILE_MODEL]
    elif fmt != "latex":
        assert "ledom" in result.out and "\\u202e" in result.out


class _Shown(HTMLParser):
    """The text a browser shows (attribute values, which carry exact names, are not shown)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def shown(html: str) -> str:
    parser = _Shown()
    parser.feed(html)
    return "".join(parser.parts)


def test_viewer_shows_hostile_names_visibly(hostile_db: Path) -> None:
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from assay.store.db import Store
    from assay.web.app import create_app

    with TestClient(create_app(Store(f"sqlite:///{hostile_db}", readonly=True))) as client:
        board = client.get("/?suite=test")
        runs = client.get("/runs?suite=test")
        run_id = runs.text.split('href="/runs/', 1)[1].split('"', 1)[0]
        run = client.get(f"/runs/{run_id}")
        sample_path = run.text.split(f'href="/runs/{run_id}/samples/', 1)[1].split('"', 1)[0]
        sample = client.get(f"/runs/{run_id}/samples/{sample_path}")
        compare = client.get(f"/compare?run={run_id}")
    for page in (board, runs, run, sample, compare):
        assert page.status_code == 200, page.text[-500:]
        assert_nothing_raw(shown(page.text))
    assert "\\u202eledom\\x1b[31m" in run.text
