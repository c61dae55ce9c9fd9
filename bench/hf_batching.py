"""transformers on CPU: length-sorted batches against one request at a time.

The same MMLU 0-shot chat requests (letters, up to 8 new tokens), GSM8K 0-shot requests with 64
new tokens, and the same log-likelihood requests through `hf/smollm2?batch_size=B` for B = 1
and 8, timed end to end through the executor (model load excluded).

    python bench/hf_batching.py [--requests 48] [--threads 1]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def requests_for(benchmark: str, n: int) -> list[object]:
    from assay.benchmarks.base import DataContext
    from assay.benchmarks.registry import resolve_task
    from assay.benchmarks.selection import Selection

    task = resolve_task(benchmark)
    loaded = task.load(DataContext(DATA))
    out: list[object] = []
    for _, sample in Selection(loaded.samples, n, 0, where=benchmark):
        out += task.prompt.build(sample, [], True)
    return out


async def timed(model_spec: str, requests: list[object]) -> tuple[float, float]:
    from assay.execution.executor import Executor
    from assay.models.registry import create_model

    model = create_model(model_spec)
    executor = Executor(model)
    started = time.perf_counter()
    responses = await asyncio.gather(
        *(executor.execute(r, str(i)) for i, r in enumerate(requests))  # type: ignore[arg-type]
    )
    wall = time.perf_counter() - started
    assert all(r.ok for r in responses)
    await model.close()
    return wall, len(requests) / wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=48)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    long_answers = requests_for("gsm8k:shots=0", args.requests // 3)
    for request in long_answers:
        request.max_tokens = 64  # type: ignore[attr-defined]
    cases = {
        "generate (chat, 8 tokens)": requests_for("mmlu:shots=0", args.requests),
        "generate (chat, 64 tokens)": long_answers,
        "log-likelihood (4 options)": requests_for(
            "mmlu:shots=0,format=multiple_choice_logprob", args.requests // 4
        ),
    }
    print(f"{'requests':<28} {'n':>4} {'batch 1 s':>10} {'batch 8 s':>10} {'speed-up':>9}")
    for name, requests in cases.items():
        one, _ = asyncio.run(timed(f"hf/smollm2?batch_size=1&threads={args.threads}", requests))
        eight, _ = asyncio.run(timed(f"hf/smollm2?batch_size=8&threads={args.threads}", requests))
        print(f"{name:<28} {len(requests):>4} {one:>10.1f} {eight:>10.1f} {one / eight:>8.1f}x")


if __name__ == "__main__":
    main()
