"""Every Eval Ever at scale: export a 100,000-sample run and import it back.

The run is the 100,000-sample Inspect log bench/import.py builds (from a log inspect-ai wrote),
imported into a fresh store; then `assay export --format eee` writes it out and `assay import-eee`
reads it into another fresh store, each in a fresh process, printing wall time and peak memory.
Both stream (samples read from the store in batches, instance rows line by line), so memory
should stay flat as the run grows.

    python bench/eee.py [--samples 100000]
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


def _import_bench() -> object:
    spec = importlib.util.spec_from_file_location("import_bench", HERE / "import.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(args: list[str]) -> None:
    from assay.cli import main

    bench = _import_bench()
    started, cpu = time.perf_counter(), time.process_time()
    code = main(args)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = bench._peak_mb()  # type: ignore[attr-defined]
    step = "export --format eee" if args[0] == "export" else args[0]
    print(f"{step}: exit {code}, {elapsed:.1f} s wall ({cpu:.1f} s CPU), peak memory {peak:.0f} MB")


def _fresh(db: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return db


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--measure", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure)
        return 0
    OUT.mkdir(exist_ok=True)
    log = OUT / f"inspect-{args.samples}.eval"
    if not log.exists():
        _import_bench().build_inspect(log, args.samples, "eval")  # type: ignore[attr-defined]
    source = _fresh(OUT / "eee-source.db")
    subprocess.check_call(
        [sys.executable, "-m", "assay", "import-inspect", str(log), "--db", str(source)],
        stdout=subprocess.DEVNULL,
    )
    data = OUT / "eee" / "data"
    shutil.rmtree(data.parent, ignore_errors=True)
    data.parent.mkdir()
    back = _fresh(OUT / "eee-back.db")
    steps = (
        ["export", "--format", "eee", "-o", str(data), "--db", str(source)],
        ["import-eee", str(data), "--db", str(back)],
    )
    print(f"{args.samples} samples")
    for step in steps:
        subprocess.check_call([sys.executable, __file__, "--measure", *step])
    size = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
    print(f"EEE files: {size / 1e6:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
