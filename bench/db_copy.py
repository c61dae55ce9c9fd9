"""`assay db copy` speed and memory: a store of N instant-mock samples copied SQLite -> SQLite
(and -> PostgreSQL when a URL is given), each copy in a fresh process whose peak memory is read.
Memory should stay flat as N grows (the copy streams in batches).

    python bench/db_copy.py [N ...] [--postgres URL]     # default: 1000 10000
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from overhead import make_benchmark


def child(*args: str) -> tuple[float, float, str]:
    """Wall seconds, this child's peak resident MB (wait4 gives the child's own rusage), stdout."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "assay", *args], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"assay {' '.join(args)} failed ({status})")
    return time.perf_counter() - started, usage.ru_maxrss / 1024, out


def main() -> None:
    argv = sys.argv[1:]
    postgres = None
    if "--postgres" in argv:
        at = argv.index("--postgres")
        postgres = argv[at + 1]
        del argv[at : at + 2]
    sizes = [int(a) for a in argv] or [1_000, 10_000]
    print(f"{'samples':>8} {'target':>10} {'rows':>8} {'wall s':>8} {'rows/s':>8} {'peak MB':>8}")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            spec = make_benchmark(folder, n)
            src = folder / "src.db"
            child("run", str(spec), "-m", "mock/oracle", "--db", str(src), "--no-progress")
            targets = [("sqlite", str(folder / "dst.db"))]
            if postgres:
                targets.append(("postgresql", postgres))
            for name, dst in targets:
                wall, peak, out = child("db", "copy", str(src), dst, "--replace")
                found = re.search(r"copied (\d+) rows", out)
                rows = int(found.group(1)) if found else 0
                print(f"{n:>8} {name:>10} {rows:>8} {wall:>8.2f} {rows / wall:>8.0f} {peak:>8.0f}")


if __name__ == "__main__":
    main()
