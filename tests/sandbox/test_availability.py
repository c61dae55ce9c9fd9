"""No sandbox, no untrusted code: one clear line, never a silent fallback."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.sandbox import SandboxUnavailable, require_sandbox, run_python
from assay.sandbox import bwrap as boundary
from assay.sandbox import runner as sandbox_runner


@pytest.fixture(autouse=True)
def _fresh_choices() -> Iterator[None]:
    boundary.interpreter.cache_clear()
    sandbox_runner.require_sandbox.cache_clear()
    yield
    boundary.interpreter.cache_clear()
    sandbox_runner.require_sandbox.cache_clear()


@pytest.fixture
def no_bwrap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("ASSAY_SANDBOX", raising=False)


@pytest.mark.usefixtures("no_bwrap")
def test_without_bwrap_nothing_runs_and_the_error_says_how_to_fix_it(tmp_path: Path) -> None:
    target = tmp_path / "ran"
    with pytest.raises(SandboxUnavailable) as error:
        run_python(f"open({str(target)!r}, 'w')")
    message = str(error.value)
    assert "\n" not in message
    assert "apt-get install bubblewrap" in message and "ASSAY_SANDBOX=none" in message
    assert not target.exists()
    with pytest.raises(SandboxUnavailable):
        require_sandbox()


@pytest.mark.usefixtures("no_bwrap")
def test_assay_run_refuses_code_benchmarks_before_storing_anything(
    cli: object, data_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "runs.db"
    result = cli(  # type: ignore[operator]
        "run", "humaneval", "--model", "mock/oracle", "--limit", "2",
        "--data-dir", str(data_dir), "--db", str(db),
    )  # fmt: skip
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "bubblewrap" in lines[0] and "Traceback" not in result.err
    assert not db.exists()


@pytest.mark.usefixtures("no_bwrap")
def test_none_is_an_explicit_opt_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_SANDBOX", "none")
    outcome = run_python("import os\nprint(os.getcwd())\nopen('scratch', 'w').write('x')")
    assert outcome.passed, outcome
    monkeypatch.setenv("ASSAY_SANDBOX", "audit-hook")
    with pytest.raises(SandboxUnavailable, match=r"use bwrap .* or none"):
        run_python("pass")


@pytest.fixture
def fake_bwrap(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A bwrap on PATH that any user (the sandbox user too) can run; the test writes it."""
    folder = Path(tempfile.mkdtemp(prefix="assay-fake-bwrap-"))
    folder.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")
    try:
        yield folder / "bwrap"
    finally:
        shutil.rmtree(folder)


def test_a_bwrap_that_cannot_build_the_sandbox_is_reported(fake_bwrap: Path) -> None:
    fake_bwrap.write_text(
        "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n"
    )
    fake_bwrap.chmod(0o755)
    with pytest.raises(SandboxUnavailable) as error:
        run_python("pass")
    assert "could not create the sandbox" in str(error.value)
    assert "No permissions to create new namespace" in str(error.value)
    assert "\n" not in str(error.value)


def test_a_bwrap_that_cannot_start_is_reported(fake_bwrap: Path) -> None:
    fake_bwrap.write_bytes(b"\x7fELF not really")
    fake_bwrap.chmod(0o755)
    with pytest.raises(SandboxUnavailable, match="cannot start the sandbox"):
        run_python("pass")


def test_a_chosen_interpreter_must_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ASSAY_SANDBOX_PYTHON", str(tmp_path / "no-python"))
    with pytest.raises(SandboxUnavailable, match="ASSAY_SANDBOX_PYTHON"):
        run_python("pass")
    boundary.interpreter.cache_clear()
    not_python = tmp_path / "not-python"
    not_python.write_text("#!/bin/sh\nexit 3\n")
    not_python.chmod(0o755)
    monkeypatch.setenv("ASSAY_SANDBOX_PYTHON", str(not_python))
    with pytest.raises(SandboxUnavailable, match="does not run as a Python interpreter"):
        run_python("pass")


@pytest.mark.usefixtures("usable_sandbox")
def test_a_chosen_interpreter_runs_the_program(monkeypatch: pytest.MonkeyPatch) -> None:
    chosen = shutil.which("python3", path="/usr/bin:/usr/local/bin") or sys.executable
    monkeypatch.setenv("ASSAY_SANDBOX_PYTHON", chosen)
    outcome = run_python("import sys\nprint(sys.executable)")
    assert outcome.passed, outcome
    assert boundary.interpreter().executable == outcome.stdout.strip()
