"""User mistakes: one clear line on stderr, exit status 2, no traceback, nothing stored lost."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assay.store import schema
from assay.store.db import Store


def assert_one_line_error(result: Any, *fragments: str) -> None:
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("assay: error: ")
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["run", "mmlux", "-m", "mock/oracle"], ["unknown benchmark 'mmlux'", "did you mean mmlu"]),
        (["run", "mmlu:subject=anatomyy", "-m", "mock/oracle"], ["no subject 'anatomyy'"]),
        (["run", "mmlu:shotz=3", "-m", "mock/oracle"], ["no parameter 'shotz'", "shots"]),
        (["run", "mmlu:shots=many", "-m", "mock/oracle"], ["shots='many' must be int"]),
        (["run", "mmlu:subject", "-m", "mock/oracle"], ["is not key=value"]),
        (["run", "mmlu", "-m", "nosuch/model"], ["unknown model provider 'nosuch'"]),
        (["run", "mmlu", "-m", "smollm2"], ["is not provider/name"]),
        (["run", "mmlu", "-m", "mock/oracle?fail_rate=lots"], ["must be a float"]),
        (["run", "mmlu", "-m", "mock/oracle?colour=red"], ["unknown setting(s) colour"]),
        (["run", "mmlu", "-m", "mock/genius"], ["unknown mock model 'genius'"]),
        (["run", "mmlu", "-m", "llamacpp/nowhere.gguf"], ["neither a packaged model"]),
        (["run", "mmlu", "-m", "openai-compatible/x"], ["needs a server address"]),
        (["run", "mmlu", "-m", "mock/oracle", "--limit", "0"], ["--limit must be at least 1"]),
        (
            ["run", "mmlu", "-m", "mock/oracle", "--data-dir", "/no/such/dir"],
            ["data directory '/no/such/dir' does not exist"],
        ),
        (["run", "missing.yaml", "-m", "mock/oracle"], ["does not exist"]),
        (["run", "nothere.py:bench", "-m", "mock/oracle"], ["does not exist"]),
        (["leaderboard", "--db", "nothing.db"], ["no results database"]),
        (
            ["run", "mmlu", "-m", "mock/oracle", "--db", "/no/such/dir/x.db"],
            ["folder '/no/such/dir' does not exist"],
        ),
    ],
)
def test_user_mistakes_get_one_line(cli: Any, args: list[str], fragments: list[str]) -> None:
    assert_one_line_error(cli(*args), *fragments)


def test_missing_data_file_in_mirror(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "mirror" / "gsm8k").mkdir(parents=True)
    result = cli("run", "gsm8k", "-m", "mock/oracle", "--data-dir", tmp_path / "mirror")
    assert_one_line_error(result, "gsm8k: data file", "test.jsonl", "is missing")


def test_unreadable_dataset_file_keeps_stored_results(
    cli: Any, data_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "keep.db"
    ok = cli(
        "run",
        "gsm8k",
        "-m",
        "mock/oracle",
        "--limit",
        "10",
        "--db",
        db,
        "--data-dir",
        data_dir,
        "--no-progress",
    )
    assert ok.code == 0
    (tmp_path / "bad.jsonl").write_text('{"q": "fine", "a": "1"}\n{not json\n')
    (tmp_path / "bad.yaml").write_text(
        "name: bad\ndata: {path: bad.jsonl}\nfields: {input: q, target: a}\n"
    )
    result = cli("run", tmp_path / "bad.yaml", "-m", "mock/oracle", "--db", db, "--no-progress")
    assert_one_line_error(result, "bad.jsonl:2: not valid JSON")
    store = Store(f"sqlite:///{db}", readonly=True)
    with store.connect() as conn:
        kept = conn.execute(sa.select(sa.func.count()).select_from(schema.samples)).scalar()
    assert kept >= 10


def test_not_a_database(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "junk.db").write_text("this is not sqlite " * 100)
    result = cli("run", "gsm8k", "-m", "mock/oracle", "--db", tmp_path / "junk.db")
    assert_one_line_error(result, "cannot use database")


def test_unreachable_server(cli: Any, data_dir: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = cli(
        "run",
        "gsm8k",
        "-m",
        f"openai-compatible/smollm2@{url}",
        "--data-dir",
        data_dir,
        "--no-progress",
        "--retry-delay",  # the start-up check is retried like a request: keep the waits short
        "0.01",
    )
    assert_one_line_error(result, f"cannot reach {url}", "is the server running")


def test_help_imports_nothing_heavy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, contextlib, io\n"
        "from assay.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try: main(['--help'])\n"
        "    except SystemExit: pass\n"
        "heavy = [m for m in ('sqlalchemy', 'numpy', 'openai', 'llama_cpp', 'rich', 'pydantic')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
