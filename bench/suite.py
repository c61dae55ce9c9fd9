"""A suite as one job: mock models x benchmarks with API-like latency, run by the scheduler
(all runs at once) and, as the baseline, one run at a time (assay run before the scheduler).

Each model is `mock/oracle?latency=L&concurrency=C&seed=i` (its own identity, so nothing is
shared between models through the cache) and each benchmark its own JSONL file of distinct
questions. The ideal wall time is requests x latency / (models x concurrency): every model's
slots busy all the time, models in parallel. Figures depend on the machine's load, printed too,
with the CPU seconds assay itself spent and the seconds it waited for a CPU held by other
processes: when those approach the wall time, the run is bound by the machine, not by waiting on
the model (a longer latency with fewer samples shows the scheduling alone).

    python bench/suite.py [--models 5] [--benchmarks 10] [--samples 1000] [--latency 0.05]
                          [--concurrency 32] [--no-baseline]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

from assay.benchmarks.base import DataContext, Task
from assay.benchmarks.registry import resolve_task
from assay.execution.executor import Executor
from assay.execution.identity import Fingerprints
from assay.execution.runner import Runner
from assay.execution.scheduler import run_all
from assay.models.base import Model
from assay.models.registry import create_model
from assay.store.db import Store


def cpu_wait() -> float:
    """Seconds this process has waited for a CPU (Linux schedstat; 0 elsewhere)."""
    try:
        return int(Path("/proc/self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def make_benchmarks(folder: Path, count: int, samples: int) -> list[Path]:
    specs = []
    for b in range(count):
        data = folder / f"data{b}.jsonl"
        with data.open("w") as f:
            for i in range(samples):
                row = {"id": f"q{i}", "question": f"Suite {b}: what is {i} + {b}?", "answer": "x"}
                f.write(json.dumps(row) + "\n")
        spec = folder / f"bench{b}.yaml"
        spec.write_text(
            f"name: suite{b}\n"
            f"data: {{path: {data.name}}}\n"
            "fields: {id: id, input: question, target: answer}\n"
            "prompt: {format: generate, max_tokens: 8}\n"
            "metrics: [exact_match]\n"
        )
        specs.append(spec)
    return specs


async def run_suite(
    db: Path, tasks: list[Task], models: list[Model], *, sequential: bool
) -> tuple[float, float, float, int]:
    store = Store(f"sqlite:///{db}")
    fingerprints = Fingerprints()
    runners = []
    for model in models:
        executor = Executor(model)
        for task in tasks:
            runners.append(
                Runner(
                    store,
                    task,
                    model,
                    executor,
                    data=DataContext(),
                    fingerprints=fingerprints,
                    keep_samples=len(models) > 1,
                )
            )
    started, cpu, waited = time.perf_counter(), time.process_time(), cpu_wait()
    outcomes = await run_all(runners, sequential=sequential)
    wall = time.perf_counter() - started
    cpu, waited = time.process_time() - cpu, cpu_wait() - waited
    store.close()
    return wall, cpu, waited, sum(o.result.executed for o in outcomes if o.result is not None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=5)
    parser.add_argument("--benchmarks", type=int, default=10)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()

    requests = args.models * args.benchmarks * args.samples
    ideal = requests * args.latency / (args.models * args.concurrency)
    print(
        f"{args.models} models x {args.benchmarks} benchmarks x {args.samples} samples = "
        f"{requests} requests, latency {args.latency * 1000:g} ms, concurrency "
        f"{args.concurrency} per model; ideal {ideal:.1f} s"
    )
    modes = [("scheduler (all runs at once)", False)]
    if not args.no_baseline:
        modes.append(("serial baseline (one run at a time)", True))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        specs = make_benchmarks(folder, args.benchmarks, args.samples)
        for label, sequential in modes:
            tasks = [resolve_task(str(s)) for s in specs]
            models = [
                create_model(
                    f"mock/oracle?latency={args.latency}&concurrency={args.concurrency}&seed={i}"
                )
                for i in range(args.models)
            ]
            load_before = os.getloadavg()[0]
            db = folder / f"{'serial' if sequential else 'scheduler'}.db"
            wall, cpu, waited, executed = asyncio.run(
                run_suite(db, tasks, models, sequential=sequential)
            )
            load_after = os.getloadavg()[0]
            ratio = f"{wall / ideal:5.2f}x ideal" if ideal else "   (no ideal)"
            print(
                f"{label:<36} {wall:6.1f} s {ratio}  {executed / wall:5.0f} samples/s  "
                f"cpu {cpu:4.1f} s, waited for a cpu {waited:4.1f} s  "
                f"load avg {load_before:.1f} -> {load_after:.1f}"
            )
    print("target: the scheduler within 1.25x of the ideal")


if __name__ == "__main__":
    main()
