"""Each escape attempt fails its own program and leaves the host and other programs alone."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import uuid
from pathlib import Path

import pytest

from assay.metrics.code import pass_at
from assay.sandbox import Limits, run_python

FAST = Limits(timeout_s=5, cpu_s=3, memory_bytes=512 << 20)


def test_a_clean_program_passes_and_a_failing_one_fails() -> None:
    assert run_python("assert sum([1, 2]) == 3", FAST).passed
    outcome = run_python("assert 1 == 2", FAST)
    assert not outcome.passed and "AssertionError" in outcome.stderr


def test_network_is_unreachable() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(3)
    port = server.getsockname()[1]
    accepted: list[object] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            accepted.append(server.accept())

    thread = threading.Thread(target=accept)
    thread.start()
    program = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)"
    outcome = run_python(program, FAST)
    thread.join()
    server.close()
    assert not outcome.passed
    assert accepted == []


def test_fork_bomb_fails_fast_and_leaves_no_processes() -> None:
    marker = uuid.uuid4().hex
    program = f"import os\n# {marker}\nwhile True:\n    os.fork()"
    outcome = run_python(program, FAST)
    assert not outcome.passed and outcome.wall_s < 5
    leftovers = [
        p for p in Path("/proc").iterdir() if p.name.isdigit() and marker.encode() in _cmdline(p)
    ]
    assert leftovers == []
    assert not run_python("import subprocess\nsubprocess.run(['true'])", FAST).passed


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""


def test_writing_outside_the_working_directory_fails(tmp_path: Path) -> None:
    target = tmp_path / "escaped.txt"
    outcome = run_python(f"open({str(target)!r}, 'w').write('x')", FAST)
    assert not outcome.passed and not target.exists()
    assert not run_python(f"import os\nos.remove({str(tmp_path)!r})", FAST).passed
    assert tmp_path.exists()
    inside = run_python(
        "open('scratch.txt', 'w').write('ok')\nassert open('scratch.txt').read()", FAST
    )
    assert inside.passed


def test_huge_allocation_and_huge_file_fail() -> None:
    assert "MemoryError" in run_python("x = bytearray(50 * 1024**3)", FAST).stderr
    big = run_python("f = open('big', 'wb')\nfor _ in range(64):\n    f.write(b'x' * 2**20)", FAST)
    assert not big.passed


def test_infinite_loop_hits_the_time_limit() -> None:
    outcome = run_python("while True:\n    pass", Limits(timeout_s=1.5, cpu_s=30))
    assert outcome.status == "timeout" and outcome.wall_s < 5


def test_ctypes_is_refused() -> None:
    assert not run_python("import ctypes\nctypes.CDLL(None).fork()", FAST).passed


def test_an_escaping_sample_fails_alone() -> None:
    """pass@k over [bomb, network, correct] counts exactly one correct program."""
    test = "assert add(2, 3) == 5"
    programs = [
        "import os\ndef add(a, b):\n    while True: os.fork()",
        "import socket\nsocket.socket()\ndef add(a, b): return a + b",
        "def add(a, b):\n    return a + b",
    ]
    score = pass_at(1)(json.dumps(programs), [test])
    assert score == pytest.approx(1 / 3)
    assert os.getpid() > 0
