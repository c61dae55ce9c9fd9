"""Option log-likelihoods from a server's echoed prompt log-probabilities (OpenAI wire format)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.models.stubs import Reply
from tests.models.stubs.openai_stub import OpenAIStub

from assay.errors import UserError
from assay.execution.executor import Executor
from assay.execution.retry import RetryPolicy
from assay.models.registry import create_model
from assay.requests import Request


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    server = OpenAIStub().start()
    yield server
    server.stop()


def echoed(tokens: list[tuple[str, float | None]]) -> Reply:
    """A legacy completion echoing the prompt with per-token log-probabilities."""
    offsets, at = [], 0
    for token, _ in tokens:
        offsets.append(at)
        at += len(token)
    return Reply(
        body={
            "id": "cmpl-1",
            "object": "text_completion",
            "created": 0,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "text": "".join(t for t, _ in tokens),
                    "finish_reason": "length",
                    "logprobs": {
                        "tokens": [t for t, _ in tokens],
                        "token_logprobs": [v for _, v in tokens],
                        "top_logprobs": None,
                        "text_offset": offsets,
                    },
                }
            ],
            "usage": {
                "prompt_tokens": len(tokens) - 1,
                "completion_tokens": 1,
                "total_tokens": len(tokens),
            },
        }
    )


async def test_sums_only_the_continuation_tokens(stub: OpenAIStub) -> None:
    model = create_model(f"openai-compatible/m@{stub.base_url}?prompt_logprobs=true")
    assert model.capabilities.prompt_logprobs
    # prompt "Q: sky?\nA:" + continuation " blue sky", then one generated token
    stub.script(
        echoed(
            [
                ("Q", None),
                (":", -1.0),
                (" sky", -2.0),
                ("?\n", -0.5),
                ("A", -0.2),
                (":", -0.1),
                (" blue", -1.25),
                (" sky", -0.75),
                ("!", -3.0),
            ]
        )
    )
    ex = Executor(model, policy=RetryPolicy(max_attempts=1))
    response = await ex.execute(Request(prompt="Q: sky?\nA:", continuation=" blue sky"), "k")
    assert response.ok, response.error
    assert response.loglikelihood == pytest.approx(-2.0)
    assert response.continuation_tokens == 2
    sent: dict[str, Any] = stub.calls[-1].json()
    assert sent["echo"] is True and sent["logprobs"] == 1
    assert sent["prompt"] == "Q: sky?\nA: blue sky"
    await model.close()


async def test_a_server_without_prompt_logprobs_is_an_error_not_a_score(
    stub: OpenAIStub,
) -> None:
    model = create_model(f"openai-compatible/m@{stub.base_url}?prompt_logprobs=true")
    ex = Executor(model, policy=RetryPolicy(max_attempts=1))
    response = await ex.execute(Request(prompt="Q:", continuation=" x"), "k")  # no logprobs
    assert not response.ok and response.error is not None
    assert response.error.kind == "malformed"
    await model.close()


def test_logprob_format_needs_the_capability(cli: Any, data_dir: Any, stub: OpenAIStub) -> None:
    result = cli(
        "run",
        "mmlu:format=multiple_choice_logprob",
        "-m",
        f"openai-compatible/m@{stub.base_url}",
        "--data-dir",
        data_dir,
        "--limit",
        "2",
    )
    assert result.code == 2
    assert "cannot score log-likelihoods" in result.err
    with pytest.raises(UserError):
        create_model(f"openai-compatible/m@{stub.base_url}?prompt_logprobs=maybe")
