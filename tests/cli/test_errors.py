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
        (["run", "mmlu", "-m", "mock/oracle?fail_rate=lots"], ["must be a number"]),
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


@pytest.mark.parametrize("benchmark", ["gsm8k", "mmlu", "hellaswag", "boolq"])
def test_missing_data_file_in_mirror_leaves_no_run(
    cli: Any, tmp_path: Path, data_dir: Path, benchmark: str
) -> None:
    db = tmp_path / "kept.db"
    args = ["run", "gsm8k", "-m", "mock/oracle", "-n", "3", "--data-dir", data_dir]
    assert cli(*args, "--no-progress", "--db", db).code == 0
    (tmp_path / "mirror" / benchmark).mkdir(parents=True)
    result = cli(
        "run", benchmark, "-m", "mock/oracle", "--data-dir", tmp_path / "mirror", "--db", db
    )
    assert_one_line_error(result, f"{benchmark}: data file", "is missing")
    store = Store(f"sqlite:///{db}", readonly=True)
    with store.connect() as conn:
        runs = conn.execute(sa.select(schema.runs.c.benchmark, schema.runs.c.status)).all()
    store.close()
    assert [tuple(r) for r in runs] == [("gsm8k", "finished")]


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
    assert_one_line_error(result, "is not a SQLite database")


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


def _failing_command(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    """`assay models` raising `exc`, as a command would deep inside a library."""
    import assay.cli.listing

    def fail(_args: Any) -> int:
        raise exc

    monkeypatch.setattr(assay.cli.listing, "main", fail)


def _operational(message: str) -> Exception:
    import sqlite3

    return sa.exc.OperationalError("INSERT ...", {}, sqlite3.OperationalError(message))


@pytest.mark.parametrize(
    ("exc", "fragment"),
    [
        (OSError(28, "No space left on device", "/data/x.csv"), "free some disk space"),
        (PermissionError(13, "Permission denied", "/etc/x"), "check its permissions"),
        (OSError(30, "Read-only file system", "/mnt/x"), "read-only"),
        (IsADirectoryError(21, "Is a directory", "/tmp"), "it is a folder"),
        (OSError(24, "Too many open files"), "ulimit -n"),
        (_operational("database is locked"), "busy"),
        (_operational("attempt to write a readonly database"), "read-only"),
        (_operational("database or disk is full"), "disk is full"),
        (_operational("disk I/O error"), "disk failed"),
        (_operational("server closed the connection unexpectedly"), "run the same command again"),
    ],
)
def test_os_and_database_errors_are_one_line(
    cli: Any, monkeypatch: pytest.MonkeyPatch, exc: Exception, fragment: str
) -> None:
    _failing_command(monkeypatch, exc)
    assert_one_line_error(cli("models"), fragment)


def test_a_bug_is_one_line_pointing_at_the_traceback(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _failing_command(monkeypatch, ZeroDivisionError("division by zero"))
    monkeypatch.delenv("ASSAY_DEBUG", raising=False)
    result = cli("models")
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err
    assert "internal error: ZeroDivisionError: division by zero" in lines[0]
    assert "ASSAY_DEBUG=1" in lines[0]
    monkeypatch.setenv("ASSAY_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        cli("models")
