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
import contextlib
import itertools
import tempfile
import time
from pathlib import Path

import numpy as np

from assay.cli import main as assay
from assay.models.local_server import llama_server
from assay.store.db import Store
from assay.store.queries import option_loglikelihoods

REPO = Path(__file__).resolve().parents[1]


def choice_scores(db: Path, model: str) -> dict[tuple[str, int], tuple[float, int]]:
    store = Store(f"sqlite:///{db}", readonly=True)
    try:
        return option_loglikelihoods(store, model)
    finally:
        store.close()


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
        with contextlib.ExitStack() as stack:
            if args.server_limit > 0:
                base = stack.enter_context(
                    llama_server(
                        packaged_path("gemma3-270m"),
                        alias="gemma3-270m",
                        logits_all=True,
                        n_ctx=2048,
                    )
                )
                server = f"openai-compatible/gemma3-270m@{base}?prompt_logprobs=true"
                models["gemma3-270m"].append(server)
                limits[server] = args.server_limit
            for family in models.values():
                for model in family:
                    started = time.perf_counter()
                    run = ["run", bench, "-m", model, "--limit", str(limits[model])]
                    run += ["--db", str(db), "--data-dir", args.data_dir, "--no-progress"]
                    assert assay(run) == 0, model
                    print(f"# {model}: {time.perf_counter() - started:.0f}s", flush=True)
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
