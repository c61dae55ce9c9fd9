"""assay's own cost per sample, with an instant mock model.

For each N, writes a local JSONL benchmark of N samples and a YAML file describing it, then
times `assay run bench.yaml --model mock/oracle` end to end in a fresh process (start-up, load,
prompt, call, score, store, summary) and reads the child's peak memory.

    python bench/overhead.py [N ...]        # default: 1000 10000 100000
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_benchmark(folder: Path, n: int) -> Path:
    data = folder / "data.jsonl"
    with data.open("w") as f:
        for i in range(n):
            row = {
                "id": f"q{i}",
                "question": f"What is {i} plus {i % 7}? Answer with the number only.",
                "answer": str(i + i % 7),
            }
            f.write(json.dumps(row) + "\n")
    spec = folder / "bench.yaml"
    spec.write_text(
        "name: overhead\n"
        "data: {path: data.jsonl}\n"
        "fields: {id: id, input: question, target: answer}\n"
        "prompt: {format: generate, max_tokens: 8}\n"
        "metrics: [exact_match, quasi_exact_match]\n"
    )
    return spec


def measure(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec = make_benchmark(folder, n)
        db = folder / "assay.db"
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "assay",
                "run",
                str(spec),
                "--model",
                "mock/oracle",
                "--db",
                str(db),
                "--no-progress",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ},
        )
        wall = time.perf_counter() - started
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if peak_kb < before:  # pragma: no cover - getrusage reports the max over children
            peak_kb = before
        return {"n": n, "wall_s": wall, "peak_mb": peak_kb / 1024, "samples_per_s": n / wall}


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1_000, 10_000, 100_000]
    print(f"{'samples':>8} {'wall s':>8} {'peak MB':>8} {'samples/s':>10}")
    for n in sizes:
        r = measure(n)
        print(f"{r['n']:>8} {r['wall_s']:>8.2f} {r['peak_mb']:>8.0f} {r['samples_per_s']:>10.0f}")
    print("targets: 10k samples in < 3 s and < 200 MB peak, memory flat as N grows")


if __name__ == "__main__":
    main()
