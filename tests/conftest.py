"""Shared fixtures: the real benchmark data beside the checkout, and running the CLI in-process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from assay.cli import main

# The throwaway PostgreSQL server fixtures (postgres_server, postgres_url).
pytest_plugins = ["tests.postgres"]

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = (REPO / ".." / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "mmlu").is_dir():
        pytest.fail(f"benchmark data not found at {DATA_DIR}: tests read ../shared/data")
    return DATA_DIR


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


def env_with(**values: str) -> dict[str, str]:
    return {**os.environ, **values}
