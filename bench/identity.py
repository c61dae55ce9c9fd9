"""What run identity costs before a run starts: hashing a benchmark's samples and model weights.

Prints, for a YAML benchmark of N rows and for MMLU from a data mirror, the time to load and
hash every sample once (paid once per benchmark per `assay run`, however many models), next to
a plain load; and for a GGUF file, the full-content fingerprint (first time, then memoised) next
to the old 4 MiB head hash.

    python bench/identity.py [--data-dir ../shared/data] [--gguf path/to/model.gguf] [N ...]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path

from assay.benchmarks.base import DataContext, Task
from assay.benchmarks.registry import resolve_task
from assay.execution.identity import data_identity
from assay.hashing import file_fingerprint


def yaml_benchmark(folder: Path, n: int) -> Path:
    data = folder / f"data{n}.jsonl"
    with data.open("w") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"q{i}", "q": f"What is {i} + 1?", "a": str(i + 1)}) + "\n")
    spec = folder / f"bench{n}.yaml"
    spec.write_text(
        f"name: b{n}\ndata: {{path: {data.name}}}\nfields: {{id: id, input: q, target: a}}\n"
    )
    return spec


def timed(task: Task, data: DataContext) -> tuple[float, float, int]:
    started = time.perf_counter()
    n = sum(1 for _ in task.load(data).samples)
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    data_identity(task, data)
    return loaded, time.perf_counter() - started, n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="*", type=int, default=[1_000, 10_000, 100_000])
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--gguf", type=Path)
    args = parser.parse_args()
    print(f"{'benchmark':<28}{'samples':>9}{'load s':>9}{'load+hash s':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            task = resolve_task(str(yaml_benchmark(Path(tmp), n)))
            loaded, hashed, count = timed(task, DataContext())
            print(f"{f'yaml {n}':<28}{count:>9}{loaded:>9.3f}{hashed:>13.3f}")
    if args.data_dir:
        for name in ("mmlu", "gsm8k"):
            loaded, hashed, count = timed(resolve_task(name), DataContext(args.data_dir))
            print(f"{name:<28}{count:>9}{loaded:>9.3f}{hashed:>13.3f}")
    if args.gguf:
        size = args.gguf.stat().st_size
        started = time.perf_counter()
        with args.gguf.open("rb") as f:
            hashlib.sha256(str(size).encode() + f.read(4 << 20)).hexdigest()
        head = time.perf_counter() - started
        started = time.perf_counter()
        file_fingerprint(args.gguf)
        full = time.perf_counter() - started
        started = time.perf_counter()
        file_fingerprint(args.gguf)
        again = time.perf_counter() - started
        print(
            f"\n{args.gguf.name}: {size / 2**20:.0f} MiB; 4 MiB head hash {head * 1000:.1f} ms; "
            f"full fingerprint {full:.3f} s ({size / 2**20 / full:.0f} MiB/s), "
            f"memoised {again * 1000:.2f} ms"
        )


if __name__ == "__main__":
    main()
