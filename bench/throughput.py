"""assay's end-to-end throughput against a bare asyncio loop with the `openai` SDK.

Both send the same chat requests at the same concurrency to (1) the real llama.cpp server with
SmolLM2 and (2) a stub that answers at once (bench/stub_openai.py, its own process). assay's
figure is a whole run: prompts built, cache consulted, calls made, answers scored, every request
and response written to SQLite. The bare loop only sends and awaits.

    python bench/throughput.py [--stub-requests 3000] [--server-requests 40]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from assay.models.local_server import free_port, llama_server, serve

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def build_task(benchmark: str) -> Any:
    from assay.benchmarks.registry import resolve_task

    return resolve_task(benchmark)


async def assay_run(
    benchmark: str, model_spec: str, limit: int, concurrency: int, db: Path
) -> float:
    from assay.benchmarks.base import DataContext
    from assay.execution.executor import Executor
    from assay.execution.runner import Runner
    from assay.models.registry import create_model
    from assay.store.db import Store

    model = create_model(model_spec)
    store = Store(f"sqlite:///{db}")
    executor = Executor(model, concurrency=concurrency)
    runner = Runner(
        store, build_task(benchmark), model, executor, data=DataContext(DATA), limit=limit
    )
    started = time.perf_counter()
    result = await runner.run()
    wall = time.perf_counter() - started
    await model.close()
    assert result.summary["n_errors"] == 0, result.summary
    return limit / wall


async def bare_loop(benchmark: str, base: str, name: str, limit: int, concurrency: int) -> float:
    """The same chat requests through AsyncOpenAI with a semaphore: no cache, store or scoring."""
    import openai

    from assay.benchmarks.base import DataContext
    from assay.benchmarks.selection import Selection

    task = build_task(benchmark)
    loaded = task.load(DataContext(DATA))
    requests = []
    for _, sample in Selection(loaded.samples, limit, 0, where=benchmark):
        shots = list(loaded.fewshot(sample))[: task.prompt.shots] if loaded.fewshot else []
        requests += task.prompt.build(sample, shots, True)
    client = openai.AsyncOpenAI(base_url=base, api_key="EMPTY", max_retries=0)
    slots = asyncio.Semaphore(concurrency)

    async def send(request: Any) -> None:
        async with slots:
            await client.chat.completions.create(
                model=name,
                messages=request.messages,
                max_tokens=request.max_tokens,
                temperature=request.temperature,
            )

    started = time.perf_counter()
    await asyncio.gather(*(send(r) for r in requests))
    wall = time.perf_counter() - started
    await client.close()
    return len(requests) / wall


def stub_benchmark(folder: Path, n: int) -> str:
    import json

    data = folder / "stub.jsonl"
    data.write_text("\n".join(json.dumps({"q": f"Question {i}?", "a": "B"}) for i in range(n)))
    spec = folder / "stub.yaml"
    spec.write_text(
        "name: stub\ndata: {path: stub.jsonl}\nfields: {input: q, target: a}\n"
        "prompt: {format: generate, max_tokens: 4}\nmetrics: [exact_match]\n"
    )
    return str(spec)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stub-requests", type=int, default=3000)
    parser.add_argument("--stub-concurrency", type=int, default=32)
    parser.add_argument("--server-requests", type=int, default=40)
    parser.add_argument("--server-concurrency", type=int, default=2)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        port = free_port()
        stub_command = [sys.executable, str(REPO / "bench" / "stub_openai.py"), str(port)]
        with serve(stub_command, port) as base:
            bench = stub_benchmark(folder, args.stub_requests)
            n, c = args.stub_requests, args.stub_concurrency
            bare = asyncio.run(bare_loop(bench, base, "stub", n, c))
            mine = asyncio.run(
                assay_run(bench, f"openai-compatible/stub@{base}", n, c, folder / "stub.db")
            )
            rows.append(("stub (answers at once)", n, c, bare, mine))
        from assay.models.llamacpp import packaged_path

        with llama_server(packaged_path("smollm2"), alias="smollm2") as base:
            n, c = args.server_requests, args.server_concurrency
            bench = "mmlu:shots=0"
            asyncio.run(bare_loop(bench, base, "smollm2", 2, c))  # warm the server
            bare = asyncio.run(bare_loop(bench, base, "smollm2", n, c))
            mine = asyncio.run(
                assay_run(bench, f"openai-compatible/smollm2@{base}", n, c, folder / "server.db")
            )
            rows.append(("llama.cpp server, SmolLM2, mmlu 0-shot", n, c, bare, mine))
    print(
        f"{'target':<42} {'requests':>8} {'conc':>5} {'bare req/s':>11} {'assay req/s':>12} "
        f"{'assay/bare':>10}"
    )
    for name, n, c, bare, mine in rows:
        print(f"{name:<42} {n:>8} {c:>5} {bare:>11.1f} {mine:>12.1f} {mine / bare:>10.1%}")
    print("targets: >= 95% of the bare loop against the real server, >= 90% against the stub")


if __name__ == "__main__":
    main()
