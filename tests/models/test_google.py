"""`google/<model>` through the real `google-genai` SDK against a local stub of the Gemini API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.models.stubs import MALFORMED, Reply
from tests.models.stubs.google_stub import (
    CONTEXT_TOO_LONG,
    RATE_LIMITED,
    SERVER_ERROR,
    UNAVAILABLE,
    GoogleStub,
)

from assay.errors import UserError
from assay.execution.executor import Executor
from assay.execution.retry import RetryPolicy
from assay.models.registry import create_model
from assay.requests import Request, Response

pytest.importorskip("google.genai", reason="needs assay[google]")

FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=2.0, timeout=5)
KEY = "AIza-test-0123456789abcdef"


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[GoogleStub]:
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    server = GoogleStub().start()
    yield server
    server.stop()


def ask(text: str = "What is 2+2?", **kw: Any) -> Request:
    return Request(
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}],
        max_tokens=9,
        **kw,
    )


async def run(spec: str, request: Request) -> tuple[Executor, Response]:
    model = create_model(spec)
    executor = Executor(model, policy=FAST)
    try:
        return executor, await executor.execute(request, executor.key(request))
    finally:
        await model.close()


async def test_success_records_text_usage_and_raw_json(stub: GoogleStub) -> None:
    stub.answer = lambda prompt: f"got {prompt.split()[-1]}"
    _, response = await run(f"google/gemini-x@{stub.base_url}", ask("one two", seed=3))
    assert response.ok and response.text == "got two"
    assert (response.input_tokens, response.output_tokens) == (2, 1)
    assert response.finish_reason == "stop"
    assert response.raw is not None and response.raw["model_version"] == "stub-1"
    call = stub.generation_calls()[0]
    assert call.path.split("/", 2)[2] == "models/gemini-x:generateContent"
    assert call.headers["x-goog-api-key"] == KEY
    body = call.json()
    assert body["systemInstruction"]["parts"][0]["text"] == "Be brief."
    assert body["generationConfig"]["maxOutputTokens"] == 9
    assert body["generationConfig"]["seed"] == 3


async def test_candidates_and_logprobs(stub: GoogleStub) -> None:
    _, response = await run(f"google/gemini-x@{stub.base_url}", ask(n=2, logprobs=True))
    assert response.completions == ["A", "A1"]
    assert response.logprobs == [{"token": "A", "logprob": -0.5}]


async def test_rate_limit_honours_retry_after(stub: GoogleStub) -> None:
    stub.script(Reply(429, RATE_LIMITED.body, headers={"retry-after": "0.4"}))
    executor, response = await run(f"google/gemini-x@{stub.base_url}", ask())
    assert response.ok and response.attempts == 2 and executor.stats.retries == 1
    first, second = stub.generation_calls()
    assert second.at - first.at >= 0.4


async def test_server_errors_retried_then_recorded(stub: GoogleStub) -> None:
    stub.script(SERVER_ERROR, UNAVAILABLE, SERVER_ERROR)
    _, response = await run(f"google/gemini-x@{stub.base_url}", ask())
    assert response.error is not None and response.error.kind == "server"
    assert response.error.status == 500 and response.attempts == 3
    assert len(stub.generation_calls()) == 3  # the SDK itself did not retry


async def test_timeout_is_retried(stub: GoogleStub) -> None:
    stub.script(Reply(delay=1.5, body={}))
    _, response = await run(f"google/gemini-x@{stub.base_url}?timeout=0.3", ask())
    assert response.ok and response.attempts == 2


async def test_malformed_body_is_recorded(stub: GoogleStub) -> None:
    stub.script(Reply(body=MALFORMED))
    _, response = await run(f"google/gemini-x@{stub.base_url}", ask())
    assert response.error is not None and response.error.kind == "malformed"
    assert response.attempts == 1


async def test_context_length_is_final(stub: GoogleStub) -> None:
    stub.script(CONTEXT_TOO_LONG)
    _, response = await run(f"google/gemini-x@{stub.base_url}", ask())
    assert response.error is not None
    assert (response.error.kind, response.error.retryable) == ("context_length", False)
    assert len(stub.generation_calls()) == 1


async def test_safety_block_is_an_answer(stub: GoogleStub) -> None:
    stub.script(Reply(body={"promptFeedback": {"blockReason": "SAFETY"}}))
    _, response = await run(f"google/gemini-x@{stub.base_url}", ask())
    assert response.ok and response.text == "" and response.finish_reason == "content_filter"


async def test_check_names_a_missing_model(stub: GoogleStub) -> None:
    model = create_model(f"google/nope@{stub.base_url}")
    with pytest.raises(UserError, match="no model 'nope'"):
        await model.check()
    await model.close()


def test_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    with pytest.raises(UserError, match="GEMINI_API_KEY"):
        create_model("google/gemini-2.5-flash")
