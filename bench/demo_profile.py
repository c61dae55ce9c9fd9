"""Where `make demo`'s time goes: the demo's `assay run` with every llama.cpp call measured.

Runs the same benchmarks, model and limit as the Makefile's demo into a throwaway SQLite store and
prints, per benchmark: requests, prompt tokens, prompt tokens taken from the KV cache of the
previous prompt (shared prefix), tokens actually prefilled, generated tokens, and the CPU seconds
of the llama.cpp worker thread split into prefill and decode (CPU time rather than wall time, so
that other processes on a busy machine change the figures little; with one thread it is the wall
time an idle machine would take). Also the model load time and the whole command's wall time.

    python bench/demo_profile.py [--limit 20] [--model llamacpp/smollm2] [--threads N]
                                 [--benchmarks mmlu gsm8k ...] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def makefile_demo() -> tuple[list[str], str]:
    """The demo's benchmarks and its `assay run` options, read from the Makefile."""
    text = (REPO / "Makefile").read_text()
    benchmarks = re.search(r"^DEMO_BENCHMARKS := (.+)$", text, re.M)
    command = re.search(r"^\t\$\(ASSAY\) run \$\(DEMO_BENCHMARKS\) (.+)$", text, re.M)
    assert benchmarks and command, "the Makefile's demo target changed: update this script"
    return benchmarks.group(1).split(), command.group(1)


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def main() -> None:
    benchmarks, options = makefile_demo()
    words = shlex.split(options)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", nargs="+", default=benchmarks)
    parser.add_argument("--limit", default=words[words.index("--limit") + 1])
    parser.add_argument("--model", default=words[words.index("--model") + 1])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    args = parser.parse_args()

    from assay.cli import main as cli
    from assay.models import llamacpp

    stats: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    current = {"benchmark": "?"}
    load = {"s": 0.0}
    original_load = llamacpp.LlamaCppModel._load
    original_generate = llamacpp.LlamaCppModel._generate_sync

    def timed_load(self: Any) -> Any:
        if self._llama is None:
            started = time.perf_counter()
            result = original_load(self)
            load["s"] += time.perf_counter() - started
            return result
        return original_load(self)

    def measured(self: Any, request: Any) -> Any:
        llama = self._load()
        before = list(llama.input_ids[: llama.n_tokens])
        first_token: dict[str, float] = {}
        original_sample = llama.sample

        def sample(*a: Any, **k: Any) -> Any:
            first_token.setdefault("cpu", time.thread_time())
            return original_sample(*a, **k)

        llama.sample = sample
        cpu = time.thread_time()
        try:
            response = original_generate(self, request)
        finally:
            del llama.sample
        spent = time.thread_time() - cpu
        prompt = response.input_tokens or 0
        reused = common_prefix(before, list(llama.input_ids[:prompt]))
        row = stats[current["benchmark"]]
        row["requests"] += 1
        row["prompt"] += prompt
        row["reused"] += reused
        row["generated"] += response.output_tokens or 0
        prefill = first_token.get("cpu", cpu + spent) - cpu
        row["prefill_s"] += prefill
        row["decode_s"] += spent - prefill
        return response

    llamacpp.LlamaCppModel._load = timed_load  # type: ignore[method-assign]
    llamacpp.LlamaCppModel._generate_sync = measured  # type: ignore[method-assign]
    model = args.model + (f"?threads={args.threads}" if args.threads else "")
    started = time.perf_counter()
    cpu_started = os.times()
    with tempfile.TemporaryDirectory() as tmp:
        for benchmark in args.benchmarks:
            current["benchmark"] = benchmark
            code = cli(
                [
                    "run",
                    benchmark,
                    "--model",
                    model,
                    "--limit",
                    str(args.limit),
                    "--data-dir",
                    args.data_dir,
                    "--db",
                    str(Path(tmp) / "demo.db"),
                    "--no-progress",
                ]
            )
            assert code == 0, f"assay run {benchmark} failed ({code})"
    wall = time.perf_counter() - started
    ended = os.times()
    cpu_total = ended.user + ended.system - cpu_started.user - cpu_started.system
    print(
        f"\n{'benchmark':<26}{'req':>4}{'prompt':>8}{'reused':>8}{'prefill':>8}{'gen':>6}"
        f"{'prefill s':>10}{'decode s':>9}{'tok/s in':>9}{'tok/s out':>10}"
    )
    totals: dict[str, float] = defaultdict(float)
    for benchmark, row in stats.items():
        for key, value in row.items():
            totals[key] += value
        _line(benchmark, row)
    _line("total", totals)
    print(
        f"model load {load['s']:.1f} s (every run loads its own copy here); command wall "
        f"{wall:.1f} s, process CPU {cpu_total:.1f} s; load average {os.getloadavg()[0]:.1f}"
    )


def _line(name: str, row: dict[str, float]) -> None:
    fed = row["prompt"] - row["reused"]
    print(
        f"{name:<26}{row['requests']:>4.0f}{row['prompt']:>8.0f}{row['reused']:>8.0f}"
        f"{fed:>8.0f}{row['generated']:>6.0f}{row['prefill_s']:>10.1f}{row['decode_s']:>9.1f}"
        f"{fed / max(row['prefill_s'], 1e-9):>9.0f}"
        f"{row['generated'] / max(row['decode_s'], 1e-9):>10.0f}"
    )


if __name__ == "__main__":
    main()
