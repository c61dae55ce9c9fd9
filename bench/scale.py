"""The mock suite of bench/suite.py on Ray with 1, 2 and 4 workers, against the local scheduler.

The same models (`mock/oracle?latency=L&concurrency=C&seed=i`, each its own cluster-wide
limit of C) and benchmarks as bench/suite.py, run once by the local scheduler and once per
worker count through `--executor ray` on a Ray instance started here on 127.0.0.1 (one logical
CPU per worker). For each: wall time, samples/s, the time over the local scheduler's and over
the ideal (requests x latency / (models x concurrency)), the CPU seconds of this process (the
driver, which alone writes the store) and of the job's Ray actors (workers and the limits
actor; Ray's own daemons not counted), the calls workers made to the shared limits, and the
machine's load. On a machine with fewer cores than workers, more workers share the same cores:
the figures then show Ray's cost per request, not a speed-up.

    python bench/scale.py [--models 5] [--benchmarks 10] [--samples 1000] [--latency 0.05]
                          [--concurrency 32] [--workers 1 2 4]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite import make_benchmarks, run_suite

from assay.benchmarks.base import DataContext, Task
from assay.benchmarks.registry import resolve_task
from assay.execution.identity import Fingerprints
from assay.execution.ray_cluster import RayCluster
from assay.execution.retry import RetryPolicy
from assay.execution.runner import Runner
from assay.execution.scheduler import run_all
from assay.models.registry import create_model
from assay.store.db import Store


async def run_on_ray(
    db: Path, tasks: list[Task], sources: list[str], workers: int
) -> tuple[float, float, float, int, Counter[str]]:
    """Wall, driver CPU and Ray actors' CPU seconds of the runs (not of starting the
    workers), samples run, and the calls workers made to the shared limits."""
    cluster = RayCluster.start(workers=workers)
    store = Store(f"sqlite:///{db}")
    fingerprints = Fingerprints()
    runners = []
    try:
        for source in sources:
            model = create_model(source)
            executor = cluster.executor(model, source, concurrency=None, policy=RetryPolicy())
            for task in tasks:
                runners.append(
                    Runner(
                        store,
                        task,
                        model,
                        executor,
                        data=DataContext(),
                        fingerprints=fingerprints,
                        keep_samples=len(sources) > 1,
                    )
                )
        started, cpu, ray_cpu = time.perf_counter(), time.process_time(), cluster.cpu_seconds()
        outcomes = await run_all(runners)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        ray_cpu = cluster.cpu_seconds() - ray_cpu
        calls: Counter[str] = Counter()
        for state in cluster.limit_states().values():
            calls.update({k: v for k, v in state.items() if k in ("lease", "renew", "give_back")})
    finally:
        await cluster.close()
        store.close()
    executed = sum(o.result.executed for o in outcomes if o.result is not None)
    return wall, cpu, ray_cpu, executed, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=5)
    parser.add_argument("--benchmarks", type=int, default=10)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    requests = args.models * args.benchmarks * args.samples
    ideal = requests * args.latency / (args.models * args.concurrency)
    print(
        f"{args.models} models x {args.benchmarks} benchmarks x {args.samples} samples = "
        f"{requests} requests, latency {args.latency * 1000:g} ms, concurrency "
        f"{args.concurrency} per model; ideal {ideal:.1f} s; {os.cpu_count()} cores here"
    )
    sources = [
        f"mock/oracle?latency={args.latency}&concurrency={args.concurrency}&seed={i}"
        for i in range(args.models)
    ]

    def report(
        label: str, wall: float, cpu: float, executed: int, ray_cpu: float | None = None
    ) -> None:
        over = f"{wall / local_wall:5.2f}x local" if local_wall else " " * 13
        workers = "" if ray_cpu is None else f"  workers+limits cpu {ray_cpu:5.1f} s"
        print(
            f"{label:<22} {wall:6.1f} s {executed / wall:6.0f} samples/s  {over}  "
            f"{wall / ideal:5.2f}x ideal  driver cpu {cpu:5.1f} s{workers}  "
            f"load avg {os.getloadavg()[0]:.1f}"
        )

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        specs = make_benchmarks(folder, args.benchmarks, args.samples)
        local_wall = 0.0
        tasks = [resolve_task(str(s)) for s in specs]
        models = [create_model(s) for s in sources]
        wall, cpu, _, executed = asyncio.run(
            run_suite(folder / "local.db", tasks, models, sequential=False)
        )
        report("local scheduler", wall, cpu, executed)
        local_wall = wall
        ray.init(
            address="local",
            num_cpus=max(args.workers),
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,
            _node_ip_address="127.0.0.1",
        )
        try:
            for workers in args.workers:
                tasks = [resolve_task(str(s)) for s in specs]
                wall, cpu, ray_cpu, executed, calls = asyncio.run(
                    run_on_ray(folder / f"ray{workers}.db", tasks, sources, workers)
                )
                label = f"ray, {workers} worker{'s' if workers > 1 else ''}"
                report(label, wall, cpu, executed, ray_cpu)
                print(
                    f"{'':<22} limit calls: {calls['lease']} leases, {calls['renew']} renewals, "
                    f"{calls['give_back']} give-backs for {executed} samples"
                )
        finally:
            ray.shutdown()


if __name__ == "__main__":
    main()
