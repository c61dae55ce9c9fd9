"""Whether this machine can build the sandbox at all: where it cannot, assay refuses to run
generated code (tests/sandbox/test_availability.py checks that), so there is no boundary to
test and the tests that need one skip, saying why."""

from __future__ import annotations

import functools
import os
import shutil

import pytest

from assay.sandbox import SandboxUnavailable, run_python


@functools.cache
def unusable_reason() -> str | None:
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (apt-get install bubblewrap)"
    saved = os.environ.pop("ASSAY_SANDBOX", None)
    try:
        outcome = run_python("pass")
    except SandboxUnavailable as error:
        return str(error)
    finally:
        if saved is not None:
            os.environ["ASSAY_SANDBOX"] = saved
    return None if outcome.passed else f"an empty program does not pass there: {outcome}"


@pytest.fixture
def usable_sandbox() -> None:
    reason = unusable_reason()
    if reason is not None:
        pytest.skip(f"the code sandbox cannot be built here: {reason}")
