"""Every command that opens a store, on every kind of path that is not an assay store: one line,
exit 2, and the file (or folder) left exactly as it was."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.cli.test_errors import assert_one_line_error, free_port

from assay.store import db as store_db

REPO = Path(__file__).resolve().parents[2]
HELM = REPO / "tests" / "fixtures" / "helm" / "benchmark_output"


def _text(path: Path) -> Path:
    path.write_text("this is not sqlite\n" * 50)
    return path


def _binary(path: Path) -> Path:
    path.write_bytes(bytes(range(256)) * 40)
    return path


def _sqlite_header_then_garbage(path: Path) -> Path:
    path.write_bytes(b"SQLite format 3\x00" + b"\xff\x13" * 3000)
    return path


def _truncated_store(path: Path) -> Path:
    good = _assay_store(path.with_name("whole.db"))
    path.write_bytes(good.read_bytes()[:1500])
    return path


def _folder(path: Path) -> Path:
    path.mkdir()
    (path / "keep.txt").write_text("mine")
    return path


def _other_app(path: Path, tables: tuple[str, ...] = ("contacts",)) -> Path:
    conn = sqlite3.connect(path)
    for table in tables:
        conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, value TEXT)")
        conn.execute(f"INSERT INTO {table} (value) VALUES ('precious')")
    conn.commit()
    conn.close()
    return path


def _other_app_with_assay_names(path: Path) -> Path:
    """Tables named like assay's (even `meta`), but not assay's: still not ours."""
    return _other_app(path, ("meta", "runs", "samples"))


def _assay_store(path: Path) -> Path:
    from assay.store.db import Store

    Store(f"sqlite:///{path}").close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def _fifo(path: Path) -> Path:
    os.mkfifo(path)  # opening it to read would wait for a writer forever
    return path


BAD_STORES: dict[str, Callable[[Path], Path]] = {
    "fifo": _fifo,
    "text file": _text,
    "binary file": _binary,
    "sqlite header then garbage": _sqlite_header_then_garbage,
    "truncated assay store": _truncated_store,
    "folder": _folder,
    "other application's sqlite": _other_app,
    "other application's sqlite with assay-like tables": _other_app_with_assay_names,
}


def _commands(db: Path, data_dir: Path) -> dict[str, list[Any]]:
    return {
        "run": ["run", "gsm8k", "-m", "mock/oracle", "-n", "2", "--data-dir", data_dir],
        "leaderboard": ["leaderboard"],
        "compare": ["compare", "mock/oracle", "mock/random"],
        "pairwise": ["pairwise", "--benchmark", "gsm8k", "--judge", "mock/judge"],
        "export": ["export", "--format", "csv"],
        "serve": ["serve", "--port", free_port()],
        "import-helm": ["import-helm", HELM],
    }


COMMANDS = ("run", "leaderboard", "compare", "pairwise", "export", "serve", "import-helm")


def _fingerprint(path: Path) -> dict[str, str]:
    """Every file's content; a -shm file is SQLite's shared-memory index, which readers update."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    files = [p for p in files if not p.name.endswith("-shm")]
    if files == [path] and not path.is_file():  # a pipe: never read it
        return {str(path): oct(path.stat().st_mode)}
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("kind", sorted(BAD_STORES))
def test_not_an_assay_store(
    cli: Any, tmp_path: Path, data_dir: Path, kind: str, command: str
) -> None:
    if command == "import-helm":
        pytest.importorskip("ijson")
    if command == "serve":
        pytest.importorskip("uvicorn")
    db = BAD_STORES[kind](tmp_path / "store.db")
    before = _fingerprint(db)
    args = _commands(db, data_dir)[command] + (["--no-progress"] if command == "run" else [])
    result = cli(*args, "--db", db)
    assert_one_line_error(result, "--db")
    assert _fingerprint(db) == before
    siblings = {p.name for p in tmp_path.iterdir()}
    assert not {"store.db-wal", "store.db-journal"} & siblings


@pytest.mark.parametrize("command", ("leaderboard", "compare", "pairwise", "export", "serve"))
def test_reading_commands_want_an_existing_store(cli: Any, tmp_path: Path, command: str) -> None:
    (tmp_path / "empty.db").touch()
    for db in (tmp_path / "absent.db", tmp_path / "empty.db"):
        result = cli(*_commands(db, tmp_path)[command], "--db", db)
        assert_one_line_error(result, "run `assay run` first")
    assert not (tmp_path / "absent.db").exists()
    assert (tmp_path / "empty.db").stat().st_size == 0


def test_an_empty_file_becomes_a_store(cli: Any, tmp_path: Path, data_dir: Path) -> None:
    db = tmp_path / "new.db"
    db.touch()
    result = cli(*_commands(db, data_dir)["run"], "--no-progress", "--db", db)
    assert result.code == 0, result.err
    assert cli("leaderboard", "--db", db).code == 0


@pytest.fixture
def good_store(cli: Any, tmp_path: Path, data_dir: Path) -> Path:
    db = tmp_path / "good" / "results.db"
    db.parent.mkdir()
    for model in ("mock/oracle", "mock/random"):
        args = ["run", "gsm8k", "-m", model, "-n", "5", "--data-dir", data_dir]
        assert cli(*args, "--no-progress", "--db", db).code == 0
    return db


def _rows(db: Path) -> list[Any]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT id, status, n_samples FROM runs ORDER BY id").fetchall()
    finally:
        conn.close()


def test_a_store_another_writer_holds_is_busy(
    cli: Any, good_store: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_MS", 50)
    before = _rows(good_store)
    holder = sqlite3.connect(good_store, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        for command in ("run", "import-helm"):
            if command == "import-helm" and not _has("ijson"):
                continue
            args = _commands(good_store, data_dir)[command]
            if command == "run":  # a new run, so it must write
                args = [*args[:-2], "--suite", "other", "--data-dir", data_dir, "--no-progress"]
            result = cli(*args, "--db", good_store)
            assert_one_line_error(result, "busy", "run the same command again")
        # readers of a WAL store are not blocked by a writer
        assert cli("leaderboard", "--db", good_store).code == 0
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _rows(good_store) == before


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


BWRAP = shutil.which("bwrap")


def _read_only_cli(bind: Path, *args: Any) -> subprocess.CompletedProcess[str]:
    """The CLI in a mount namespace where `bind` (a file or folder) is read-only: as root, a
    chmod would not stop writes, a read-only mount does."""
    assert BWRAP is not None
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    env.pop("ASSAY_DEBUG", None)
    command = [BWRAP, "--bind", "/", "/", "--dev", "/dev", "--ro-bind", str(bind), str(bind)]
    command += [sys.executable, "-m", "assay", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def _bwrap_works() -> bool:
    if BWRAP is None:
        return False
    probe = subprocess.run([BWRAP, "--bind", "/", "/", "true"], capture_output=True)
    return probe.returncode == 0


needs_bwrap = pytest.mark.skipif(not _bwrap_works(), reason="needs bubblewrap (bwrap)")


@needs_bwrap
@pytest.mark.slow
@pytest.mark.parametrize("read_only", ["file", "folder"])
def test_a_read_only_store(good_store: Path, data_dir: Path, read_only: str) -> None:
    bind = good_store if read_only == "file" else good_store.parent
    before = _fingerprint(good_store.parent)
    # writing commands refuse in one line
    for args in (
        ["run", "gsm8k", "-m", "mock/constant", "-n", "2", "--data-dir", data_dir, "--no-progress"],
        ["import-helm", HELM],
    ):
        done = _read_only_cli(bind, *args, "--db", good_store)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "read-only" in lines[0], done.stderr
    # reading commands still read it, in place
    board = _read_only_cli(bind, "leaderboard", "--format", "csv", "--db", good_store)
    assert board.returncode == 0, board.stderr
    assert "mock/oracle" in board.stdout and "mock/random" in board.stdout
    compared = _read_only_cli(bind, "compare", "mock/oracle", "mock/random", "--db", good_store)
    assert compared.returncode == 0, compared.stderr
    assert _fingerprint(good_store.parent) == before


@needs_bwrap
@pytest.mark.slow
def test_a_new_store_in_a_read_only_folder(tmp_path: Path, data_dir: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    args = ["run", "gsm8k", "-m", "mock/oracle", "-n", "2", "--data-dir", data_dir]
    done = _read_only_cli(folder, *args, "--no-progress", "--db", folder / "new.db")
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "read-only" in done.stderr and "Traceback" not in done.stderr
    assert list(folder.iterdir()) == []
