"""The first code to run inside the sandbox: set limits, run the program, report how it ended.

Passed as `python -I -S -B -c <this file> cpu_s memory_bytes file_bytes open_files processes
result_fd` with the program on stdin and a result file open on `result_fd`. It is the trusted
start of the sandboxed process, so it imports almost nothing (start-up time is most of a
HumanEval check), and the limits are hard before a line of the program runs.

The result is one line on `result_fd`, a Python literal read with `ast.literal_eval`:
    {"ended": "finished"}  or
    {"ended": "exception", "exception": ..., "message": ..., "errno": ..., "line": ...,
     "source": ...}
A program can write to that descriptor too; the result says how the program ended, not that its
tests are honest (see docs/sandbox.md).
"""

# contextlib would be the start-up's most expensive import: try/except/pass instead
# ruff: noqa: SIM105

from __future__ import annotations

import os
import resource
import sys

PROGRAM = "program.py"
MESSAGE = 1000


def _limit(cpu_s: int, memory: int, file_bytes: int, open_files: int, processes: int) -> None:
    # CPU: SIGXCPU at the soft limit, SIGKILL a second later (a handler cannot outlast it).
    for kind, soft, hard in (
        (resource.RLIMIT_CPU, cpu_s, cpu_s + 1),
        (resource.RLIMIT_AS, memory, memory),
        (resource.RLIMIT_FSIZE, file_bytes, file_bytes),
        (resource.RLIMIT_NOFILE, open_files, open_files),
        (resource.RLIMIT_NPROC, processes, processes),
        (resource.RLIMIT_CORE, 0, 0),
    ):
        _, current = resource.getrlimit(kind)
        if current != resource.RLIM_INFINITY:
            hard = min(hard, current)
            soft = min(soft, hard)
        resource.setrlimit(kind, (soft, hard))


def _where(error: BaseException, lines: list[str]) -> tuple[int | None, str | None]:
    """The innermost line of the program the exception passed through, and its text."""
    line = None
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == PROGRAM:
            line = tb.tb_lineno
        tb = tb.tb_next
    if line is None and isinstance(error, SyntaxError) and error.filename == PROGRAM:
        line = error.lineno
    if line is None or not 1 <= line <= len(lines):
        return line, None
    return line, lines[line - 1].strip()[:MESSAGE]


def _report(fd: int, result: dict[str, object]) -> None:
    try:
        os.write(fd, (repr(result) + "\n").encode("utf-8", "replace"))
    except OSError:
        pass


def _show(error: BaseException, lines: list[str]) -> None:
    """A traceback of the program's own frames on stderr (`traceback` costs more to import
    than the rest of the start-up, and most programs a model writes fail)."""
    out = ["Traceback (most recent call last):\n"]
    tb = error.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename == PROGRAM:
            out.append(f'  File "{PROGRAM}", line {tb.tb_lineno}, in {code.co_name}\n')
            if 1 <= tb.tb_lineno <= len(lines):
                out.append(f"    {lines[tb.tb_lineno - 1].strip()}\n")
        tb = tb.tb_next
    if isinstance(error, SyntaxError):
        out.append(f'  File "{PROGRAM}", line {error.lineno}\n    {(error.text or "").strip()}\n')
    kind = type(error)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    message = error.msg if isinstance(error, SyntaxError) else str(error)
    out.append(f"{name}: {message}\n" if message else f"{name}\n")
    try:
        sys.stderr.write("".join(out))
    except Exception:
        pass


def _serve_as_init() -> None:
    """As PID 1 of the sandbox, fork: the program runs in the child, where signals behave as
    usual. This process reaps orphans and exits with the program's status; its exit makes the
    kernel kill everything left in the namespace before bwrap sees it go."""
    program = os.fork()
    if program == 0:
        return
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(1)
        if pid == program:
            code = os.waitstatus_to_exitcode(status)
            os._exit(code if code >= 0 else 128 - code)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def main() -> None:
    cpu_s, memory, file_bytes, open_files, processes, result_fd = (int(a) for a in sys.argv[1:7])
    _limit(cpu_s, memory, file_bytes, open_files, processes)
    os.set_inheritable(result_fd, False)
    del sys.argv[1:]
    source = sys.stdin.buffer.read().decode("utf-8", "replace")
    lines = source.splitlines()
    if os.getpid() == 1:
        _serve_as_init()
    me = os.getpid()
    try:
        code = compile(source, PROGRAM, "exec")
        exec(code, {"__name__": "__main__", "__file__": PROGRAM, "__builtins__": __builtins__})
    except BaseException as error:  # every way a program ends is a result
        if os.getpid() != me:  # a child the program forked: only the program itself reports
            os._exit(1)
        line, text = _where(error, lines)
        errno = getattr(error, "errno", None)
        _report(
            result_fd,
            {
                "ended": "exception",
                "exception": type(error).__qualname__,
                "message": str(error)[:MESSAGE],
                "errno": errno if isinstance(errno, int) else None,
                "line": line,
                "source": text,
            },
        )
        _show(error, lines)
        _flush()
        os._exit(1)
    if os.getpid() == me:
        _report(result_fd, {"ended": "finished"})
    else:
        os._exit(0)


main()
