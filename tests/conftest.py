"""Shared fixtures: the real benchmark data beside the checkout, and running the CLI in-process."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from assay.cli import main

# The throwaway PostgreSQL server fixtures (postgres_server, postgres_url).
pytest_plugins = ["tests.postgres"]

REPO = Path(__file__).resolve().parents[1]
# Read once at import: the tests themselves run with ASSAY_DATA_DIR unset (see _isolated_env).
DATA_DIR_ENV = os.environ.get("ASSAY_DATA_DIR")


def find_data_dir() -> Path | None:
    """The benchmark data: $ASSAY_DATA_DIR, else ../shared/data beside the checkout."""
    candidates = [Path(DATA_DIR_ENV)] if DATA_DIR_ENV else []
    candidates.append(REPO / ".." / "shared" / "data")
    for candidate in candidates:
        if (candidate / "mmlu").is_dir():
            return candidate.resolve()
    return None


# For modules that need the path at import time; tests should take the `data_dir` fixture,
# which skips with a reason when the data is missing.
DATA_DIR = find_data_dir() or (REPO / ".." / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    found = find_data_dir()
    if found is None:
        pytest.skip(
            "benchmark data not found: set ASSAY_DATA_DIR or put it at ../shared/data "
            "beside the checkout"
        )
    return found


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test reads or writes the user's ./assay.db or picks up their data dir."""
    monkeypatch.delenv("ASSAY_DB", raising=False)
    monkeypatch.delenv("ASSAY_DATA_DIR", raising=False)
    monkeypatch.setenv("ASSAY_DEBUG", "1")  # a bug in assay fails its test with the traceback
    monkeypatch.chdir(tmp_path)
    yield


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> object:
    def run(*args: str) -> CliResult:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def run_cli(*args: object) -> CliResult:
    """The CLI in-process without capsys, for fixtures wider than one test (scope="module")."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return CliResult(code, out.getvalue(), err.getvalue())


def env_with(**values: str) -> dict[str, str]:
    return {**os.environ, **values}
