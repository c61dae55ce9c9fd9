"""Run one Python program in a sandbox and say whether it exited cleanly.

Each program gets a fresh temporary working directory and a child interpreter started by
`_guard.py`, which (before any untrusted line runs):

- enters new network and PID namespaces (plus a user namespace when not root), so there is no
  network interface but loopback-less isolation, and killing the namespace's first process
  kills every process the program started, even ones that left the process group;
- sets resource limits: CPU seconds, address space, size of files written, open files, and
  (when not root) the number of processes;
- installs an audit hook that refuses sockets, fork/exec/subprocess, ctypes, and any write,
  rename or delete outside the working directory.

The parent enforces a wall-clock timeout and kills the whole process group. stdout and stderr
go to files outside the working directory, capped by the file-size limit. Whatever the program
does, the result is one `Outcome` for this program; nothing else is affected.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

GUARD = Path(__file__).with_name("_guard.py")
TAIL = 2000


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 10.0
    cpu_s: int = 10
    memory_bytes: int = 1 << 30
    file_bytes: int = 16 << 20
    open_files: int = 64
    processes: int = 64


@dataclass(frozen=True)
class Outcome:
    passed: bool
    status: str  # passed | failed | timeout
    returncode: int | None
    stdout: str
    stderr: str
    wall_s: float


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - TAIL))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def run_python(program: str, limits: Limits | None = None) -> Outcome:
    """Run `program` confined by `limits`; passed means exit status 0 within the time limit."""
    limits = limits or Limits()
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="assay-sandbox-") as work,
        tempfile.TemporaryDirectory(prefix="assay-sandbox-io-") as io,
    ):
        Path(work, "program.py").write_text(program, encoding="utf-8")
        out_path, err_path = Path(io, "stdout"), Path(io, "stderr")
        command = [sys.executable, "-I", "-B", str(GUARD), json.dumps(asdict(limits)), work]
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen(
                command,
                cwd=work,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
            status = "failed"
            try:
                code: int | None = proc.wait(timeout=limits.timeout_s)
            except subprocess.TimeoutExpired:
                status, code = "timeout", None
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if code == 0:
            status = "passed"
        return Outcome(
            passed=status == "passed",
            status=status,
            returncode=code,
            stdout=_tail(out_path),
            stderr=_tail(err_path),
            wall_s=time.monotonic() - started,
        )
