"""What comes back for each way a program can end: a structured, JSON-ready Outcome."""

from __future__ import annotations

import json

import pytest

from assay.sandbox import Limits, Outcome, run_python
from assay.sandbox.outcome import classify, read_result, signal_name

needs_bwrap = pytest.mark.usefixtures("usable_sandbox")
FAST = Limits(timeout_s=20, cpu_s=10, memory_bytes=512 << 20)

CHECKED = """\
def add(a, b):
    return a + b if a == 1 else 0


def check(candidate):
    assert candidate(1, 1) == 2
    assert candidate(2, 3) == 5, "two and three"


check(add)
"""


@needs_bwrap
def test_a_failed_assert_says_which() -> None:
    outcome = run_python(CHECKED, FAST)
    assert outcome.status == "failed" and not outcome.passed
    assert (outcome.exception, outcome.message) == ("AssertionError", "two and three")
    assert (outcome.line, outcome.source) == (7, 'assert candidate(2, 3) == 5, "two and three"')
    assert 'File "program.py", line 7, in check' in outcome.stderr
    assert "_entry" not in outcome.stderr and "<string>" not in outcome.stderr


@needs_bwrap
def test_exceptions_give_type_message_and_line() -> None:
    outcome = run_python("def f(x):\n    return 1 / x\n\nprint('before')\nf(0)\n", FAST)
    assert outcome.status == "error"
    assert (outcome.exception, outcome.message) == ("ZeroDivisionError", "division by zero")
    assert (outcome.line, outcome.source) == (2, "return 1 / x")
    assert outcome.stdout == "before\n"
    syntax = run_python("x = 1\ndef f(:\n    pass\n", FAST)
    assert (syntax.status, syntax.exception, syntax.line) == ("error", "SyntaxError", 2)
    assert syntax.source == "def f(:"


@needs_bwrap
def test_leaving_early_is_not_passing() -> None:
    """As in HumanEval's harness: a program that exits before its tests have not passed them."""
    exited = run_python("import sys\nsys.exit(0)\nassert False", FAST)
    assert (exited.status, exited.exception, exited.message) == ("error", "SystemExit", "0")
    underneath = run_python("import os\nos._exit(0)\nassert False", FAST)
    assert (underneath.status, underneath.returncode) == ("crashed", 0)
    code = run_python("import os\nos._exit(3)", FAST)
    assert (code.status, code.returncode, code.signal) == ("crashed", 3, None)
    killed = run_python("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", FAST)
    assert (killed.status, killed.signal) == ("crashed", "SIGKILL")


@needs_bwrap
def test_only_the_program_itself_reports() -> None:
    program = (
        "import os, time\nif os.fork() == 0:\n    raise ValueError('from a child')\n"
        "os.wait()\nprint('parent done')\n"
    )
    outcome = run_python(program, FAST)
    assert outcome.status == "passed" and outcome.stdout == "parent done\n", outcome


@needs_bwrap
def test_text_survives_and_the_result_is_json_ready() -> None:
    program = "print('naïve ☃ 東京')\nraise KeyError('clé ☃')"
    outcome = run_python(program, FAST)
    assert outcome.stdout == "naïve ☃ 東京\n"
    assert (outcome.exception, outcome.message) == ("KeyError", "'clé ☃'")
    data = json.loads(json.dumps(outcome.to_dict()))
    assert data["status"] == "error" and data["source"] == "raise KeyError('clé ☃')"
    assert set(data) == {f for f in Outcome.__dataclass_fields__}


def test_a_missing_or_forged_report_is_not_a_result() -> None:
    assert read_result("") is None
    assert read_result("__import__('os').system('true')\n") is None
    assert read_result("{'ended': 'maybe'}\n") is None
    assert read_result("[1, 2]\n") is None
    assert read_result("{'ended': 'finished'}\n") == {"ended": "finished"}


def test_how_a_process_ended_maps_to_a_status() -> None:
    finished = {"ended": "finished"}
    assert classify(finished, returncode=0, timed_out=False).status == "passed"
    assert classify(finished, returncode=1, timed_out=False).status == "crashed"
    assert classify(finished, returncode=None, timed_out=True).status == "timeout"
    cpu = classify(None, returncode=128 + 24, timed_out=False)
    assert (cpu.status, cpu.limit, cpu.signal) == ("limit", "cpu", "SIGXCPU")
    assert classify(None, returncode=-24, timed_out=False).limit == "cpu"

    def raised(exception: str, errno: int | None = None, message: str = "") -> Outcome:
        result = {"ended": "exception", "exception": exception, "errno": errno}
        return classify(result | {"message": message}, returncode=1, timed_out=False)

    assert (raised("MemoryError").status, raised("MemoryError").limit) == ("limit", "memory")
    assert raised("OSError", 27).limit == "file_size"
    assert raised("OSError", 28).limit == "disk"
    assert raised("OSError", 24).limit == "open_files"
    assert raised("BlockingIOError", 11).limit == "processes"
    assert raised("RuntimeError", None, "can't start new thread").limit == "processes"
    assert raised("OSError", 2).status == "error" and raised("OSError", 2).limit is None
    assert raised("AssertionError").status == "failed"
    assert signal_name(137) == "SIGKILL" and signal_name(-9) == "SIGKILL"
    assert signal_name(0) is None and signal_name(1) is None and signal_name(None) is None
