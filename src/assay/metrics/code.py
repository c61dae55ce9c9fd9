"""Functional correctness of generated code: pass@k with the unbiased estimator.

Chen et al., "Evaluating Large Language Models Trained on Code" (2021), eq. 1: with n samples
of which c pass, pass@k = 1 - C(n-c, k) / C(n, k), the chance that at least one of k samples
drawn without replacement from the n passes. Computed as a product to stay exact for large n.

The answer is a JSON list of programs (one per sample drawn for the problem, see the HumanEval
prompt format); the first reference is the test program, appended to each. Each program runs
in `assay.sandbox`, the programs of one answer side by side (one per CPU); each program's
`Outcome` is cached per (program, test), so pass@1 and pass@10 of the same answer, and
`sandbox_results` for storing how each program ended, execute each program once. With fewer
than k programs (a provider that ignored the request for n), pass@k falls back to pass@n and
the docs say so.

Each pass@k metric carries `explain` (see `assay.metrics.registry`): per program, how the sandbox
said it ended (`Outcome.to_dict()`: status, the exception and the assert that failed, the limit
hit, stderr's tail, time), which the runner stores with the sample so a pass@1 of 0 can be
understood.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from assay.sandbox import Limits, Outcome, run_python

_RESULTS: dict[bytes, Outcome] = {}
_CACHE_SIZE = 4096


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


def _key(program: str, test: str) -> bytes:
    return hashlib.blake2b(f"{program}\0{test}".encode(), digest_size=16).digest()


def outcomes(programs: Sequence[str], test: str, limits: Limits | None = None) -> list[Outcome]:
    """How each program ended when followed by `test`, running the uncached ones in parallel."""
    keys = [_key(p, test) for p in programs]
    known = {k: _RESULTS[k] for k in keys if k in _RESULTS}
    todo = {k: p for k, p in zip(keys, programs, strict=True) if k not in known}
    if todo:

        def run(program: str) -> Outcome:
            return run_python(f"{program}\n\n{test}\n", limits)

        workers = min(len(todo), os.cpu_count() or 1)
        if workers == 1:
            ran = [run(p) for p in todo.values()]
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="sandbox") as pool:
                ran = list(pool.map(run, todo.values()))
        for key, outcome in zip(todo, ran, strict=True):
            known[key] = outcome
            while len(_RESULTS) >= _CACHE_SIZE:
                _RESULTS.pop(next(iter(_RESULTS)))
            _RESULTS[key] = outcome
    return [known[k] for k in keys]


def passes(program: str, test: str, limits: Limits | None = None) -> bool:
    return outcomes([program], test, limits)[0].passed


def sandbox_results(answer: str | None, references: Sequence[str]) -> list[dict[str, Any]]:
    """How each program of an answer ended (`Outcome.to_dict()`), in the answer's order;
    cached, so calling it after pass@k runs nothing again."""
    candidates = programs(answer)
    if not candidates or not references:
        return []
    return [o.to_dict() for o in outcomes(candidates, references[0])]


def pass_at(k: int) -> Callable[[str | None, Sequence[str]], float]:
    """The metric pass@k for answers holding the sampled programs of one problem."""

    def score(answer: str | None, references: Sequence[str]) -> float:
        candidates = programs(answer)
        if not candidates or not references:
            return 0.0
        correct = sum(o.passed for o in outcomes(candidates, references[0]))
        return pass_at_k(len(candidates), correct, min(k, len(candidates)))

    score.__name__ = f"pass_at_{k}"
    score.explain = explain  # type: ignore[attr-defined]
    return score


def explain(answer: str | None, references: Sequence[str]) -> dict[str, Any]:
    """`{"sandbox": [...]}`: one record per program in the answer, from the cached outcomes."""
    records = sandbox_results(answer, references)
    for record in records:
        if isinstance(record.get("wall_s"), float):
            record["wall_s"] = round(record["wall_s"], 3)
        if record.get("exception") and record.get("message"):
            record["exception"] = f"{record['exception']}: {record.pop('message')}"
        for stream in ("stderr", "stdout"):
            text = record.pop(stream, None)
            if text:
                record[f"{stream}_tail"] = text
    return {"sandbox": records} if records else {}


PASS_AT = {f"pass@{k}": pass_at(k) for k in (1, 5, 10, 20, 100)}
SANDBOXED_METRICS = frozenset(PASS_AT)  # metrics that run generated code
