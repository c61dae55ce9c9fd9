"""`anthropic/<model>` through the real `anthropic` SDK against a local stub of the Messages API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.models.stubs import Reply
from tests.models.stubs.anthropic_stub import (
    CONTEXT_TOO_LONG,
    OVERLOADED,
    RATE_LIMITED,
    SERVER_ERROR,
    AnthropicStub,
)

from assay.errors import UserError
from assay.execution.executor import Executor
from assay.execution.retry import RetryPolicy
from assay.models.registry import create_model
from assay.requests import Request, Response

pytest.importorskip("anthropic", reason="needs assay[anthropic]")

FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=2.0, timeout=5)
KEY = "sk-ant-test-0123456789"


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[AnthropicStub]:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    server = AnthropicStub().start()
    yield server
    server.stop()


def ask(text: str = "What is 2+2?", **kw: Any) -> Request:
    return Request(
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}],
        max_tokens=7,
        **kw,
    )


async def run(spec: str, request: Request) -> tuple[Executor, Response]:
    model = create_model(spec)
    executor = Executor(model, policy=FAST)
    try:
        return executor, await executor.execute(request, executor.key(request))
    finally:
        await model.close()


async def test_success_records_text_usage_and_raw_json(stub: AnthropicStub) -> None:
    stub.answer = lambda prompt: f"you said {prompt.split()[-1]}"
    _, response = await run(f"anthropic/claude-x@{stub.base_url}", ask("hello there", stop=["\n"]))
    assert response.ok and response.text == "you said there"
    assert (response.input_tokens, response.output_tokens) == (2, 1)
    assert response.finish_reason == "stop"
    assert response.raw is not None and response.raw["type"] == "message"
    call = stub.generation_calls()[0]
    sent_key = call.headers.get("x-api-key") or call.headers["authorization"].removeprefix(
        "Bearer "
    )
    assert sent_key == KEY
    body = call.json()
    assert body["system"] == "Be brief." and [m["role"] for m in body["messages"]] == ["user"]
    assert body["max_tokens"] == 7 and body["stop_sequences"] == ["\n"]
    assert "temperature" not in body  # the Messages API takes no sampling parameters


async def test_temperature_is_sent_when_asked(stub: AnthropicStub) -> None:
    spec = f"anthropic/claude-x@{stub.base_url}?send_temperature=true"
    _, response = await run(spec, ask(top_p=0.9))
    assert response.ok
    body = stub.generation_calls()[0].json()
    assert (body["temperature"], body["top_p"]) == (0.0, 0.9)


async def test_n_samples_are_separate_calls(stub: AnthropicStub) -> None:
    _, response = await run(f"anthropic/claude-x@{stub.base_url}", ask(n=3, temperature=1.0))
    assert response.completions == ["A", "A", "A"] and response.output_tokens == 3
    assert len(stub.generation_calls()) == 3


async def test_thinking_budget_sends_no_temperature(stub: AnthropicStub) -> None:
    _, response = await run(f"anthropic/claude-x@{stub.base_url}?thinking_budget=1024", ask())
    assert response.ok
    body = stub.generation_calls()[0].json()
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert body["max_tokens"] == 1024 + 7


async def test_rate_limit_honours_retry_after(stub: AnthropicStub) -> None:
    stub.script(Reply(429, RATE_LIMITED.body, headers={"retry-after": "0.4"}))
    executor, response = await run(f"anthropic/claude-x@{stub.base_url}", ask())
    assert response.ok and response.attempts == 2 and executor.stats.retries == 1
    first, second = stub.generation_calls()
    assert second.at - first.at >= 0.4


async def test_overloaded_and_server_errors_are_retried(stub: AnthropicStub) -> None:
    stub.script(OVERLOADED, SERVER_ERROR)
    _, response = await run(f"anthropic/claude-x@{stub.base_url}", ask())
    assert response.ok and response.attempts == 3


async def test_persistent_overload_is_recorded(stub: AnthropicStub) -> None:
    stub.script(OVERLOADED, OVERLOADED, OVERLOADED)
    executor, response = await run(f"anthropic/claude-x@{stub.base_url}", ask())
    assert response.error is not None
    assert (response.error.kind, response.error.status) == ("overloaded", 529)
    assert response.attempts == 3 and executor.stats.errors_by_kind == {"overloaded": 1}


async def test_timeout_is_retried(stub: AnthropicStub) -> None:
    stub.script(Reply(delay=1.5, body={}))
    _, response = await run(f"anthropic/claude-x@{stub.base_url}?timeout=0.3", ask())
    assert response.ok and response.attempts == 2


async def test_malformed_body_is_recorded(stub: AnthropicStub) -> None:
    stub.script(Reply(body=b'{"type": "message", "content": [{"type": "te'))
    _, response = await run(f"anthropic/claude-x@{stub.base_url}", ask())
    assert response.error is not None and response.error.kind == "malformed"
    assert response.attempts == 1


async def test_context_length_is_final(stub: AnthropicStub) -> None:
    stub.script(CONTEXT_TOO_LONG)
    _, response = await run(f"anthropic/claude-x@{stub.base_url}", ask())
    assert response.error is not None
    assert (response.error.kind, response.error.retryable, response.error.status) == (
        "context_length",
        False,
        400,
    )
    assert len(stub.generation_calls()) == 1


async def test_check_names_a_missing_model(stub: AnthropicStub) -> None:
    model = create_model(f"anthropic/nope@{stub.base_url}")
    with pytest.raises(UserError, match="no model 'nope'"):
        await model.check()
    await model.close()


def test_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(UserError, match="ANTHROPIC_API_KEY"):
        create_model("anthropic/claude-sonnet-4-5")
