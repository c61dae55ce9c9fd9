"""How long `pip install 'assay[extra]'` takes, and how big it is, for each extra.

Each extra goes into its own fresh virtual environment (python -m venv in a temporary folder),
from a wheel of this checkout built once, so the figure is what installing assay from the package
index costs; pip's wheel cache is kept, as a user's would be. `hf` installs the CPU build of torch
first (torch==2.13.0 from the configured index), as the Makefile does. llamacpp and server
compile llama-cpp-python (minutes) and are measured only when named.

    python bench/install.py                 # core and every extra that installs from wheels
    python bench/install.py web hf          # just these ("core" is assay alone)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = [
    "core",
    "web",
    "metrics",
    "hf",
    "postgres",
    "export",
    "providers",
    "ray",
    "lmeval",
    "gemma",
    "math",
    "helm",
    "hub",
    "dev",
]
FIRST = {"hf": ["torch==2.13.0"]}  # the CPU build here; a bare torch pulls CUDA wheels
COMPILED = {"llamacpp", "server"}


@dataclass
class Figure:
    extra: str
    seconds: float
    cpu_seconds: float
    megabytes: float
    packages: int
    from_source: list[str]


def folder_bytes(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def build_wheel(out: Path) -> Path:
    """assay's own wheel, built from a copy so the checkout gets no build/ or egg-info."""
    source = out / "source"
    skip = (".*", "build", "*.egg-info", "__pycache__", "*.db", "tests", "docs", "bench")
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*skip))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(source), "-w", str(out)],
        check=True,
        capture_output=True,
    )
    return next(out.glob("assay-*.whl"))


def measure(extra: str, wheel: Path, work: Path, timeout: float) -> Figure:
    venv = work / f"venv-{extra}"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    empty = folder_bytes(venv)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    target = str(wheel) if extra == "core" else f"assay[{extra}] @ {wheel.as_uri()}"
    steps = [*FIRST.get(extra, []), target]
    installed = []
    cpu_start = _children_cpu()
    start = time.perf_counter()
    for i, step in enumerate(steps):
        report = work / f"report-{extra}-{i}.json"
        done = subprocess.run(
            [*pip, step, "--report", str(report)], capture_output=True, text=True, timeout=timeout
        )
        if done.returncode:
            raise RuntimeError(done.stderr.strip().splitlines()[-1])
        installed += json.loads(report.read_text())["install"]
    seconds = time.perf_counter() - start
    cpu_seconds = _children_cpu() - cpu_start
    from_source = sorted(
        item["metadata"]["name"]
        for item in installed
        if not item["download_info"]["url"].endswith(".whl") and item["metadata"]["name"] != "assay"
    )
    size = (folder_bytes(venv) - empty) / 1e6
    shutil.rmtree(venv)
    return Figure(extra, seconds, cpu_seconds, size, len(installed), from_source)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("extras", nargs="*", default=DEFAULT, help="extras to measure")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per extra")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(
        f"{os.cpu_count()} CPUs, load {load:.1f}; python {sys.version.split()[0]}; wheel cache kept"
    )
    print(f"{'extra':<10} {'wall s':>7} {'CPU s':>6} {'added MB':>9} {'packages':>8}  from sdist")
    with tempfile.TemporaryDirectory(prefix="assay-install-") as tmp:
        work = Path(tmp)
        wheel = build_wheel(work)
        for extra in args.extras:
            try:
                fig = measure(extra, wheel, work, args.timeout)
            except subprocess.TimeoutExpired:
                print(f"{extra:<10} over {args.timeout:.0f} s", flush=True)
                continue
            except RuntimeError as exc:
                print(f"{extra:<10} failed: {exc}", flush=True)
                continue
            note = ", ".join(fig.from_source) or "-"
            if extra in COMPILED:
                note += " (compiles llama-cpp-python)"
            print(
                f"{fig.extra:<10} {fig.seconds:>7.1f} {fig.cpu_seconds:>6.1f} "
                f"{fig.megabytes:>9.0f} {fig.packages:>8}  {note}",
                flush=True,
            )


if __name__ == "__main__":
    main()
