"""The transformers backend on a GPU: `hf/<dir>?device=cuda`, batched vs one at a time.

Needs a CUDA machine with torch and transformers. It saves a small randomly initialised Llama
(so nothing has to be downloaded), then through assay's executor: generation and
log-likelihood requests with batch_size 1 and 16, their wall times, and whether batching (and
the GPU itself, against the CPU) changes any option's log-likelihood.

    python bench/hf_gpu.py [--requests 256]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from assay.execution.executor import Executor
from assay.models.registry import create_model
from assay.requests import Request


def tiny_llama(folder: Path) -> None:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=32000,
        hidden_size=512,
        intermediate_size=1536,
        num_hidden_layers=8,
        num_attention_heads=8,
        num_key_value_heads=8,
        max_position_embeddings=2048,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    try:
        AutoTokenizer.from_pretrained("gpt2").save_pretrained(folder)
    except OSError:  # no hub: a byte-level tokenizer built here
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers
        from transformers import PreTrainedTokenizerFast

        raw = Tokenizer(models.BPE())
        raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        raw.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
        raw.add_tokens(sorted(alphabet))
        fast = PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<eos>", pad_token="<eos>")
        fast.add_special_tokens({"eos_token": "<eos>"})
        fast.save_pretrained(folder)


def requests(n: int) -> tuple[list[Request], list[Request]]:
    generate = [
        Request(prompt=f"Item {i}: " + "word " * (20 + i % 40), max_tokens=32) for i in range(n)
    ]
    score = [
        Request(
            prompt=f"Question {i}: " + "context " * (30 + i % 50) + "Answer:",
            continuation=f" option {j}",
        )
        for i in range(n // 4)
        for j in range(4)
    ]
    return generate, score


async def timed(spec: str, batch: list[Request]) -> tuple[float, list[float | None]]:
    model = create_model(spec)
    executor = Executor(model)
    await asyncio.gather(*(executor.execute(r, f"w{i}") for i, r in enumerate(batch[:8])))
    started = time.perf_counter()
    out = await asyncio.gather(*(executor.execute(r, str(i)) for i, r in enumerate(batch)))
    wall = time.perf_counter() - started
    await model.close()
    assert all(r.ok for r in out), [r.error for r in out if not r.ok][:1]
    return wall, [r.loglikelihood for r in out]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=256)
    args = parser.parse_args()
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    print("device:", torch.cuda.get_device_name(0) if device == "cuda" else "cpu only")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "tiny"
        tiny_llama(folder)
        generate, score = requests(args.requests)
        base = f"hf/{folder}?device={device}&threads=4"
        for name, batch in (("generate 32 tokens", generate), ("log-likelihood", score)):
            one, ll_one = asyncio.run(timed(f"{base}&batch_size=1", batch))
            many, ll_many = asyncio.run(timed(f"{base}&batch_size=16", batch))
            print(
                f"{name:<20} n={len(batch):<4} batch 1: {one:6.2f}s  batch 16: {many:6.2f}s "
                f" speed-up {one / many:4.1f}x"
            )
            if ll_one[0] is not None:
                diff = max(
                    abs(a - b)
                    for a, b in zip(ll_one, ll_many, strict=True)
                    if a is not None and b is not None
                )
                _, ll_cpu = asyncio.run(
                    timed(f"hf/{folder}?device=cpu&threads=8&batch_size=16", batch[:64])
                )
                cpu = max(
                    abs(a - b)
                    for a, b in zip(ll_one[:64], ll_cpu, strict=True)
                    if a is not None and b is not None
                )
                print(
                    f"  log-likelihood: batch 1 vs 16 max diff {diff:.2e} nats; "
                    f"GPU vs CPU max diff {cpu:.2e} nats"
                )


if __name__ == "__main__":
    main()
