"""How many programs per second the code sandbox runs.

Runs the canonical solution of every HumanEval problem against its tests (what pass@1 of a
perfect model costs), then a trivial program, each through `assay.sandbox.run_python` one
after another; then 5 samples per problem for 40 problems through `assay.metrics.code`, which
runs the samples of one answer side by side. Prints programs/s and how many passed.

    python bench/sandbox.py [--data-dir ../shared/data] [--repeat 1]
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

from assay.metrics.code import outcomes
from assay.sandbox import run_python

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def humaneval_programs(data_dir: Path) -> list[str]:
    with gzip.open(data_dir / "humaneval" / "HumanEval.jsonl.gz", "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [
        f"{r['prompt']}{r['canonical_solution']}\n\n{r['test']}\n\ncheck({r['entry_point']})\n"
        for r in rows
    ]


def measure(label: str, programs: list[str]) -> None:
    started = time.perf_counter()
    passed = sum(run_python(p).passed for p in programs)
    wall = time.perf_counter() - started
    print(
        f"{label:<28} {len(programs):>5} programs  {wall:7.2f} s  "
        f"{len(programs) / wall:7.1f} programs/s  passed {passed}/{len(programs)}"
    )


def measure_answers(label: str, rows: list[tuple[str, str]], samples: int) -> None:
    """Each row is (solution, test); `samples` distinct copies of it make one answer."""
    started = time.perf_counter()
    passed = 0
    for solution, test in rows:
        copies = [f"{solution}\n# sample {i} {time.time_ns()}" for i in range(samples)]
        passed += sum(o.passed for o in outcomes(copies, test))
    wall = time.perf_counter() - started
    total = len(rows) * samples
    print(
        f"{label:<28} {total:>5} programs  {wall:7.2f} s  "
        f"{total / wall:7.1f} programs/s  passed {passed}/{total}"
    )


def humaneval_answers(data_dir: Path) -> list[tuple[str, str]]:
    with gzip.open(data_dir / "humaneval" / "HumanEval.jsonl.gz", "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [
        (r["prompt"] + r["canonical_solution"], f"{r['test']}\n\ncheck({r['entry_point']})\n")
        for r in rows
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    programs = humaneval_programs(args.data_dir)
    run_python("pass")  # warm the page cache and any one-off check
    for _ in range(args.repeat):
        measure("humaneval canonical", programs)
        measure("trivial (pass)", ["pass"] * 100)
        measure_answers("5 samples per answer", humaneval_answers(args.data_dir)[:40], 5)


if __name__ == "__main__":
    main()
