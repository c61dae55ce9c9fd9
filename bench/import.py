"""Importing other frameworks' logs at scale: an Inspect log and an lm-eval samples file of
100,000 samples each.

The inputs are made by extending real small logs: the Inspect one from
tests/fixtures/inspect/qa-a.eval (written by inspect-ai), its sample entries copied with new ids,
inputs, outputs and scores into a zip compressed with zstd as Inspect writes it; the lm-eval one
from output lm-eval itself writes here (its `simple_evaluate` with the tests' scripted model, a
multiple-choice task over MMLU anatomy), its records repeated with new doc ids and varied
answers. Each import runs in a fresh process into a fresh SQLite store, and prints wall time
and peak memory (target: under 30 s and 300 MB each).

    python bench/import.py [--samples 100000] [--format eval|json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "out"
FIXTURE = ROOT / "tests" / "fixtures" / "inspect" / "qa-a.eval"


def build_inspect(path: Path, samples: int, fmt: str) -> None:
    import zipfile_zstd  # zstd entries, as Inspect writes them

    with zipfile.ZipFile(FIXTURE) as archive:
        header = json.loads(archive.read("header.json"))
        start = json.loads(archive.read("_journal/start.json"))
        template = json.loads(archive.read("samples/q1_epoch_1.json"))
    header["eval"]["eval_id"] = f"bench-{samples}"
    rng = random.Random(0)

    def sample(i: int) -> dict[str, object]:
        s = json.loads(json.dumps(template))
        right = rng.random() < 0.6
        s["id"] = f"s{i}"
        s["input"] = f"What is {i} + {i % 7}? Think it through and answer with a number only."
        s["target"] = str(i + i % 7)
        answer = s["target"] if right else str(i)
        s["messages"][0]["content"] = s["input"]
        s["messages"][-1]["content"] = answer
        s["output"]["choices"][0]["message"]["content"] = answer
        s["output"]["completion"] = answer
        for score in s["scores"].values():
            score["value"] = "C" if right else "I"
            score["answer"] = answer
        s["metadata"] = {"level": i % 5, "topic": f"t{i % 13}"}
        return s

    if fmt == "json":
        with path.open("w") as handle:
            head = {k: v for k, v in header.items() if k != "samples"}
            handle.write(json.dumps(head)[:-1] + ', "samples": [')
            for i in range(samples):
                handle.write(("," if i else "") + json.dumps(sample(i)))
            handle.write("]}")
        return
    with zipfile.ZipFile(path, "w", compression=zipfile_zstd.ZIP_ZSTANDARD) as archive:
        archive.writestr("_journal/start.json", json.dumps(start))
        for i in range(samples):
            archive.writestr(f"samples/s{i}_epoch_1.json", json.dumps(sample(i)))
        archive.writestr("header.json", json.dumps(header))


def build_lmeval(folder: Path, samples: int) -> None:
    spec = importlib.util.spec_from_file_location(
        "lmeval_fixture", ROOT / "tests" / "interop" / "test_lmeval_import.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    small = folder / "small"
    results_dir = module.run_lmeval(small, ROOT.parent / "shared" / "data", "bench", 5)
    (results,) = results_dir.rglob("results_*.json")
    date = results.name[len("results_") : -len(".json")]
    task = module.MC_TASK
    records = [
        json.loads(line)
        for line in (results.parent / f"samples_{task}_{date}.jsonl").read_text().splitlines()
    ]
    target = folder / "big" / results.parent.name
    target.mkdir(parents=True, exist_ok=True)
    data = json.loads(results.read_text())
    data["results"] = {task: data["results"][task]}
    (target / results.name).write_text(json.dumps(data))
    rng = random.Random(0)
    with (target / f"samples_{task}_{date}.jsonl").open("w") as handle:
        for i in range(samples):
            record = dict(records[i % len(records)])
            record["doc_id"] = i
            logprobs = [round(-rng.random() * 10, 2) for _ in record["filtered_resps"]]
            record["resps"] = [[[str(lp), "False"]] for lp in logprobs]
            record["filtered_resps"] = [[str(lp), "False"] for lp in logprobs]
            best = logprobs.index(max(logprobs))
            record["acc"] = float(best == int(record["target"]))
            record["acc_norm"] = record["acc"]
            handle.write(json.dumps(record) + "\n")


def _peak_mb() -> float:
    """This process's peak resident memory. ru_maxrss would carry over the parent's peak
    across exec (the builder's lm-eval), so read the kernel's high-water mark instead."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(kind: str, path: Path, db: Path) -> None:
    from assay.cli import main

    started, cpu = time.perf_counter(), time.process_time()
    code = main([f"import-{kind}", str(path), "--db", str(db), "--suite", "bench"])
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak_mb = _peak_mb()
    print(
        f"import-{kind}: exit {code}, {elapsed:.1f} s wall ({cpu:.1f} s CPU), "
        f"peak memory {peak_mb:.0f} MB"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--format", choices=["eval", "json"], default="eval")
    parser.add_argument("--measure", nargs=3, metavar=("KIND", "PATH", "DB"))
    args = parser.parse_args()
    if args.measure:
        measure(args.measure[0], Path(args.measure[1]), Path(args.measure[2]))
        return 0
    OUT.mkdir(exist_ok=True)
    log = OUT / f"inspect-{args.samples}.{args.format}"
    if not log.exists():
        build_inspect(log, args.samples, args.format)
    lmeval = OUT / f"lmeval-{args.samples}"
    if not lmeval.exists():
        build_lmeval(lmeval, args.samples)
    print(f"{args.samples} samples; inspect log {log.stat().st_size / 1e6:.0f} MB")
    for kind, path in (("inspect", log), ("lmeval", lmeval / "big")):
        db = OUT / f"import-{kind}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        subprocess.check_call([sys.executable, __file__, "--measure", kind, str(path), str(db)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
