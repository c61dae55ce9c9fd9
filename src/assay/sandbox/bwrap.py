"""The boundary: a bubblewrap command line, and which Python runs inside it.

`bwrap` (Debian's `bubblewrap`) builds the sandbox from kernel namespaces before the program's
first line runs; see docs/sandbox.md for what that contains and what it does not. Run as root,
assay starts `bwrap` as the unprivileged host user `SANDBOX_UID` (nobody), which then creates
its own user namespace: inside and outside, the program is nobody, so its process limit is
enforced (the kernel never enforces RLIMIT_NPROC on host root, even mapped to another uid) and
no file permission of root applies to it.

`ASSAY_SANDBOX=none` runs programs without this boundary (only limits, a timeout and a clean
environment remain): for a user already inside a disposable container, never by default.
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assay.errors import UserError

SANDBOX_UID = 65534  # nobody
MODE_VARIABLE = "ASSAY_SANDBOX"
PYTHON_VARIABLE = "ASSAY_SANDBOX_PYTHON"
MODES = ("bwrap", "none")
INSTALL = (
    "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install "
    "bubblewrap), or set ASSAY_SANDBOX=none to run it without isolation (unsafe: only inside "
    "a disposable container)"
)
SYSTEM_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"


class SandboxUnavailable(UserError):
    """Untrusted code cannot be run here as asked; the message says what to install or set."""


def mode() -> str:
    """`bwrap` (the default) or `none` (no isolation, opted into explicitly)."""
    value = os.environ.get(MODE_VARIABLE, "bwrap").strip().lower() or "bwrap"
    if value not in MODES:
        raise SandboxUnavailable(
            f"{MODE_VARIABLE}={value!r} is not a sandbox: use bwrap (the default) or none "
            "(no isolation, unsafe)"
        )
    return value


def bwrap_executable() -> str:
    found = shutil.which("bwrap")
    if found is None:
        raise SandboxUnavailable(f"running generated code needs bwrap, which is missing: {INSTALL}")
    return found


@dataclass(frozen=True)
class Interpreter:
    executable: str
    prefix: str  # its installation (sys.base_prefix), bound read-only into the sandbox


def _reachable_by_others(path: str) -> bool:
    """Whether a user who is neither owner nor group can reach (and run) `path`."""
    current = os.path.realpath(path)
    while True:
        try:
            mode_bits = os.stat(current).st_mode
        except OSError:
            return False
        if not mode_bits & stat.S_IXOTH:
            return False
        parent = os.path.dirname(current)
        if parent == current:
            return True
        current = parent


def _prefix_of(executable: str) -> str:
    try:
        probe = subprocess.run(
            [executable, "-I", "-S", "-c", "import sys; print(sys.base_prefix)"],
            capture_output=True,
            text=True,
            timeout=30,
            env={"PATH": SANDBOX_PATH},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        probe = None
    if probe is None or probe.returncode != 0 or not probe.stdout.strip():
        raise SandboxUnavailable(
            f"{executable} does not run as a Python interpreter: set {PYTHON_VARIABLE} to a "
            "python3 executable"
        )
    return os.path.realpath(probe.stdout.strip())


@functools.cache
def interpreter() -> Interpreter:
    """The Python that runs programs: ASSAY_SANDBOX_PYTHON, else the one running assay (its
    base installation, not a virtual environment) when the sandbox user can reach it, else
    the system's python3."""
    chosen = os.environ.get(PYTHON_VARIABLE)
    if chosen:
        executable = shutil.which(chosen) or chosen
        if not os.path.isfile(executable):
            raise SandboxUnavailable(
                f"{PYTHON_VARIABLE}={chosen!r} is not a file: set it to a python3 executable"
            )
        return Interpreter(os.path.realpath(executable), _prefix_of(executable))
    own = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    if not _runs_as_other_user() or _reachable_by_others(own):
        return Interpreter(own, os.path.realpath(sys.base_prefix))
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.path.isfile(candidate) and _reachable_by_others(candidate):
            return Interpreter(os.path.realpath(candidate), _prefix_of(candidate))
    raise SandboxUnavailable(
        f"the sandbox user (uid {SANDBOX_UID}) cannot reach the Python at {own} (a folder on "
        f"its path is private): set {PYTHON_VARIABLE} to a python3 every user can run, such "
        "as /usr/bin/python3"
    )


def _runs_as_other_user() -> bool:
    """Root hands the sandbox to nobody; anyone else runs it as themselves."""
    return os.geteuid() == 0


def spawn_options() -> dict[str, Any]:
    """`subprocess.Popen` arguments that start bwrap as the sandbox user (set in C, no hooks)."""
    if _runs_as_other_user():
        return {"user": SANDBOX_UID, "group": SANDBOX_UID, "extra_groups": []}
    return {}


def _covered(path: str, bound: Sequence[str]) -> bool:
    return any(path == b or path.startswith(b.rstrip("/") + "/") for b in bound)


@functools.cache
def _system_mounts(executable: str, prefix: str) -> tuple[str, ...]:
    """Read-only views of what Python needs: /usr, the /bin and /lib* links or folders, the
    loader's cache and the interpreter's own installation. Nothing else of the host."""
    args = ["--ro-bind", "/usr", "/usr"]
    bound = ["/usr"]
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
            bound.append(path)
    args += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    for path in (prefix, os.path.dirname(executable)):
        if not _covered(path, bound):
            args += ["--ro-bind", path, path]
            bound.append(path)
    return tuple(args)


def command(
    program_args: Sequence[str], *, status_fd: int, disk_bytes: int, python: Interpreter
) -> list[str]:
    """bwrap running `python program_args` in a fresh sandbox whose only writable place is a
    private /tmp of at most `disk_bytes`."""
    return [
        bwrap_executable(),
        "--unshare-all",  # user, mount, pid, network, ipc, uts and cgroup namespaces
        "--unshare-user",
        "--disable-userns",  # no nested namespaces: nothing to gain capabilities in
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--hostname",
        "sandbox",
        "--die-with-parent",
        "--as-pid-1",  # the entry is init: bwrap exits only once the namespace is empty
        "--new-session",  # no TIOCSTI into a terminal it shares
        "--clearenv",
        "--setenv",
        "PATH",
        SANDBOX_PATH,
        "--setenv",
        "LANG",
        "C.UTF-8",
        "--setenv",
        "HOME",
        "/tmp",
        "--setenv",
        "TMPDIR",
        "/tmp",
        "--setenv",
        "PYTHONHASHSEED",
        "0",
        "--json-status-fd",
        str(status_fd),
        *_system_mounts(python.executable, python.prefix),
        "--proc",
        "/proc",
        "--dev",  # null, zero, full, random, urandom, tty, pts, shm on a tmpfs ...
        "/dev",
        "--remount-ro",  # ... that is then read-only: no unbounded memory-backed folder
        "/dev",
        "--size",
        str(disk_bytes),
        "--tmpfs",
        "/tmp",
        "--remount-ro",
        "/",
        "--chdir",
        "/tmp",
        "--",
        python.executable,
        *program_args,
    ]
