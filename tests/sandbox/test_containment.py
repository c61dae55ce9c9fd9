"""Every escape a program under test might try, tried for real and without harm.

Each attack aims at something this test owns (a file in its tmp_path, a helper process it
started, a listener it opened). Where the attack is safe to run unconfined, the same program
also runs with ASSAY_SANDBOX=none and must succeed there: proof that the attack is real and
that the boundary, not a typo in the attack, is what stopped it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assay.sandbox import Limits, Outcome, run_python
from assay.sandbox.bwrap import SANDBOX_UID, interpreter

pytestmark = pytest.mark.usefixtures("usable_sandbox")

FAST = Limits(timeout_s=20, cpu_s=10, memory_bytes=512 << 20)


def run(program: str, limits: Limits = FAST) -> Outcome:
    return run_python(program, limits)


def unconfined(program: str, monkeypatch: pytest.MonkeyPatch) -> Outcome:
    with monkeypatch.context() as m:
        m.setenv("ASSAY_SANDBOX", "none")
        return run_python(program, FAST)


@pytest.fixture
def helper() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A host process with a secret in its environment and on its command line."""
    secret = f"secret-{uuid.uuid4().hex}"
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", secret],
        env={"ASSAY_HELPER_SECRET": secret, "PATH": os.environ.get("PATH", "")},
    )
    try:
        yield proc, secret
    finally:
        proc.kill()
        proc.wait()


# -- writing outside ------------------------------------------------------------------------

WRITES = {
    "open": "open(TARGET, 'w').write('x')",
    "os.open with dir_fd": (
        "d = os.open(os.path.dirname(TARGET), os.O_RDONLY | os.O_DIRECTORY)\n"
        "os.close(os.open(os.path.basename(TARGET), os.O_WRONLY | os.O_CREAT, dir_fd=d))"
    ),
    "dir_fd of /": (
        "d = os.open('/', os.O_RDONLY | os.O_DIRECTORY)\n"
        "os.close(os.open(TARGET.lstrip('/'), os.O_WRONLY | os.O_CREAT, dir_fd=d))"
    ),
    "sqlite3": (
        "import sqlite3\nc = sqlite3.connect(TARGET)\nc.execute('create table t (x)')\nc.commit()"
    ),
    "mkfifo": "os.mkfifo(TARGET)",
    "mknod": "os.mknod(TARGET)",
    "symlink then write": "os.symlink(TARGET, 'link')\nopen('link', 'w').write('x')",
    "/proc/self/root": "open('/proc/self/root' + TARGET, 'w').write('x')",
    "the parent's /proc/pid/root": "open(f'/proc/{os.getppid()}/root' + TARGET, 'w').write('x')",
    "rename": "open('f', 'w').write('x')\nos.rename('f', TARGET)",
    "shutil.copy": "open('f', 'w').write('x')\nimport shutil\nshutil.copy('f', TARGET)",
    "shell": "import subprocess\nsubprocess.run(['sh', '-c', 'echo x > ' + TARGET], check=True)",
    "raw libc call": (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "assert libc.open(TARGET.encode(), os.O_WRONLY | os.O_CREAT, 0o644) >= 0"
    ),
}


@pytest.mark.parametrize("trick", list(WRITES))
def test_no_write_reaches_the_host(
    trick: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "outside" / "escaped"
    target.parent.mkdir()
    program = f"import os\nTARGET = {str(target)!r}\n{WRITES[trick]}\n"
    outcome = run(program)
    assert not os.path.lexists(target), outcome
    assert outcome.status in ("error", "failed"), outcome
    control = unconfined(program, monkeypatch)
    assert os.path.lexists(target), control


def test_host_files_cannot_be_deleted_or_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = tmp_path / "victims" / "victim.txt"
    victim.parent.mkdir()
    program = (
        f"import os, shutil\nV = {str(victim)!r}\n"
        "for attempt in (lambda: os.chmod(V, 0o777), lambda: os.truncate(V, 0),\n"
        "                lambda: os.utime(V, (0, 0)), lambda: os.remove(V),\n"
        "                lambda: shutil.rmtree(os.path.dirname(V))):\n"
        "    try:\n        attempt()\n        print('done')\n"
        "    except OSError as e:\n        print('refused', e.errno)\n"
    )
    victim.write_text("keep me")
    victim.chmod(0o600)
    stat_before = victim.stat()
    outcome = run(program)
    assert "done" not in outcome.stdout and outcome.stdout.count("refused") == 5, outcome
    stat_after = victim.stat()
    assert victim.read_text() == "keep me"
    assert (stat_after.st_mode, stat_after.st_mtime) == (stat_before.st_mode, stat_before.st_mtime)
    control = unconfined(program, monkeypatch)
    assert not victim.exists(), control


def test_the_system_folders_are_read_only() -> None:
    python_dir = os.path.dirname(interpreter().executable)
    program = (
        "import os, sys\n"
        f"for d in ('/usr/lib', '/bin', '/', '/etc', '/dev', '/proc', {python_dir!r},\n"
        "          os.path.dirname(os.__file__)):\n"
        "    try:\n"
        "        open(os.path.join(d, 'assay-sandbox-probe'), 'w')\n        print('wrote', d)\n"
        "    except OSError as e:\n        print('refused', d, e.errno)\n"
        "open('/tmp/scratch', 'w').write('ok')\nassert open('/tmp/scratch').read() == 'ok'\n"
        "open('here', 'w').write('ok')\n"
    )
    outcome = run(program)
    assert outcome.passed, outcome
    assert "wrote" not in outcome.stdout and outcome.stdout.count("refused") == 8, outcome


# -- reading the host -----------------------------------------------------------------------


def test_host_files_are_invisible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = f"secret-{uuid.uuid4().hex}"
    (tmp_path / "secret.txt").write_text(secret)
    here = os.path.realpath(__file__)
    program = (
        f"import os, subprocess\nS = {str(tmp_path / 'secret.txt')!r}\n"
        "reads = [lambda: open(S).read(), lambda: os.read(os.open(S, os.O_RDONLY), 100).decode(),\n"
        "         lambda: open(f'/proc/{os.getppid()}/root' + S).read(),\n"
        "         lambda: open('/proc/self/root' + S).read(),\n"
        "         lambda: subprocess.run(['cat', S], capture_output=True, text=True).stdout]\n"
        "for read in reads:\n"
        "    try:\n        print('read', read())\n"
        "    except OSError as e:\n        print('refused', e.errno)\n"
        "try:\n    print('shadow', open('/etc/shadow').read().split(':')[0])\n"
        "except OSError as e:\n    print('refused', e.errno)\n"
        f"print('source', os.path.exists({here!r}))\n"
        "print('root', sorted(os.listdir('/')))\n"
    )
    outcome = run(program)
    assert secret not in outcome.stdout and "shadow root" not in outcome.stdout, outcome
    assert "source False" in outcome.stdout, outcome
    visible = set(eval(outcome.stdout.split("root ", 1)[1]))
    assert visible <= {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "proc"} | {
        "dev",
        "tmp",
        "root",  # only when the interpreter lives under it, and then only its installation
        "home",
        "opt",
    }, visible
    assert not {"work", "srv", "var", "mnt", "media", "boot"} & visible, visible
    control = unconfined(program, monkeypatch)
    assert secret in control.stdout and "source True" in control.stdout, control


def test_etc_holds_only_the_loader_cache() -> None:
    outcome = run("import os\nprint(sorted(os.listdir('/etc')))")
    assert outcome.stdout.strip() in ("[]", "['ld.so.cache']"), outcome


def test_other_processes_are_invisible(
    helper: tuple[subprocess.Popen[bytes], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    proc, secret = helper
    program = (
        "import os, re\nfound = []\n"
        f"pids = sorted(set(os.listdir('/proc')) | {{'{proc.pid}', '{os.getpid()}', '1'}})\n"
        "for pid in filter(str.isdigit, pids):\n"
        "    for name in ('environ', 'cmdline'):\n"
        "        try:\n"
        "            data = open(f'/proc/{pid}/{name}', 'rb').read()\n"
        "            found += re.findall(rb'secret-[0-9a-f]{32}', data)\n"
        "        except OSError:\n"
        "            pass\n"
        "print(b'|'.join(found))\n"
        "print('pids', sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
    )
    outcome = run(program)
    assert outcome.passed, outcome
    assert secret not in outcome.stdout
    pids = eval(outcome.stdout.split("pids ", 1)[1])
    assert len(pids) <= 2, pids  # the sandbox's init and the program: nothing of the host
    control = unconfined(program, monkeypatch)
    assert secret in control.stdout, control


def test_the_environment_is_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = f"sk-{uuid.uuid4().hex}"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("ASSAY_TEST_SECRET", secret)
    outcome = run("import os\nprint(dict(os.environ))")
    assert outcome.passed, outcome
    assert secret not in outcome.stdout
    assert set(eval(outcome.stdout)) <= {"PATH", "LANG", "HOME", "TMPDIR", "PYTHONHASHSEED", "PWD"}
    assert secret not in unconfined("import os\nprint(dict(os.environ))", monkeypatch).stdout


# -- other processes, privileges ------------------------------------------------------------


def test_host_processes_cannot_be_signalled_or_traced(
    helper: tuple[subprocess.Popen[bytes], str],
) -> None:
    proc, _ = helper
    program = (
        "import ctypes, os, signal\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        f"for pid in ({proc.pid}, {os.getpid()}):\n"
        "    try:\n        os.kill(pid, signal.SIGKILL)\n        print('killed', pid)\n"
        "    except OSError as e:\n        print('refused', e.errno)\n"
        "    print('ptrace', libc.ptrace(16, pid, None, None), ctypes.get_errno())\n"
        "os.kill(-1, signal.SIGKILL)  # every process it may signal\n"
        "print('survived')\n"
    )
    outcome = run(program)
    assert "killed" not in outcome.stdout and "ptrace 0" not in outcome.stdout, outcome
    assert proc.poll() is None, "the host helper was killed"
    state = Path(f"/proc/{proc.pid}/status").read_text()
    assert "TracerPid:\t0" in state and "(stopped)" not in state and "(tracing" not in state


def test_privileges_cannot_be_gained() -> None:
    program = (
        "import ctypes, os, resource\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print('uid', os.getuid(), os.geteuid(), os.getgid())\n"
        "print([l for l in open('/proc/self/status') if l.startswith('CapEff')][0].split()[1])\n"
        "for attempt in (lambda: os.setuid(0), lambda: os.setgid(0), lambda: os.setgroups([0]),\n"
        "                lambda: os.setresuid(0, 0, 0), lambda: os.chroot('/tmp')):\n"
        "    try:\n        attempt()\n        print('gained')\n"
        "    except OSError as e:\n        print('refused', e.errno)\n"
        "print('unshare', libc.unshare(0x10000000))  # a new user namespace\n"
        "print('mount', libc.mount(b'none', b'/tmp', b'tmpfs', 0, None))\n"
        "for kind in (resource.RLIMIT_NPROC, resource.RLIMIT_AS, resource.RLIMIT_CPU,\n"
        "             resource.RLIMIT_FSIZE, resource.RLIMIT_NOFILE):\n"
        "    soft, hard = resource.getrlimit(kind)\n"
        "    try:\n"
        "        resource.setrlimit(kind, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))\n"
        "        print('raised', kind)\n"
        "    except (ValueError, OSError):\n        print('limit kept', hard)\n"
    )
    outcome = run(program)
    out = outcome.stdout
    assert outcome.passed, outcome
    assert f"uid {SANDBOX_UID} {SANDBOX_UID} {SANDBOX_UID}" in out
    assert "\n0000000000000000\n" in out  # no capabilities at all
    assert "gained" not in out and out.count("refused") == 5
    assert "unshare -1" in out and "mount -1" in out
    assert "raised" not in out and out.count("limit kept") == 5
    assert f"limit kept {FAST.memory_bytes}" in out


# -- resources ------------------------------------------------------------------------------


def _host_processes_with(marker: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if marker.encode() in (proc / "cmdline").read_bytes():
                    found.append(proc.name)
    return found


def test_a_fork_bomb_is_bounded_and_leaves_nothing() -> None:
    marker = uuid.uuid4().hex
    limits = Limits(timeout_s=20, cpu_s=10, memory_bytes=512 << 20, processes=16)
    counting = (
        f"import os, time\n# {marker}\nn = 0\n"
        "try:\n    while n < 1000:\n        if os.fork() == 0:\n            time.sleep(60)\n"
        "            os._exit(0)\n        n += 1\nfinally:\n    print('forked', n)\n"
    )
    outcome = run(counting, limits)
    assert outcome.status == "limit" and outcome.limit == "processes", outcome
    assert int(outcome.stdout.split("forked ")[1]) < limits.processes
    bomb = run(f"import os\n# {marker}\nwhile True:\n    os.fork()", limits)
    assert bomb.status == "limit" and bomb.limit == "processes", bomb
    assert _host_processes_with(marker) == []


def test_processes_that_leave_the_session_die_with_the_sandbox() -> None:
    marker = uuid.uuid4().hex
    program = (
        f"import os, time\n# {marker}\n"
        "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        "        os.execv('/bin/sh', ['sh', '-c', 'while :; do sleep 1; done', "
        f"'{marker}'])\n    os._exit(0)\n"
        "time.sleep(0.5)\n"
    )
    outcome = run(program)
    assert outcome.passed, outcome
    assert _host_processes_with(marker) == []


def test_memory_is_bounded() -> None:
    huge = run("x = bytearray(8 * 1024**3)")
    assert huge.status == "limit" and huge.limit == "memory", huge
    growing = run("x = []\nwhile True:\n    x.append(bytearray(8 << 20))")
    assert growing.status == "limit" and growing.limit == "memory", growing
    assert run("x = bytearray(64 << 20)\nassert len(x) == 64 << 20").passed


def test_files_and_the_private_disk_are_bounded() -> None:
    limits = Limits(timeout_s=20, cpu_s=10, file_bytes=4 << 20, disk_bytes=16 << 20)
    big = run("open('/tmp/big', 'wb').write(b'x' * (8 << 20))", limits)
    assert big.status == "limit" and big.limit == "file_size", big
    many = run("for i in range(100):\n    open(f'/tmp/f{i}', 'wb').write(b'x' * (3 << 20))", limits)
    assert many.status == "limit" and many.limit == "disk", many
    flood = run("while True:\n    print('x' * 10000)", limits)
    assert flood.status == "limit" and flood.limit == "file_size", flood
    assert len(flood.stdout) <= 2000
    fds = run("fs = [open('/dev/null') for _ in range(1000)]", Limits(open_files=32))
    assert fds.status == "limit" and fds.limit == "open_files", fds


def test_time_is_bounded_and_a_timeout_leaves_nothing() -> None:
    spinning = run("while True:\n    pass", Limits(timeout_s=60, cpu_s=1))
    assert spinning.status == "limit" and spinning.limit == "cpu", spinning
    marker = uuid.uuid4().hex
    sleeping = run(
        f"import os, time\nif os.fork() == 0:\n    os.setsid()\n"
        f"    os.execv('/bin/sh', ['sh', '-c', 'while :; do sleep 1; done', '{marker}'])\n"
        "time.sleep(600)",
        Limits(timeout_s=1, cpu_s=10),
    )
    assert sleeping.status == "timeout" and sleeping.returncode is None, sleeping
    assert _host_processes_with(marker) == []


# -- network --------------------------------------------------------------------------------


def test_the_network_is_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(1)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(1)
    port, udp_port = server.getsockname()[1], udp.getsockname()[1]
    accepted: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                accepted.append(server.accept())

    thread = threading.Thread(target=accept)
    thread.start()
    program = (
        "import socket\n"
        "print('interfaces', [name for _, name in socket.if_nameindex()])\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
        "    print('connected')\n"
        "except OSError as e:\n    print('refused', e.errno)\n"
        "try:\n    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        f"    u.sendto(b'hello', ('127.0.0.1', {udp_port}))\n"
        "except OSError as e:\n    print('unsent', e.errno)\n"
        "try:\n    socket.getaddrinfo('example.org', 443)\n    print('resolved')\n"
        "except OSError as e:\n    print('no dns')\n"
    )
    try:
        outcome = run(program)
        got_udp = _received(udp)
        control = unconfined(program, monkeypatch)
    finally:
        stop.set()
        thread.join()
        server.close()
    assert "connected" not in outcome.stdout and "resolved" not in outcome.stdout, outcome
    assert "interfaces ['lo']" in outcome.stdout, outcome
    assert not got_udp
    assert "connected" in control.stdout and len(accepted) == 1, control
    assert _received(udp)
    udp.close()


def _received(udp: socket.socket) -> bool:
    try:
        return udp.recv(100) == b"hello"
    except OSError:
        return False


def test_a_signal_to_the_sandbox_group_cannot_reach_the_caller() -> None:
    """The program runs in its own session: killing its process group kills only itself."""
    outcome = run("import os, signal\nos.killpg(0, signal.SIGTERM)")
    assert outcome.status == "crashed" and outcome.signal == "SIGTERM", outcome


def _wait_for(condition: Callable[[], bool], seconds: float = 30) -> bool:
    """Poll `condition` until it holds or `seconds` pass (a bound, not a speed assertion)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_sandbox_dies_with_assay() -> None:
    """Killing the process that runs the sandbox (SIGKILL: no clean-up code runs) kills it."""
    marker = uuid.uuid4().hex
    # spelled backwards, so that only the sandboxed shell's command line holds the marker
    program = (
        "import os\n"
        "os.execv('/bin/sh', ['sh', '-c', 'while :; do sleep 1; done', "
        f"'{marker[::-1]}'[::-1]])\n"
    )
    script = (
        "from assay.sandbox import Limits, run_python\n"
        f"run_python({program!r}, Limits(timeout_s=600, cpu_s=600))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    assay = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        assert _wait_for(lambda: bool(_host_processes_with(marker)))
        assert assay.poll() is None
    finally:
        assay.kill()
        assay.wait()
    assert _wait_for(lambda: not _host_processes_with(marker)), _host_processes_with(marker)


SCAN_ANCESTORS = (
    "import os, re\nfound, pid = [], os.getpid()\n"
    "while pid > 0:  # up the chain of parents, as far as /proc shows it\n"
    "    try:\n"
    "        for name in ('environ', 'cmdline'):\n"
    "            data = open(f'/proc/{pid}/{name}', 'rb').read()\n"
    "            found += re.findall(rb'secret-[0-9a-f]{32}', data)\n"
    "        pid = int(open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[1])\n"
    "    except OSError:\n"
    "        break\n"
    "print(sorted(set(found)))\n"
)


@pytest.mark.parametrize("mode", ["bwrap", "none"])
def test_the_parents_environment_and_command_line_stay_secret(mode: str) -> None:
    secret = f"secret-{uuid.uuid4().hex}"
    script = (
        "import sys\nfrom assay.sandbox import run_python\n"
        f"print(run_python({SCAN_ANCESTORS!r}).stdout)\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "ASSAY_PARENT_SECRET": secret,
        "ASSAY_SANDBOX": mode,
    }
    parent = subprocess.run(
        [sys.executable, "-c", script, secret], env=env, capture_output=True, text=True, timeout=120
    )
    assert parent.returncode == 0, parent.stderr
    if mode == "bwrap":
        assert secret not in parent.stdout and parent.stdout.strip() == "[]", parent.stdout
    else:  # the control: unconfined, the same program finds it
        assert secret in parent.stdout, parent.stdout
