"""Run one Python program in the sandbox and say how it ended.

Each program runs in a fresh bubblewrap sandbox (`assay.sandbox.bwrap`): its own unprivileged
user, read-only system folders, a private size-capped /tmp as the only writable place, and its
own PID, network, IPC and UTS namespaces. Inside, `_entry.py` sets hard resource limits (CPU,
address space, file size, open files, processes), becomes the namespace's init and runs the
program, read from stdin, in its child; the child writes one result line to a descriptor of
its own. The parent waits on a pidfd up to the wall-clock limit; past it, it kills the
sandbox's init (the kernel then kills everything in the namespace) and bwrap's process group.
When `run_python` returns, nothing the program started is left.

stdout, stderr and the result go to files the parent opened in a private folder of its own,
capped by the file-size limit. Whatever the program does, the result is one `Outcome`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import select
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from assay.sandbox import bwrap
from assay.sandbox.outcome import Outcome, classify, read_result

# without its docstring: the source is on the command line, shown by ps for each sandbox
ENTRY = Path(__file__).with_name("_entry.py").read_text(encoding="utf-8").split('"""', 2)[2]
TAIL = 2000
KILL_GRACE_S = 5.0
RESULT_LIMIT = 8192


@dataclass(frozen=True)
class Limits:
    """What one program may use. Memory, CPU and file size are per process, so the whole
    sandbox holds at most `processes` x `memory_bytes` of memory, plus `disk_bytes`."""

    timeout_s: float = 10.0  # wall clock, the whole sandbox
    cpu_s: int = 10  # per process: SIGXCPU, then SIGKILL a second later
    memory_bytes: int = 1 << 30  # address space per process
    file_bytes: int = 16 << 20  # largest file written, stdout and stderr included
    open_files: int = 64
    processes: int = 8  # processes and threads, the sandbox's init and the program included
    disk_bytes: int = 64 << 20  # the private /tmp (memory-backed): all files together

    def entry_args(self, result_fd: int) -> list[str]:
        values = (self.cpu_s, self.memory_bytes, self.file_bytes, self.open_files, self.processes)
        return ["-I", "-S", "-B", "-c", ENTRY, *(str(int(v)) for v in values), str(result_fd)]


def _tail(f: IO[bytes], limit: int = TAIL) -> str:
    f.seek(0, os.SEEK_END)
    size = f.tell()
    f.seek(max(0, size - limit))
    return f.read().decode("utf-8", "replace")


def _exits_within(pid: int, timeout: float) -> bool:
    """Whether process `pid` (a child) ends within `timeout` seconds."""
    try:
        pidfd = os.pidfd_open(pid)  # wakes the moment it exits, unlike Popen.wait's polling
    except (AttributeError, OSError):  # not Linux, or an old kernel
        deadline = time.monotonic() + timeout
        while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True
    try:
        return bool(select.select([pidfd], [], [], timeout)[0])
    finally:
        os.close(pidfd)


def _kill_sandbox(proc: subprocess.Popen[bytes], status: IO[bytes]) -> None:
    """Kill the sandbox's init, so that bwrap reaps it, and the kernel everything in its
    namespace, before bwrap exits; then bwrap's process group, whatever state it was in."""
    init = _child_pid(status)
    if init is not None:
        with contextlib.suppress(OSError):
            pidfd = os.pidfd_open(init)
            try:
                if _parent_of(init) == proc.pid:  # still bwrap's child, not a reused pid
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            finally:
                os.close(pidfd)
        _exits_within(proc.pid, KILL_GRACE_S)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _child_pid(status: IO[bytes]) -> int | None:
    status.seek(0)
    match = re.search(rb'"child-pid"\s*:\s*(\d+)', status.read(4096))
    return int(match.group(1)) if match else None


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _spawn(
    command: list[str],
    cwd: str,
    env: dict[str, str] | None,
    files: Mapping[str, IO[bytes]],
    **kw: Any,
) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=env if env is not None else {},
            stdin=files["program"],
            stdout=files["stdout"],
            stderr=files["stderr"],
            start_new_session=True,
            **kw,
        )
    except OSError as error:
        raise bwrap.SandboxUnavailable(
            f"cannot start the sandbox ({command[0]}: {error.strerror}): {bwrap.INSTALL}"
        ) from None


def run_python(program: str, limits: Limits | None = None) -> Outcome:
    """Run `program` in the sandbox confined by `limits`; see `Outcome` for what comes back.

    Raises `SandboxUnavailable` (a UserError) when no sandbox can be made here."""
    limits = limits or Limits()
    sandboxed = bwrap.mode() == "bwrap"
    python = bwrap.interpreter()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="assay-sandbox-") as io, contextlib.ExitStack() as up:
        source = Path(io, "program")
        source.write_bytes(program.encode("utf-8", "surrogatepass"))
        files: dict[str, IO[bytes]] = {"program": up.enter_context(source.open("rb"))}
        for name in ("stdout", "stderr", "result", "status"):
            files[name] = up.enter_context(open(os.path.join(io, name), "w+b"))
        result_fd, status_fd = files["result"].fileno(), files["status"].fileno()
        args = limits.entry_args(result_fd)
        if sandboxed:
            command = bwrap.command(
                args, status_fd=status_fd, disk_bytes=limits.disk_bytes, python=python
            )
            options = {"pass_fds": (result_fd, status_fd), **bwrap.spawn_options()}
            proc = _spawn(command, io, None, files, **options)
        else:
            work = os.path.join(io, "work")
            os.mkdir(work)
            env = {"PATH": bwrap.SANDBOX_PATH, "LANG": "C.UTF-8", "HOME": work}
            env |= {"TMPDIR": work, "PYTHONHASHSEED": "0"}
            proc = _spawn([python.executable, *args], work, env, files, pass_fds=(result_fd,))
        timed_out = True
        try:
            timed_out = not _exits_within(proc.pid, limits.timeout_s)
        finally:
            if timed_out and sandboxed:
                _kill_sandbox(proc, files["status"])
            elif timed_out:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if sandboxed and not timed_out and _child_pid(files["status"]) is None:
            raise bwrap.SandboxUnavailable(
                f"bubblewrap could not create the sandbox ({_first_line(files['stderr'])}): "
                "it needs unprivileged user namespaces (sysctl user.max_user_namespaces > 0, "
                "kernel.unprivileged_userns_clone=1); or set ASSAY_SANDBOX=none to run "
                "generated code without isolation (unsafe: only in a disposable container)"
            )
        return classify(
            read_result(_tail(files["result"], RESULT_LIMIT)),
            returncode=None if timed_out else proc.returncode,
            timed_out=timed_out,
            stdout=_tail(files["stdout"]),
            stderr=_tail(files["stderr"]),
            wall_s=time.monotonic() - started,
        )


def _first_line(f: IO[bytes]) -> str:
    f.seek(0)
    lines = f.read(2000).decode("utf-8", "replace").strip().splitlines()
    return lines[0] if lines else "no message"


@functools.cache
def require_sandbox() -> None:
    """Fail now, in one line, if programs cannot be run here the way `ASSAY_SANDBOX` asks."""
    outcome = run_python("pass", Limits(timeout_s=30))
    if not outcome.passed:
        raise bwrap.SandboxUnavailable(
            f"the code sandbox cannot run even an empty program ({outcome.status}: "
            f"{(outcome.stderr.strip().splitlines() or ['no message'])[-1]})"
        )
