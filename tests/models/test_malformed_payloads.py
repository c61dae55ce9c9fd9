"""Bodies that parse as JSON but have the wrong shape: every provider records `malformed`.

Each provider's real SDK talks to a local stub that answers with a payload a real server (or a
broken proxy) could send: an empty `choices` list, a choice without its message, null where text
belongs. None may escape as an IndexError, TypeError or KeyError, none may be scored as an
answer, and none is retried (the same body would come back).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from tests.models.stubs import Reply, StubServer
from tests.models.stubs.anthropic_stub import AnthropicStub
from tests.models.stubs.google_stub import GoogleStub
from tests.models.stubs.ollama_stub import OllamaStub
from tests.models.stubs.openai_stub import OpenAIStub

from assay.execution.executor import Executor
from assay.execution.retry import RetryPolicy
from assay.models.registry import create_model
from assay.requests import Request

# A generous timeout: the first call imports the SDK, slow on a busy machine.
FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.1, timeout=120)


def chat(choices: Any, **extra: Any) -> dict[str, Any]:
    return {"id": "c", "object": "chat.completion", "created": 0, "model": "m", "choices": choices}


def completion(choices: Any) -> dict[str, Any]:
    return {"id": "c", "object": "text_completion", "created": 0, "model": "m", "choices": choices}


OPENAI_CHAT = {
    "empty choices": chat([]),
    "null choices": chat(None),
    "no choices key": {"id": "c", "object": "chat.completion", "created": 0, "model": "m"},
    "choice without message": chat([{"index": 0, "finish_reason": "stop"}]),
    "null message": chat([{"index": 0, "message": None, "finish_reason": "stop"}]),
    "null content, stopped": chat(
        [{"index": 0, "message": {"role": "assistant", "content": None}, "finish_reason": "stop"}]
    ),
    "content not text": chat(
        [{"index": 0, "message": {"role": "assistant", "content": 42}, "finish_reason": "stop"}]
    ),
    "choice not an object": chat(["A"]),
    "broken logprobs": chat(
        [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "A"},
                "logprobs": {"content": [{"tok": "A"}]},
                "finish_reason": "stop",
            }
        ]
    ),
}
OPENAI_COMPLETION = {
    "empty choices": completion([]),
    "null text": completion([{"index": 0, "text": None, "finish_reason": "stop"}]),
    "no text": completion([{"index": 0, "finish_reason": "stop"}]),
}
ANTHROPIC = {
    "null text block": {
        "id": "m",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "text", "text": None}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 1},
    },
    "no content": {"id": "m", "type": "message", "role": "assistant", "usage": {}},
    "no usage": {"id": "m", "type": "message", "content": [{"type": "text", "text": "A"}]},
}
GOOGLE = {
    "empty candidates": {"candidates": [], "usageMetadata": {"promptTokenCount": 1}},
    "no candidates": {"usageMetadata": {"promptTokenCount": 1}},
}
OLLAMA = {
    "null message": {"model": "m", "done": True, "message": None},
    "null content": {"model": "m", "done": True, "message": {"role": "assistant", "content": None}},
    "no message": {"model": "m", "done": True},
}


@dataclass
class Provider:
    stub: Callable[[], StubServer]
    spec: Callable[[StubServer], str]
    request: Request
    env: tuple[str, str] | None = None
    module: str | None = None


CHAT = Request(messages=[{"role": "user", "content": "2+2?"}], max_tokens=5, logprobs=True)
PROMPT = Request(prompt="2+2?", max_tokens=5)
PROVIDERS = {
    "openai": Provider(
        OpenAIStub, lambda s: f"openai/gpt-x@{s.origin}/v1", CHAT, ("OPENAI_API_KEY", "sk-test")
    ),
    "openai-completions": Provider(
        OpenAIStub,
        lambda s: f"openai/gpt-x@{s.origin}/v1?api=completions",
        PROMPT,
        ("OPENAI_API_KEY", "sk-test"),
    ),
    "openai-compatible": Provider(OpenAIStub, lambda s: f"openai-compatible/m@{s.origin}/v1", CHAT),
    "openai-compatible-completions": Provider(
        OpenAIStub, lambda s: f"openai-compatible/m@{s.origin}/v1?api=completions", PROMPT
    ),
    "anthropic": Provider(
        AnthropicStub,
        lambda s: f"anthropic/claude-x@{s.origin}",
        CHAT,
        ("ANTHROPIC_API_KEY", "sk-ant-test"),
        "anthropic",
    ),
    "google": Provider(
        GoogleStub,
        lambda s: f"google/gemini-x@{s.origin}",
        CHAT,
        ("GEMINI_API_KEY", "gm-test-key"),
        "google.genai",
    ),
    "ollama": Provider(OllamaStub, lambda s: f"ollama/m@{s.origin}", CHAT, module="ollama"),
}
CASES = [
    *(("openai", name, body) for name, body in OPENAI_CHAT.items()),
    *(("openai-completions", name, body) for name, body in OPENAI_COMPLETION.items()),
    *(("openai-compatible", name, body) for name, body in OPENAI_CHAT.items()),
    *(("openai-compatible-completions", name, body) for name, body in OPENAI_COMPLETION.items()),
    *(("anthropic", name, body) for name, body in ANTHROPIC.items()),
    *(("google", name, body) for name, body in GOOGLE.items()),
    *(("ollama", name, body) for name, body in OLLAMA.items()),
]


@pytest.fixture(scope="module")
def stubs() -> Iterator[dict[type[StubServer], StubServer]]:
    """One stub per wire format for the whole module; each test scripts its own reply."""
    servers = {kind: kind().start() for kind in (OpenAIStub, AnthropicStub, GoogleStub, OllamaStub)}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.mark.parametrize(("provider", "case", "body"), CASES, ids=[f"{p}-{c}" for p, c, _ in CASES])
async def test_malformed_payload_is_a_final_malformed_error(
    stubs: dict[type[StubServer], StubServer],
    monkeypatch: pytest.MonkeyPatch,
    provider: str,
    case: str,
    body: Any,
) -> None:
    p = PROVIDERS[provider]
    if p.module:
        pytest.importorskip(p.module)
    if p.env:
        monkeypatch.setenv(*p.env)
    stub = stubs[p.stub]  # type: ignore[index]
    stub._script.clear()
    before = len(stub.generation_calls())
    stub.script(Reply(body=body))
    model = create_model(p.spec(stub))
    executor = Executor(model, policy=FAST)
    try:
        response = await executor.execute(p.request, "k")
    finally:
        await model.close()
    assert response.error is not None, f"{case}: scored as {response.text!r}"
    assert response.error.kind == "malformed", response.error
    assert not response.error.retryable and response.attempts == 1
    assert len(stub.generation_calls()) == before + 1


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
async def test_a_well_formed_answer_still_reads(
    stubs: dict[type[StubServer], StubServer], monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:
    p = PROVIDERS[provider]
    if p.module:
        pytest.importorskip(p.module)
    if p.env:
        monkeypatch.setenv(*p.env)
    stub = stubs[p.stub]  # type: ignore[index]
    stub._script.clear()
    model = create_model(p.spec(stub))
    try:
        response = await Executor(model, policy=FAST).execute(p.request, "k")
    finally:
        await model.close()
    assert response.ok and isinstance(response.text, str) and response.text


async def test_null_content_is_allowed_when_the_model_was_cut_off_or_refused(
    stubs: dict[type[StubServer], StubServer],
) -> None:
    stub = stubs[OpenAIStub]  # type: ignore[index]
    stub._script.clear()
    cut = {"role": "assistant", "content": None}
    refused = {"role": "assistant", "content": None, "refusal": "I can't help with that."}
    stub.script(
        Reply(body=chat([{"index": 0, "message": cut, "finish_reason": "length"}])),
        Reply(body=chat([{"index": 0, "message": refused, "finish_reason": "stop"}])),
    )
    model = create_model(f"openai-compatible/m@{stub.origin}/v1")
    executor = Executor(model, policy=FAST)
    try:
        first = await executor.execute(CHAT, "a")
        second = await executor.execute(CHAT, "b")
    finally:
        await model.close()
    assert first.ok and first.text == "" and first.finish_reason == "length"
    assert second.ok and second.text == ""
