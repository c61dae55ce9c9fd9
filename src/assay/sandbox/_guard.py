"""Sandbox entry point: confine this process, then run `program.py` in the working directory.

Run as `python -I -B _guard.py '<limits json>' <workdir>`. Everything before `_run` is trusted
set-up; see `assay.sandbox.runner` for what each step protects against.
"""

import json
import os
import resource
import sys

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
CLONE_NEWPID = 0x20000000

BLOCKED_EVENTS = {
    "socket.__new__",
    "socket.connect",
    "socket.bind",
    "socket.getaddrinfo",
    "socket.sendto",
    "os.fork",
    "os.forkpty",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.kill",
    "os.killpg",
    "subprocess.Popen",
    "pty.spawn",
    "ctypes.dlopen",
    "ctypes.dlsym",
    "ctypes.cdata",
    "ctypes.call_function",
    "mmap.__new__",
}
BLOCKED_MODULES = {"ctypes", "_ctypes", "cffi", "_posixsubprocess", "multiprocessing"}
PATH_EVENTS = {
    "os.remove",
    "os.rmdir",
    "os.mkdir",
    "os.chmod",
    "os.chown",
    "os.truncate",
    "os.utime",
    "os.symlink",
    "os.link",
    "os.rename",
    "shutil.rmtree",
    "shutil.move",
    "shutil.copyfile",
}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _isolate() -> bool:
    """New network and PID namespaces (and a user namespace when unprivileged)."""
    import ctypes  # only here: the program must find no reference to it

    flags = CLONE_NEWNET | CLONE_NEWPID | (0 if os.geteuid() == 0 else CLONE_NEWUSER)
    libc = ctypes.CDLL(None, use_errno=True)
    return bool(libc.unshare(flags) == 0)


def _limit(limits: dict[str, int]) -> None:
    def cap(kind: int, value: int) -> None:
        _soft, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(kind, (value, value))

    cap(resource.RLIMIT_CPU, int(limits["cpu_s"]))
    cap(resource.RLIMIT_AS, int(limits["memory_bytes"]))
    cap(resource.RLIMIT_FSIZE, int(limits["file_bytes"]))
    cap(resource.RLIMIT_NOFILE, int(limits["open_files"]))
    cap(resource.RLIMIT_CORE, 0)
    if os.geteuid() != 0:  # root ignores RLIMIT_NPROC; the audit hook stops forks there
        cap(resource.RLIMIT_NPROC, int(limits["processes"]))


def _guard(root: str) -> None:
    def inside(path: object) -> bool:
        if isinstance(path, int):  # a file descriptor already opened
            return True
        try:
            real = os.path.realpath(os.fsdecode(path))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
        return real == root or real.startswith(root + os.sep) or real == os.devnull

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event in BLOCKED_EVENTS:
            raise PermissionError(f"sandbox: {event} is not allowed")
        if event == "import" and str(args[0]).split(".")[0] in BLOCKED_MODULES:
            raise PermissionError(f"sandbox: importing {args[0]} is not allowed")
        if event == "open" and len(args) >= 3:
            path, mode, flags = args[0], args[1], args[2]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & WRITE_FLAGS
            )
            if writing and not inside(path):
                raise PermissionError(f"sandbox: writing {path!r} is not allowed")
        elif event in PATH_EVENTS:
            for path in args[:2]:
                if isinstance(path, (str, bytes, os.PathLike)) and not inside(path):
                    raise PermissionError(f"sandbox: {event} on {path!r} is not allowed")

    sys.addaudithook(hook)


def _run(root: str) -> None:
    path = os.path.join(root, "program.py")
    with open(path, encoding="utf-8") as f:
        source = f.read()
    code = compile(source, path, "exec")
    for name in [m for m in sys.modules if m.split(".")[0] in BLOCKED_MODULES]:
        del sys.modules[name]
    _guard(root)
    exec(code, {"__name__": "__main__", "__file__": path})


def main() -> None:
    limits = json.loads(sys.argv[1])
    root = os.path.realpath(sys.argv[2])
    os.chdir(root)
    sys.path.insert(0, root)
    isolated = _isolate()
    if isolated:
        # The first child is PID 1 of the new namespace: when it exits, the kernel kills every
        # process left in it. The program runs in its child, where signals behave normally.
        for _ in range(2):
            pid = os.fork()
            if pid:
                _, status = os.waitpid(pid, 0)
                os._exit(os.waitstatus_to_exitcode(status) & 0xFF if status else 0)
    _limit(limits)
    _run(root)


if __name__ == "__main__":
    main()
