"""`export -o` to a place that cannot hold a file: one line, exit 2, never a hang, and an earlier
export at the same path left whole."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.cli.test_bad_stores import REPO, needs_bwrap
from tests.cli.test_errors import assert_one_line_error


@pytest.fixture
def store(cli: Any, tmp_path: Path, data_dir: Path) -> Path:
    db = tmp_path / "e.db"
    args = ["run", "gsm8k", "-m", "mock/oracle", "-n", "4", "--data-dir", data_dir]
    assert cli(*args, "--no-progress", "--db", db).code == 0
    return db


def _folder(tmp: Path) -> Path:
    (tmp / "out").mkdir()
    return tmp / "out"


def _fifo(tmp: Path) -> Path:
    os.mkfifo(tmp / "pipe")
    return tmp / "pipe"


def _missing_folder(tmp: Path) -> Path:
    return tmp / "no" / "such" / "board.csv"


def _under_a_file(tmp: Path) -> Path:
    (tmp / "plain").write_text("x")
    return tmp / "plain" / "board.csv"


DESTINATIONS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "folder": (_folder, "is a folder"),
    "fifo": (_fifo, "not a regular file"),
    "/dev/full": (lambda _: Path("/dev/full"), "not a regular file"),
    "/dev/null": (lambda _: Path("/dev/null"), "not a regular file"),
    "missing folder": (_missing_folder, "does not exist"),
    "under a file": (_under_a_file, "does not exist"),
}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("kind", sorted(DESTINATIONS))
def test_export_to_an_impossible_destination(
    cli: Any, store: Path, tmp_path: Path, kind: str, fmt: str
) -> None:
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    make, fragment = DESTINATIONS[kind]
    destination = make(tmp_path)
    result = cli("export", "--format", fmt, "-o", destination, "--db", store)
    assert_one_line_error(result, fragment)


def test_export_to_standard_output_on_a_full_disk(store: Path) -> None:
    """Writing the leaderboard to stdout when it is /dev/full: the OS error is one line."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    env.pop("ASSAY_DEBUG", None)
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "assay", "export", "--format", "csv", "--db", str(store)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=60,
        )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0], done.stderr


def test_export_replaces_a_file_whole(cli: Any, store: Path, tmp_path: Path) -> None:
    target = tmp_path / "board.csv"
    target.write_text("earlier\n")
    target.chmod(0o640)
    result = cli("export", "--format", "csv", "-o", target, "--db", store)
    assert result.code == 0, result.err
    assert target.read_text().startswith("model,") or "mock/oracle" in target.read_text()
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@needs_bwrap
@pytest.mark.slow
def test_export_into_a_read_only_folder_keeps_the_earlier_file(store: Path, tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    target = folder / "board.csv"
    target.write_text("earlier export\n")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    env.pop("ASSAY_DEBUG", None)
    command = ["bwrap", "--bind", "/", "/", "--dev", "/dev", "--ro-bind", str(folder), str(folder)]
    command += [sys.executable, "-m", "assay", "export", "--format", "csv"]
    command += ["-o", str(target), "--db", str(store)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot write" in lines[0], done.stderr
    assert target.read_text() == "earlier export\n"
