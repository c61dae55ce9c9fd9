"""How many threads a local model computes with when the user sets none.

The cores this process may run on (`os.sched_getaffinity`) that other processes are not already
busy with (the 1-minute load average), at least one and at most `CAP`. On an idle two-core
machine that is two, which roughly halves llama.cpp's prompt time; on a machine whose cores are
all taken it is one, because llama.cpp's threads wait for each other at every step and a thread
that loses its core stalls the rest: with two threads on two cores busy with seven other
processes, prompts ran about 3x and generation 10x slower than with one (bench/demo_profile.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

CAP = 8  # past a handful of cores a small model gains little and the threads' syncing grows


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def busy_cores() -> float:
    """Cores already busy with other work: the 1-minute load average (0 where unknown)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


_sharing = 1  # local models about to run side by side in this process


@contextmanager
def shared_by(models: int) -> Iterator[None]:
    """Local models created inside share the idle cores: two llama.cpp models taking both
    cores of a two-core machine each would stall each other as a busy machine does."""
    global _sharing
    before, _sharing = _sharing, max(1, models)
    try:
        yield
    finally:
        _sharing = before


def default_threads() -> int:
    idle = available_cores() - round(busy_cores())
    return max(1, min(CAP, idle // _sharing))
