"""Do the backends agree on log-likelihoods? SmolLM2 and Gemma 3 270M through llama.cpp
in-process, transformers on CPU and (Gemma) the llama.cpp server, on MMLU with
`multiple_choice_logprob`.

For each pair of backends of the same model: the share of options whose log-likelihoods differ
by at most 0.1 nats per token, the mean and worst per-token difference, and on how many samples
both pick the same option.

    python bench/agreement.py [--limit 100] [--shots 0] [--server-limit 0] [--data-dir DIR]

The llama.cpp server is left out unless --server-limit > 0: llama-cpp-python's server sorts the
whole vocabulary in Python for every echoed prompt token, which with Gemma's 262k-token
vocabulary took about 30 s per option here; and for SmolLM2 (no BOS token) its echoed
log-probabilities are shifted by one token, so it cannot be compared at all.
"""

from __future__ import annotations

import argparse
import itertools
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from assay.cli import main as assay
from assay.store import schema
from assay.store.db import Store

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(model_path: Path, alias: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model_path),
            "--model_alias",
            alias,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_threads",
            "1",
            "--logits_all",
            "true",
            "--n_ctx",
            "2048",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/models", timeout=2):
                return proc, base
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("llama.cpp server did not start")


def choice_scores(db: Path, model: str) -> dict[tuple[str, int], tuple[float, int]]:
    store = Store(f"sqlite:///{db}", readonly=True)
    r, rq = schema.runs, schema.requests
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(rq.c.sample_id, rq.c.idx, rq.c.response)
            .join(r, r.c.id == rq.c.run_id)
            .where(r.c.model == model)
        ).all()
    store.close()
    return {
        (sid, idx): (resp["loglikelihood"], resp["continuation_tokens"])
        for sid, idx, resp in rows
        if resp is not None
    }


def compare(
    a: dict[tuple[str, int], tuple[float, int]], b: dict[tuple[str, int], tuple[float, int]]
) -> dict[str, float]:
    keys = sorted(set(a) & set(b))
    per_token = np.array([abs(a[k][0] - b[k][0]) / max(1, a[k][1]) for k in keys])
    samples = sorted({k[0] for k in keys})
    same = 0
    for sid in samples:
        opts = sorted(k[1] for k in keys if k[0] == sid)
        pick_a = max(opts, key=lambda i: a[(sid, i)][0])
        pick_b = max(opts, key=lambda i: b[(sid, i)][0])
        same += pick_a == pick_b
    return {
        "options": len(keys),
        "within_0.1": float((per_token <= 0.1).mean()),
        "mean": float(per_token.mean()),
        "p95": float(np.quantile(per_token, 0.95)),
        "max": float(per_token.max()),
        "samples": len(samples),
        "same_pick": same,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--shots", type=int, default=0)
    parser.add_argument("--server-limit", type=int, default=0)
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    args = parser.parse_args()
    from assay.models.llamacpp import packaged_path

    bench = f"mmlu:shots={args.shots},format=multiple_choice_logprob"
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "agreement.db"
        models = {
            "smollm2": ["llamacpp/smollm2", "hf/smollm2"],
            "gemma3-270m": ["llamacpp/gemma3-270m", "hf/gemma3-270m"],
        }
        limits = {m: args.limit for family in models.values() for m in family}
        proc = None
        if args.server_limit > 0:
            proc, base = start_server(packaged_path("gemma3-270m"), "gemma3-270m")
            server = f"openai-compatible/gemma3-270m@{base}?prompt_logprobs=true"
            models["gemma3-270m"].append(server)
            limits[server] = args.server_limit
        try:
            for family in models.values():
                for model in family:
                    started = time.perf_counter()
                    run = ["run", bench, "-m", model, "--limit", str(limits[model])]
                    run += ["--db", str(db), "--data-dir", args.data_dir, "--no-progress"]
                    assert assay(run) == 0, model
                    print(f"# {model}: {time.perf_counter() - started:.0f}s", flush=True)
        finally:
            if proc is not None:
                proc.terminate()
        print(
            f"\n{'pair':<75} {'options':>7} {'<=0.1/tok':>9} {'mean':>6} {'p95':>6} "
            f"{'max':>6} {'same pick':>10}"
        )
        for family in models.values():
            for x, y in itertools.combinations(family, 2):
                c = compare(choice_scores(db, x), choice_scores(db, y))
                print(
                    f"{x + ' vs ' + y:<75} {c['options']:>7} {c['within_0.1']:>9.1%} "
                    f"{c['mean']:>6.3f} {c['p95']:>6.3f} {c['max']:>6.3f} "
                    f"{c['same_pick']:>4}/{c['samples']}"
                )


if __name__ == "__main__":
    main()
