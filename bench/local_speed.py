"""assay's llama.cpp backend against llama-cpp-python driven bare, in the same process.

Both answer the same chat requests (the prompts assay builds for real benchmarks, few-shot
included) with the same model file, threads and context size, in the same order. The bare side
calls `Llama.create_chat_completion` in a loop; assay's side goes through `LlamaCppModel` and the
`Executor` (worker thread, retries, cache keys; no store). The two alternate in blocks so that a
busy machine slows both alike. Prints tokens/s (prompt + completion tokens over wall time) and
assay's share of the bare rate, for the selection order and for the sorted (prefix-grouped)
order the runner uses for backends with a prefix cache.

    python bench/local_speed.py [--benchmarks mmlu gsm8k] [--limit 10] [--threads 1] [--blocks 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ASSAY_DATA_DIR", REPO.parent / "shared" / "data"))


def build_requests(benchmarks: list[str], limit: int) -> list[Any]:
    from assay.benchmarks.base import DataContext
    from assay.benchmarks.registry import resolve_task
    from assay.benchmarks.selection import Selection

    requests = []
    for name in benchmarks:
        task = resolve_task(name)
        loaded = task.load(DataContext(DATA))
        shots_wanted = task.prompt.shots
        for _, sample in Selection(loaded.samples, limit, 0, where=name):
            shots = list(loaded.fewshot(sample))[:shots_wanted] if loaded.fewshot else []
            requests += task.prompt.build(sample, shots, True)
    return requests


def bare(llama: Any, requests: list[Any]) -> tuple[float, int]:
    tokens = 0
    started = time.perf_counter()
    for r in requests:
        out = llama.create_chat_completion(
            messages=r.messages,
            max_tokens=r.max_tokens,
            temperature=r.temperature,
            stop=r.stop or [],
            seed=0,
        )
        tokens += out["usage"]["prompt_tokens"] + out["usage"]["completion_tokens"]
    return time.perf_counter() - started, tokens


async def through_assay(executor: Any, requests: list[Any]) -> tuple[float, int]:
    tokens = 0
    started = time.perf_counter()
    for r in requests:
        response = await executor._call_with_retries(r)  # no cache: every request is computed
        assert response.error is None, response.error
        tokens += (response.input_tokens or 0) + (response.output_tokens or 0)
    return time.perf_counter() - started, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--benchmarks", nargs="+", default=["mmlu", "gsm8k"])
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--blocks", type=int, default=2)
    args = parser.parse_args()

    import llama_cpp

    from assay.execution.executor import Executor
    from assay.execution.runner import _Item, _prompt_order
    from assay.models.llamacpp import packaged_path
    from assay.models.registry import create_model

    requests = build_requests(args.benchmarks, args.limit)
    grouped = [
        it.requests[0]
        for it in sorted(
            (_Item(i, None, [r], []) for i, r in enumerate(requests)),  # type: ignore[arg-type]
            key=_prompt_order,
        )
    ]
    path = packaged_path("smollm2")
    llama = llama_cpp.Llama(
        model_path=str(path),
        n_ctx=4096,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        verbose=False,
    )
    model = create_model(f"llamacpp/smollm2?threads={args.threads}")
    executor = Executor(model)
    print(
        f"{len(requests)} requests from {', '.join(args.benchmarks)} (limit {args.limit} each), "
        f"{args.threads} thread(s), load average {os.getloadavg()[0]:.1f}"
    )
    for label, order in (("selection order", requests), ("sorted order", grouped)):
        totals = {"bare": [0.0, 0], "assay": [0.0, 0]}
        for _ in range(args.blocks):
            llama.reset()
            wall, tokens = bare(llama, order)
            totals["bare"][0] += wall
            totals["bare"][1] += tokens
            model._llama.reset() if model._llama is not None else None  # type: ignore[attr-defined]
            wall, tokens = asyncio.run(through_assay(executor, order))
            totals["assay"][0] += wall
            totals["assay"][1] += tokens
        rates = {k: v[1] / v[0] for k, v in totals.items()}
        print(
            f"{label:16s} bare {rates['bare']:7.1f} tok/s   assay {rates['assay']:7.1f} tok/s   "
            f"assay/bare {rates['assay'] / rates['bare']:.1%}"
        )


if __name__ == "__main__":
    main()
