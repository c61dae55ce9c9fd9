"""Functional correctness of generated code: pass@k with the unbiased estimator.

Chen et al., "Evaluating Large Language Models Trained on Code" (2021), eq. 1: with n samples
of which c pass, pass@k = 1 - C(n-c, k) / C(n, k), the chance that at least one of k samples
drawn without replacement from the n passes. Computed as a product to stay exact for large n.

The answer is a JSON list of programs (one per sample drawn for the problem, see the HumanEval
prompt format); the first reference is the test program, appended to each. Each program runs
in `assay.sandbox`; results are cached per (program, test) so pass@1 and pass@10 of the same
run execute each program once. With fewer than k programs (a provider that ignored the
request for n), pass@k falls back to pass@n and the docs say so.

Each pass@k metric carries `explain` (see `assay.metrics.registry`): per program, what the
sandbox said (status, return code, the exception and the assert that failed, stderr's tail,
time), which the runner stores with the sample so a pass@1 of 0 can be understood. The fields
are whatever `assay.sandbox.Outcome` gives; a richer sandbox result adds fields, the viewer
shows what is there.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, is_dataclass
from typing import Any

import orjson

from assay.sandbox import Limits, Outcome, run_python

_RESULTS: dict[bytes, Outcome] = {}
_CACHE_SIZE = 4096
STDERR_KEPT = 1200  # characters of stderr stored per program


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of pass@k from n samples with c correct (requires k <= n)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n (n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    estimate = 1.0
    for i in range(n - c + 1, n + 1):
        estimate *= 1.0 - k / i
    return 1.0 - estimate


def programs(answer: str | None) -> list[str]:
    """The programs in an answer: a JSON list of strings, or one bare program."""
    if answer is None:
        return []
    try:
        value = orjson.loads(answer)
    except orjson.JSONDecodeError:
        return [answer]
    if isinstance(value, list) and all(isinstance(p, str) for p in value):
        return value
    return [answer]


def outcome(program: str, test: str, limits: Limits | None = None) -> Outcome:
    """The sandbox's result for the program followed by the test (cached per pair)."""
    key = hashlib.blake2b(f"{program}\0{test}".encode(), digest_size=16).digest()
    if key not in _RESULTS:
        if len(_RESULTS) >= _CACHE_SIZE:
            _RESULTS.pop(next(iter(_RESULTS)))
        _RESULTS[key] = run_python(f"{program}\n\n{test}\n", limits)
    return _RESULTS[key]


def passes(program: str, test: str, limits: Limits | None = None) -> bool:
    return outcome(program, test, limits).passed


_FRAME = re.compile(r'^\s*File "[^"]*", line (\d+)', re.MULTILINE)


def failure(stderr: str) -> dict[str, Any]:
    """From a Python traceback: the exception line and the source line that raised it (for a
    HumanEval test, the assert that failed) with its line number in the program."""
    lines = [line for line in stderr.rstrip().splitlines() if line.strip()]
    if not lines:
        return {}
    out: dict[str, Any] = {"exception": lines[-1].strip()[:300]}
    frames = list(_FRAME.finditer(stderr))
    if frames:
        last = frames[-1]
        out["line"] = int(last.group(1))
        rest = stderr[last.end() :].splitlines()
        source = next((r.strip() for r in rest[1:] if r.strip()), "")
        if source and source != out["exception"]:
            out["source"] = source[:300]
    return out


def explain(answer: str | None, references: Sequence[str]) -> dict[str, Any]:
    """`{"sandbox": [...]}`: one record per program in the answer (see the module docstring)."""
    if not references:
        return {}
    records = []
    for program in programs(answer):
        found = outcome(program, references[0])
        result = asdict(found) if is_dataclass(found) else dict(vars(found))
        stderr = str(result.pop("stderr", "") or "")
        stdout = str(result.pop("stdout", "") or "")
        record = {**result, **failure(stderr), "stderr_tail": stderr[-STDERR_KEPT:]}
        if stdout:
            record["stdout_tail"] = stdout[-STDERR_KEPT:]
        if isinstance(record.get("wall_s"), float):
            record["wall_s"] = round(record["wall_s"], 3)
        records.append(record)
    return {"sandbox": records}


def pass_at(k: int) -> Callable[[str | None, Sequence[str]], float]:
    """The metric pass@k for answers holding the sampled programs of one problem."""

    def score(answer: str | None, references: Sequence[str]) -> float:
        candidates = programs(answer)
        if not candidates or not references:
            return 0.0
        correct = sum(passes(p, references[0]) for p in candidates)
        return pass_at_k(len(candidates), correct, min(k, len(candidates)))

    score.__name__ = f"pass_at_{k}"
    score.explain = explain  # type: ignore[attr-defined]
    return score


PASS_AT = {f"pass@{k}": pass_at(k) for k in (1, 5, 10, 20, 100)}
