"""Leaderboard aggregation at scale: 20 models x 40 benchmarks x 1,000 samples (800k scores).

Builds a SQLite store with that many score rows (once, cached under bench/out/), then, in a fresh
process, times `leaderboard_from_store`: every cell's mean with a 10,000-resample bootstrap CI
(clustered on the half of the benchmarks whose samples name a subject), HELM's mean win rate
with a 1,000-resample bootstrap CI and rank interval, overall and for 4 groups. Prints wall time
and peak memory (target: under 5 s and 500 MB). Also times one 10,000-resample CI of 10,000
continuous values.

    python bench/aggregate.py [--models 20] [--benchmarks 40] [--samples 1000]
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "out"


def build(path: Path, models: int, benchmarks: int, samples: int) -> None:
    from assay.store.db import Store, resolve_url

    Store(resolve_url(str(path))).close()  # creates the schema
    rng = np.random.default_rng(0)
    skill = rng.normal(0, 1, models)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("INSERT OR IGNORE INTO suites VALUES ('bench', 0)")
    for b in range(benchmarks):
        difficulty = rng.normal(0, 1, samples)
        binary = b % 4 != 3
        for m in range(models):
            run_id = f"r{b:03d}m{m:03d}"
            p = 1 / (1 + np.exp(-(skill[m] - difficulty)))
            values = (rng.random(samples) < p).astype(float) if binary else p
            stats = {"score": {"mean": float(values.mean()), "n": samples}}
            summary = {
                "metrics": stats,
                "n_errors": 0,
                "input_tokens": 1000 * samples,
                "output_tokens": 10 * samples,
                "latency_mean_s": 0.5 + 0.01 * m,
            }
            con.execute(
                "INSERT INTO runs (id, benchmark, benchmark_name, benchmark_version, model, spec,"
                " groups, main_metric, higher_is_better, assay_version, status, n_samples,"
                " summary, created_at, finished_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    f"bench{b:02d}",
                    f"bench{b:02d}",
                    "1",
                    f"model{m:02d}",
                    "{}",
                    json.dumps([f"group{b % 4}"]),
                    "score",
                    True,
                    "bench",
                    "finished",
                    samples,
                    json.dumps(summary),
                    0.0,
                    1.0,
                ),
            )
            con.execute("INSERT INTO suite_runs VALUES ('bench', ?, 0)", (run_id,))
            meta = [json.dumps({"subject": f"s{i % 10}"} if b % 2 else {}) for i in range(samples)]
            con.executemany(
                'INSERT INTO samples (run_id, sample_id, idx, input, "references", metadata,'
                " split, status, updated_at) VALUES (?,?,?,'\"\"','[]',?,'test','ok',0)",
                [(run_id, f"q{i}", i, meta[i]) for i in range(samples)],
            )
            con.executemany(
                "INSERT INTO scores VALUES (?,?,?,?)",
                [(run_id, f"q{i}", "score", float(values[i])) for i in range(samples)],
            )
        con.commit()
    con.close()


def measure(path: Path) -> None:
    from assay.analysis.leaderboard import leaderboard_from_store
    from assay.analysis.stats import mean_ci
    from assay.store.db import Store, resolve_url

    store = Store(resolve_url(str(path)), readonly=True)
    start = time.perf_counter()
    board = leaderboard_from_store(store, "bench")
    wall = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cells = len(board.cells)
    scored = sum(c.n for c in board.cells.values())
    print(
        f"leaderboard: {len(board.models)} models x {len(board.columns)} benchmarks, "
        f"{cells} cells, {scored:,} scores, {len(board.groups)} groups"
    )
    print(
        f"leaderboard_from_store: {wall:.2f} s wall, peak RSS {peak_mb:.0f} MB "
        "(targets: 5 s, 500 MB)"
    )
    x = np.random.default_rng(1).random(10_000)
    start = time.perf_counter()
    mean_ci(x, resamples=10_000)
    print(
        f"mean_ci, 10,000 continuous values x 10,000 resamples: {time.perf_counter() - start:.3f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--benchmarks", type=int, default=40)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(Path(args.measure))
        return 0
    OUT.mkdir(exist_ok=True)
    path = OUT / f"aggregate-{args.models}x{args.benchmarks}x{args.samples}.db"
    if not path.exists():
        start = time.perf_counter()
        build(path.with_suffix(".tmp"), args.models, args.benchmarks, args.samples)
        path.with_suffix(".tmp").rename(path)
        print(f"built {path.name} in {time.perf_counter() - start:.0f} s")
    # a fresh process, so peak memory is the aggregation's alone
    return subprocess.call([sys.executable, __file__, "--measure", str(path)])


if __name__ == "__main__":
    raise SystemExit(main())
