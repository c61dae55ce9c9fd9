"""Provider batch APIs through the real SDKs against local stubs: submit, poll, collect, resume."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.models.stubs.anthropic_stub import AnthropicStub
from tests.models.stubs.openai_stub import OpenAIStub

from assay.errors import UserError
from assay.models.batch import BatchPending, BatchStatus, run_batch
from assay.models.registry import create_model
from assay.pricing import cost
from assay.requests import Request
from assay.store.db import Store
from assay.store.schema import provider_batches
from assay.store.writes import BatchLedger


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'batch.db'}")
    yield s
    s.close()


@pytest.fixture
def openai_stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIStub]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-batch-0000")
    server = OpenAIStub().start()
    yield server
    server.stop()


@pytest.fixture
def anthropic_stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[AnthropicStub]:
    pytest.importorskip("anthropic", reason="needs assay[anthropic]")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-batch-0000")
    server = AnthropicStub().start()
    yield server
    server.stop()


def items(n: int) -> list[tuple[str, Request]]:
    return [
        (f"req_{i}", Request(messages=[{"role": "user", "content": f"question {i}"}], max_tokens=3))
        for i in range(n)
    ]


def batch_rows(store: Store) -> list[Any]:
    with store.connect() as conn:
        return list(conn.execute(sa.select(provider_batches)))


def posts(stub: Any, path: str) -> int:
    return sum(1 for c in stub.calls if c.method == "POST" and c.path == path)


async def test_openai_batch_submit_poll_collect(openai_stub: OpenAIStub, store: Store) -> None:
    openai_stub.answer = lambda prompt: f"answer to {prompt.split()[-1]}"
    openai_stub.batch_failures = {"req_2"}
    model = create_model(f"openai/gpt-x@{openai_stub.base_url}")
    seen: list[BatchStatus] = []
    try:
        out = await run_batch(
            BatchLedger(store), model, items(4), poll_interval=0.01, on_status=seen.append
        )
    finally:
        await model.close()
    assert sorted(out) == ["req_0", "req_1", "req_2", "req_3"]
    assert out["req_3"].ok and out["req_3"].text == "answer to 3"
    assert out["req_3"].input_tokens == 2 and out["req_3"].raw is not None
    failed = out["req_2"].error
    assert failed is not None and failed.kind == "context_length" and not failed.retryable
    assert [s.state for s in seen] == ["running", "done"]
    assert (seen[-1].succeeded, seen[-1].failed) == (3, 1)
    # the uploaded file is the Batch API's JSONL: one chat body per line
    batch = next(iter(openai_stub.batches.values()))
    assert batch["endpoint"] == "/v1/chat/completions"
    lines = openai_stub.files[batch["input_file_id"]].decode().splitlines()
    assert '"max_completion_tokens": 3' in lines[0] and len(lines) == 4
    [row] = batch_rows(store)
    assert row.state == "collected" and row.batch_id == batch["id"] and row.n_requests == 4


async def test_openai_batch_resumes_after_restart(openai_stub: OpenAIStub, store: Store) -> None:
    openai_stub.polls_to_finish = 3
    model = create_model(f"openai/gpt-x@{openai_stub.base_url}")
    with pytest.raises(BatchPending):
        await run_batch(BatchLedger(store), model, items(3), poll_interval=0.05, max_wait=0.01)
    await model.close()
    [row] = batch_rows(store)
    assert row.state == "running"
    # a new process: a fresh model, the same store and items; no second submission
    again = create_model(f"openai/gpt-x@{openai_stub.base_url}")
    try:
        out = await run_batch(BatchLedger(store), again, items(3), poll_interval=0.01)
    finally:
        await again.close()
    assert all(r.ok for r in out.values()) and len(out) == 3
    assert posts(openai_stub, "/v1/batches") == 1 and posts(openai_stub, "/v1/files") == 1


async def test_anthropic_batch_submit_poll_collect(
    anthropic_stub: AnthropicStub, store: Store
) -> None:
    anthropic_stub.batch_failures = {"req_1"}
    model = create_model(f"anthropic/claude-x@{anthropic_stub.base_url}")
    try:
        out = await run_batch(BatchLedger(store), model, items(3), poll_interval=0.01)
    finally:
        await model.close()
    assert out["req_0"].ok and out["req_0"].text == "A" and out["req_0"].output_tokens == 1
    error = out["req_1"].error
    assert error is not None and error.kind == "context_length"
    [batch] = anthropic_stub.batches.values()
    assert [r["params"]["max_tokens"] for r in batch["requests"]] == [3, 3, 3]


async def test_anthropic_batch_resumes(anthropic_stub: AnthropicStub, store: Store) -> None:
    anthropic_stub.polls_to_finish = 4
    model = create_model(f"anthropic/claude-x@{anthropic_stub.base_url}")
    with pytest.raises(BatchPending):
        await run_batch(BatchLedger(store), model, items(2), poll_interval=0.05, max_wait=0.01)
    out = await run_batch(BatchLedger(store), model, items(2), poll_interval=0.01)
    await model.close()
    assert len(out) == 2 and all(r.ok for r in out.values())
    assert posts(anthropic_stub, "/v1/messages/batches") == 1


async def test_a_new_set_of_items_is_a_new_batch(openai_stub: OpenAIStub, store: Store) -> None:
    model = create_model(f"openai/gpt-x@{openai_stub.base_url}")
    await run_batch(BatchLedger(store), model, items(2), poll_interval=0.01)
    await run_batch(
        BatchLedger(store), model, items(2), poll_interval=0.01
    )  # collected: submitted again
    await run_batch(BatchLedger(store), model, items(3), poll_interval=0.01)
    await model.close()
    assert posts(openai_stub, "/v1/batches") == 3 and len(batch_rows(store)) == 2


async def test_models_without_a_batch_api_say_so(store: Store) -> None:
    with pytest.raises(UserError, match="no batch API"):
        await run_batch(BatchLedger(store), create_model("mock/oracle"), items(1))


async def test_bad_custom_ids_are_refused(openai_stub: OpenAIStub, store: Store) -> None:
    model = create_model(f"openai/gpt-x@{openai_stub.base_url}")
    with pytest.raises(ValueError, match="custom id"):
        await run_batch(BatchLedger(store), model, [("has space", Request(prompt="x"))])
    await model.close()


def test_assay_run_batch_end_to_end(
    cli: Any,
    data_dir: Path,
    tmp_path: Path,
    openai_stub: OpenAIStub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`assay run --batch`: left running, resumed by the same command, collected, then cached;
    priced at the batch rate."""
    prices = tmp_path / "prices.yaml"
    prices.write_text("models:\n  openai/gpt-x: {input: 2, output: 8}\n")
    monkeypatch.setenv("ASSAY_PRICES", str(prices))
    openai_stub.answer = lambda prompt: "B"
    openai_stub.polls_to_finish = 4
    db = tmp_path / "runs.db"
    command = [
        "run",
        "mmlu:shots=0",
        "-m",
        f"openai/gpt-x@{openai_stub.base_url}",
        "--limit",
        "6",
        "--db",
        db,
        "--data-dir",
        data_dir,
        "--no-progress",
        "--batch",
        "--batch-poll",
        "0.05",
        "--batch-wait",
        "0.01",
    ]
    first = cli(*command)
    assert first.code == 0 and "is still running" in first.err
    runs = Store(f"sqlite:///{db}", readonly=True)
    with runs.connect() as conn:
        from assay.store import schema

        assert conn.execute(sa.select(schema.runs.c.status)).scalar_one() == "waiting"
    runs.close()
    second = cli(*command[:-2])  # wait as long as it takes this time
    assert second.code == 0, second.err
    assert "exact_match" in second.out and "n=6" in second.out
    assert posts(openai_stub, "/v1/batches") == 1  # resumed, not submitted twice
    runs = Store(f"sqlite:///{db}", readonly=True)
    with runs.connect() as conn:
        summary = conn.execute(sa.select(schema.runs.c.summary)).scalar_one()
    runs.close()
    full = cost("openai/gpt-x", summary["input_tokens"], summary["output_tokens"])
    assert summary["batch"] is True and full is not None and full > 0
    assert summary["cost_usd"] == pytest.approx(full * 0.5)
    third = cli(*command)
    assert "resumed 6 done" in third.out
    assert posts(openai_stub, "/v1/batches") == 1


def test_batch_needs_a_provider_with_a_batch_api(cli: Any, data_dir: Path) -> None:
    result = cli("run", "mmlu", "-m", "mock/oracle", "--batch", "--data-dir", data_dir)
    assert result.code == 2 and "has no batch API" in result.err
