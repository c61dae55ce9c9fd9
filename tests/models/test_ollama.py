"""`ollama/<model>@url` through the real `ollama` SDK against a local stub of Ollama's API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.models.stubs import MALFORMED, Reply
from tests.models.stubs.ollama_stub import SERVER_BUSY, SERVER_ERROR, OllamaStub, ollama_error

from assay.errors import UserError
from assay.execution.executor import Executor
from assay.execution.retry import RetryPolicy
from assay.models.registry import create_model
from assay.requests import Request, Response

pytest.importorskip("ollama", reason="needs assay[ollama]")

FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=2.0, timeout=5)


@pytest.fixture
def stub() -> Iterator[OllamaStub]:
    server = OllamaStub().start()
    yield server
    server.stop()


async def run(spec: str, request: Request) -> tuple[Executor, Response]:
    model = create_model(spec)
    executor = Executor(model, policy=FAST)
    try:
        return executor, await executor.execute(request, executor.key(request))
    finally:
        await model.close()


def ask(text: str = "hi there", **kw: object) -> Request:
    return Request(messages=[{"role": "user", "content": text}], max_tokens=4, **kw)  # type: ignore[arg-type]


async def test_chat_success_with_context_window(stub: OllamaStub) -> None:
    stub.answer = lambda prompt: prompt.upper()
    spec = f"ollama/qwen3:0.6b@{stub.origin}?num_ctx=8192&keep_alive=5m"
    _, response = await run(spec, ask("hi there", seed=7, logprobs=True))
    assert response.ok and response.text == "HI THERE"
    assert (response.input_tokens, response.output_tokens) == (2, 1)
    assert response.finish_reason == "stop" and response.raw is not None
    assert response.raw["done"] is True
    assert response.logprobs == [{"token": "A", "logprob": -0.1}]
    body = stub.generation_calls()[0].json()
    assert body["model"] == "qwen3:0.6b" and body["keep_alive"] == "5m"
    assert body["options"] == {"num_predict": 4, "temperature": 0.0, "seed": 7, "num_ctx": 8192}


async def test_raw_prompt_for_base_models(stub: OllamaStub) -> None:
    _, response = await run(f"ollama/gemma3@{stub.origin}?raw=true", Request(prompt="The sky is"))
    assert response.ok and response.text == "A"
    call = stub.generation_calls()[0]
    assert call.path == "/api/generate" and call.json()["raw"] is True


async def test_n_samples_use_successive_seeds(stub: OllamaStub) -> None:
    _, response = await run(f"ollama/m@{stub.origin}", ask(n=3, seed=10, temperature=0.8))
    assert response.completions == ["A", "A", "A"] and response.output_tokens == 3
    seeds = sorted(c.json()["options"]["seed"] for c in stub.generation_calls())
    assert seeds == [10, 11, 12]


async def test_busy_and_server_errors_are_retried(stub: OllamaStub) -> None:
    stub.script(SERVER_BUSY, SERVER_ERROR)
    executor, response = await run(f"ollama/m@{stub.origin}", ask())
    assert response.ok and response.attempts == 3 and executor.stats.retries == 2


async def test_rate_limit_is_retried(stub: OllamaStub) -> None:
    stub.script(ollama_error(429, "too many requests"))
    _, response = await run(f"ollama/m@{stub.origin}", ask())
    assert response.ok and response.attempts == 2


async def test_timeout_is_retried(stub: OllamaStub) -> None:
    stub.script(Reply(delay=1.5, body={}))
    _, response = await run(f"ollama/m@{stub.origin}?timeout=0.3", ask())
    assert response.ok and response.attempts == 2


async def test_malformed_body_is_recorded(stub: OllamaStub) -> None:
    stub.script(Reply(body=MALFORMED))
    _, response = await run(f"ollama/m@{stub.origin}", ask())
    assert response.error is not None and response.error.kind == "malformed"
    assert response.attempts == 1


async def test_context_length_error_is_final(stub: OllamaStub) -> None:
    stub.script(ollama_error(400, "the input length exceeds the context length"))
    _, response = await run(f"ollama/m@{stub.origin}", ask())
    assert response.error is not None
    assert (response.error.kind, response.error.retryable) == ("context_length", False)


async def test_check_says_how_to_pull_a_missing_model(stub: OllamaStub) -> None:
    model = create_model(f"ollama/nope@{stub.origin}")
    with pytest.raises(UserError, match="ollama pull nope"):
        await model.check()
    await model.close()


async def test_check_says_when_ollama_is_not_running() -> None:
    model = create_model("ollama/m@http://127.0.0.1:9")
    with pytest.raises(UserError, match="cannot reach Ollama"):
        await model.check()
    await model.close()
