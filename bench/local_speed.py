"""assay's local backends against their library driven bare, in the same process.

`--backend llamacpp` (default): both answer the same chat requests (the prompts assay builds for
real benchmarks, few-shot included) with the same model file, threads and context size, in the
same order. The bare side calls `Llama.create_chat_completion` in a loop; assay's side goes
through `LlamaCppModel` and the `Executor` (worker thread, retries, cache keys; no store).

`--backend hf`: transformers. The bare side calls `generate` on the very model object assay
loaded (same weights, same torch threads), one chat-templated request at a time, greedy, with
the request's token limit and stop strings; assay's side sends the same requests one at a time
through `TransformersModel` and the `Executor`, and then all at once (its batching).

The two alternate in blocks so that a busy machine slows both alike. Prints tokens/s (prompt +
completion tokens over wall time) and assay's share of the bare rate, for the selection order
and for the sorted (prefix-grouped) order the runner uses for backends with a prefix cache.

    python bench/local_speed.py [--backend llamacpp|hf] [--benchmarks mmlu gsm8k] [--limit 8]
                                [--threads 1] [--blocks 2]
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


def bare_hf(model: Any, requests: list[Any]) -> tuple[float, int]:
    """transformers' own `generate`, one request at a time, on the model assay loaded."""
    import torch

    tokenizer, network = model._tokenizer, model._model
    tokens = 0
    started = time.perf_counter()
    for r in requests:
        ids = tokenizer.apply_chat_template(r.messages, add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "input_ids"):
            ids = ids["input_ids"]
        options: dict[str, Any] = {"max_new_tokens": max(1, r.max_tokens), "do_sample": False}
        if r.stop:
            options.update(stop_strings=list(r.stop), tokenizer=tokenizer)
        with torch.no_grad():
            output = network.generate(
                input_ids=torch.tensor([ids]),
                attention_mask=torch.ones((1, len(ids)), dtype=torch.long),
                pad_token_id=tokenizer.pad_token_id,
                temperature=None,
                top_p=None,
                top_k=None,
                **options,
            )
        new = output[0, len(ids) :].tolist()
        produced = 0
        for token in new:
            if token == tokenizer.eos_token_id:
                break
            produced += 1
        tokens += len(ids) + produced
    return time.perf_counter() - started, tokens


async def all_at_once(executor: Any, requests: list[Any]) -> tuple[float, int]:
    """Every request sent together: the backend batches them."""
    started = time.perf_counter()
    responses = await asyncio.gather(*(executor._call_with_retries(r) for r in requests))
    assert all(r.error is None for r in responses), [r.error for r in responses]
    tokens = sum((r.input_tokens or 0) + (r.output_tokens or 0) for r in responses)
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
    parser.add_argument("--backend", choices=["llamacpp", "hf"], default="llamacpp")
    parser.add_argument("--benchmarks", nargs="+", default=["mmlu", "gsm8k"])
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--blocks", type=int, default=2)
    args = parser.parse_args()

    from assay.execution.executor import Executor
    from assay.execution.runner import _Item, _prompt_order
    from assay.models.registry import create_model

    requests = build_requests(args.benchmarks, args.limit)
    grouped = [
        it.requests[0]
        for it in sorted(
            (_Item(i, None, [r], []) for i, r in enumerate(requests)),  # type: ignore[arg-type]
            key=_prompt_order,
        )
    ]
    model = create_model(f"{args.backend}/smollm2?threads={args.threads}")
    executor = Executor(model)
    if args.backend == "llamacpp":
        import llama_cpp

        from assay.models.llamacpp import packaged_path

        llama = llama_cpp.Llama(
            model_path=str(packaged_path("smollm2")),
            n_ctx=4096,
            n_threads=args.threads,
            n_threads_batch=args.threads,
            verbose=False,
        )

        def run_bare(order: list[Any]) -> tuple[float, int]:
            llama.reset()
            model._llama.reset() if model._llama is not None else None  # type: ignore[attr-defined]
            return bare(llama, order)
    else:

        def run_bare(order: list[Any]) -> tuple[float, int]:
            return bare_hf(model, order)

    print(
        f"{args.backend}: {len(requests)} requests from {', '.join(args.benchmarks)} (limit "
        f"{args.limit} each), {args.threads} thread(s), load average {os.getloadavg()[0]:.1f}"
    )
    sides = {"assay": through_assay}
    if args.backend == "hf":
        sides["assay, all at once"] = all_at_once
    orders = [("selection order", requests), ("sorted order", grouped)]
    if args.backend == "hf":
        orders = orders[:1]  # no prefix cache: the order changes nothing but the padding
    for label, order in orders:
        totals = {"bare": [0.0, 0], **{side: [0.0, 0] for side in sides}}
        for _ in range(args.blocks):
            wall, tokens = run_bare(order)
            totals["bare"][0] += wall
            totals["bare"][1] += tokens
            for side, call in sides.items():
                wall, tokens = asyncio.run(call(executor, order))
                totals[side][0] += wall
                totals[side][1] += tokens
        rates = {k: v[1] / v[0] for k, v in totals.items()}
        shown = "   ".join(
            f"{side} {rates[side]:7.1f} tok/s ({rates[side] / rates['bare']:.1%})" for side in sides
        )
        print(f"{label:16s} bare {rates['bare']:7.1f} tok/s   {shown}")


if __name__ == "__main__":
    main()
