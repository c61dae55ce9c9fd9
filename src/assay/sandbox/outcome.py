"""How one sandboxed program ended, as a structured result.

`status` is one of:
- `passed`: the program ran to its end (every assert held);
- `failed`: an `AssertionError` (a test did not hold): `line` and `source` say which assert;
- `error`: another exception (`exception`, `message`, `line`, `source`); a SystemExit too, as
  in HumanEval's own harness: a program that exits early has not run its tests;
- `timeout`: the wall-clock limit ran out and the sandbox was killed;
- `limit`: a resource limit stopped it; `limit` names it (cpu, memory, file_size, disk,
  open_files, processes);
- `crashed`: it ended without a result (os._exit, a signal, an interpreter crash);
  `returncode` and `signal` say how.
"""

from __future__ import annotations

import ast
import errno as errnos
import signal as signals
from dataclasses import asdict, dataclass
from typing import Any

STATUSES = ("passed", "failed", "error", "timeout", "limit", "crashed")
_ERRNO_LIMITS = {
    errnos.EFBIG: "file_size",
    errnos.ENOSPC: "disk",  # the private /tmp is full
    errnos.EMFILE: "open_files",
    errnos.EAGAIN: "processes",  # fork, clone and thread creation past RLIMIT_NPROC
}


@dataclass(frozen=True)
class Outcome:
    status: str
    exception: str | None = None  # the exception's type name, e.g. "AssertionError"
    message: str | None = None  # str() of the exception, at most 1000 characters
    line: int | None = None  # line of the program where it was raised (innermost)
    source: str | None = None  # that line's text, e.g. "assert candidate(3) == 5"
    limit: str | None = None  # which resource limit, for status "limit"
    returncode: int | None = None  # exit status; None after a timeout
    signal: str | None = None  # the signal that ended it, e.g. "SIGKILL"
    stdout: str = ""  # last 2000 characters
    stderr: str = ""  # last 2000 characters
    wall_s: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (for storing and showing per-sample results)."""
        return asdict(self)


def read_result(text: str) -> dict[str, Any] | None:
    """The entry's one-line report, or None when there is none (or it is not one)."""
    line = text.split("\n", 1)[0].strip()
    if not line:
        return None
    try:
        value = ast.literal_eval(line)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if not isinstance(value, dict) or value.get("ended") not in ("finished", "exception"):
        return None
    return value


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def signal_name(returncode: int | None) -> str | None:
    """The signal a child died of: negative for a direct child, 128+n through bwrap."""
    if returncode is None:
        return None
    number = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
    if number <= 0:
        return None
    try:
        return signals.Signals(number).name
    except ValueError:
        return f"signal {number}"


def classify(
    result: dict[str, Any] | None,
    *,
    returncode: int | None,
    timed_out: bool,
    **output: Any,
) -> Outcome:
    """One Outcome from what the entry reported and how the process ended."""
    if timed_out:
        return Outcome("timeout", returncode=returncode, **output)
    died_of = signal_name(returncode)
    if result is not None and result["ended"] == "finished" and returncode == 0:
        return Outcome("passed", returncode=returncode, **output)
    if result is not None and result["ended"] == "exception":
        exception = _text(result.get("exception")) or "Exception"
        limit = None
        if exception == "MemoryError":
            limit = "memory"
        elif exception in ("BlockingIOError", "OSError", "PermissionError", "RuntimeError"):
            limit = _ERRNO_LIMITS.get(_int(result.get("errno")) or 0)
            if exception == "RuntimeError" and "new thread" in (result.get("message") or ""):
                limit = "processes"
        status = "limit" if limit else "failed" if exception == "AssertionError" else "error"
        return Outcome(
            status,
            exception=exception,
            message=_text(result.get("message")),
            line=_int(result.get("line")),
            source=_text(result.get("source")),
            limit=limit,
            returncode=returncode,
            signal=died_of,
            **output,
        )
    if died_of == "SIGXCPU":  # the CPU limit's warning; its SIGKILL a second later is a crash
        return Outcome("limit", limit="cpu", returncode=returncode, signal=died_of, **output)
    if died_of == "SIGXFSZ":
        return Outcome("limit", limit="file_size", returncode=returncode, signal=died_of, **output)
    return Outcome("crashed", returncode=returncode, signal=died_of, **output)
