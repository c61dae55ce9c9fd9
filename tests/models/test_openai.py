"""`openai/<model>` through the real `openai` SDK against a local stub of the OpenAI API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.models.stubs import MALFORMED, Reply
from tests.models.stubs.openai_stub import (
    CONTEXT_TOO_LONG,
    RATE_LIMITED,
    SERVER_ERROR,
    OpenAIStub,
)

from assay.errors import UserError
from assay.execution.executor import Executor
from assay.execution.retry import RetryPolicy
from assay.models.registry import create_model
from assay.requests import Request

FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=2.0, timeout=5)
KEY = "sk-test-0123456789abcdef"


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIStub]:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    server = OpenAIStub().start()
    yield server
    server.stop()


def ask(text: str = "What is 2+2?") -> Request:
    return Request(messages=[{"role": "user", "content": text}], max_tokens=5)


async def run(spec: str, *requests: Request, policy: RetryPolicy = FAST) -> tuple[Executor, list]:
    model = create_model(spec)
    executor = Executor(model, policy=policy)
    try:
        out = [await executor.execute(r, executor.key(r)) for r in requests]
    finally:
        await model.close()
    return executor, out


async def test_success_records_text_usage_and_raw_json(stub: OpenAIStub) -> None:
    stub.answer = lambda prompt: f"echo {prompt.split()[-1]}"
    _, [response] = await run(f"openai/gpt-x@{stub.base_url}", ask("say hello world"))
    assert response.ok and response.text == "echo world"
    assert (response.input_tokens, response.output_tokens) == (3, 1)
    assert response.finish_reason == "stop" and response.attempts == 1
    assert response.raw is not None and response.raw["object"] == "chat.completion"
    call = stub.generation_calls()[0]
    assert call.headers["authorization"] == f"Bearer {KEY}"
    body = call.json()
    assert body["max_completion_tokens"] == 5 and "max_tokens" not in body
    assert body["temperature"] == 0.0


async def test_reasoning_models_get_no_temperature(stub: OpenAIStub) -> None:
    spec = f"openai/o4-mini@{stub.base_url}?reasoning_effort=low"
    _, [response] = await run(spec, ask())
    assert response.ok
    body = stub.generation_calls()[0].json()
    assert "temperature" not in body and body["reasoning_effort"] == "low"


async def test_logprobs_and_n_samples(stub: OpenAIStub) -> None:
    request = Request(messages=[{"role": "user", "content": "x"}], n=3, logprobs=True)
    _, [response] = await run(f"openai/gpt-x@{stub.base_url}", request)
    assert response.completions == ["A", "A1", "A2"]
    assert response.logprobs == [{"token": "A", "logprob": -0.25}]
    assert stub.generation_calls()[0].json()["n"] == 3


async def test_rate_limit_is_retried_after_retry_after(stub: OpenAIStub) -> None:
    limited = Reply(RATE_LIMITED.status, RATE_LIMITED.body, headers={"retry-after": "0.4"})
    stub.script(limited)
    executor, [response] = await run(f"openai/gpt-x@{stub.base_url}", ask())
    assert response.ok and response.attempts == 2
    first, second = stub.generation_calls()
    assert second.at - first.at >= 0.4  # Retry-After honoured, not the 10 ms base delay
    assert executor.stats.retries == 1


async def test_server_errors_are_retried_until_attempts_run_out(stub: OpenAIStub) -> None:
    stub.script(SERVER_ERROR, SERVER_ERROR, SERVER_ERROR)
    executor, [response] = await run(f"openai/gpt-x@{stub.base_url}", ask())
    assert response.error is not None
    assert (response.error.kind, response.error.status, response.error.retryable) == (
        "server",
        500,
        True,
    )
    assert response.attempts == 3 and len(stub.generation_calls()) == 3
    assert executor.stats.errors_by_kind == {"server": 1}


async def test_one_server_error_then_success(stub: OpenAIStub) -> None:
    stub.script(SERVER_ERROR)
    _, [response] = await run(f"openai/gpt-x@{stub.base_url}", ask())
    assert response.ok and response.attempts == 2 and response.text == "A"


async def test_timeout_is_retryable(stub: OpenAIStub) -> None:
    stub.script(Reply(delay=1.5, body={}), Reply(delay=1.5, body={}))
    _, [response] = await run(f"openai/gpt-x@{stub.base_url}?timeout=0.3", ask())
    assert response.ok and response.attempts == 3


async def test_timeout_recorded_when_it_persists(stub: OpenAIStub) -> None:
    stub.script(*[Reply(delay=1.0, body={})] * 3)
    _, [response] = await run(f"openai/gpt-x@{stub.base_url}?timeout=0.2", ask())
    assert response.error is not None and response.error.kind == "timeout"
    assert response.attempts == 3


async def test_malformed_body_is_recorded_not_scored(stub: OpenAIStub) -> None:
    stub.script(Reply(body=MALFORMED))
    _, [response] = await run(f"openai/gpt-x@{stub.base_url}", ask())
    assert response.error is not None and response.error.kind == "malformed"
    assert response.text == "" and response.attempts == 1


async def test_context_length_is_final(stub: OpenAIStub) -> None:
    stub.script(CONTEXT_TOO_LONG)
    _, [response] = await run(f"openai/gpt-x@{stub.base_url}", ask("long " * 50))
    assert response.error is not None
    assert (response.error.kind, response.error.retryable) == ("context_length", False)
    assert len(stub.generation_calls()) == 1


async def test_extra_headers_are_sent(stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_TOKEN", "tok-secret-42")
    spec = f"openai/gpt-x@{stub.base_url}?header_X-Team=evals&header_X-Auth-Token=env:MY_TOKEN"
    _, [response] = await run(spec, ask())
    assert response.ok
    headers = stub.generation_calls()[0].headers
    assert headers["x-team"] == "evals" and headers["x-auth-token"] == "tok-secret-42"
    assert "tok-secret-42" not in create_model(spec).label


def test_missing_key_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(UserError, match="set the environment variable OPENAI_API_KEY"):
        create_model("openai/gpt-4o")


def test_inline_keys_and_literal_credential_headers_are_refused() -> None:
    with pytest.raises(UserError, match="environment variables only"):
        create_model("openai/gpt-4o?api_key=sk-oops")
    with pytest.raises(UserError, match="looks like a credential"):
        create_model("openai-compatible/m@http://127.0.0.1:1/v1?header_Authorization=Bearer x")


def test_keys_file(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    from pathlib import Path

    keys = Path(str(tmp_path)) / "keys.env"
    keys.write_text("# my keys\nexport TEAM_OPENAI_KEY='sk-from-file-123456'\n")
    monkeypatch.setenv("ASSAY_KEYS_FILE", str(keys))
    model = create_model("openai/gpt-4o?api_key_env=TEAM_OPENAI_KEY")
    assert model._api_key == "sk-from-file-123456"  # type: ignore[attr-defined]


async def test_check_reports_unknown_model(stub: OpenAIStub) -> None:
    model = create_model(f"openai/nope@{stub.base_url}")
    with pytest.raises(UserError, match="no model 'nope'"):
        await model.check()
    await model.close()
