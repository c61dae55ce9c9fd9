"""API keys never reach the store, the logs or an error message, and `assay run` drives a remote
provider end to end (the OpenAI SDK against a local stub)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.models.stubs import Reply, StubServer
from tests.models.stubs.openai_stub import OpenAIStub, openai_error

from assay.errors import UserError
from assay.execution.executor import Executor
from assay.execution.retry import RetryPolicy
from assay.models.registry import create_model
from assay.requests import Request

SECRET = "sk-live-SECRET-9f8e7d6c5b4a39281706"
LOGGERS = ("", "openai", "anthropic", "httpx", "httpcore", "httpx2", "google_genai", "assay")


def secret_pieces() -> list[str]:
    """The key and every 8-character piece of it (servers echo keys partly masked)."""
    return [SECRET] + [
        SECRET[i : i + 8] for i in range(len(SECRET) - 7) if "-" not in SECRET[i : i + 8]
    ]


def assert_no_secret(text: str, where: str) -> None:
    for piece in secret_pieces():
        assert piece not in text, f"a piece of the key ({piece!r}) leaked into {where}"


def echo_key(status: int) -> Reply:
    """What a real provider does with a bad key: quote it back, partly masked."""
    return openai_error(
        status, f"Incorrect API key provided: {SECRET[:12]}...{SECRET[-12:]}", "invalid_request"
    )


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> Iterator[OpenAIStub]:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    server = OpenAIStub().start()
    yield server
    server.stop()


def test_cli_run_records_answers_and_errors_without_the_key(
    stub: OpenAIStub, cli: Any, data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stub.script(echo_key(401), echo_key(400), Reply(body=b"not json"))
    db = tmp_path / "remote.db"
    result = cli(
        "run", "mmlu", "--model", f"openai/gpt-x@{stub.base_url}", "--limit", "6",
        "--db", db, "--data-dir", data_dir, "--no-progress", "--max-attempts", "2",
        "--retry-delay", "0.01", "--concurrency", "1",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert len(stub.generation_calls()) == 6  # three final errors, three answers, no retries
    assert all(c.headers["authorization"] == f"Bearer {SECRET}" for c in stub.generation_calls())
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT text, error FROM requests ORDER BY sample_id").fetchall()
        models = {m for (m,) in conn.execute("SELECT model FROM runs")}
    assert models == {f"openai/gpt-x@{stub.base_url}"}
    assert sum(1 for text, error in rows if error is None and text == "A") == 3
    errors = [error for _, error in rows if error is not None]
    assert len(errors) == 3
    assert any('"auth"' in e for e in errors) and any('"bad_request"' in e for e in errors)
    assert any('"malformed"' in e for e in errors)
    # the whole database, write-ahead log included, as bytes
    for path in tmp_path.glob("remote.db*"):
        assert_no_secret(path.read_bytes().decode("latin-1"), path.name)
    assert_no_secret(result.out + result.err, "the CLI's output")
    assert caplog.records, "the SDK's debug logging was not captured"
    assert_no_secret("\n".join(r.getMessage() for r in caplog.records), "the logs")


@pytest.mark.parametrize(
    ("provider", "env"),
    [("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY"), ("google", "GEMINI_API_KEY"),
     ("ollama", "OLLAMA_API_KEY")],
)  # fmt: skip
async def test_error_messages_never_quote_the_key(
    provider: str, env: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    sdk = {"google": "google.genai"}.get(provider, provider)
    pytest.importorskip(sdk, reason=f"needs assay[{provider}]")
    monkeypatch.setenv(env, SECRET)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    server = _EchoingStub().start()
    model = create_model(f"{provider}/m@{server.origin}{'/v1' if provider == 'openai' else ''}")
    executor = Executor(model, policy=RetryPolicy(max_attempts=1, timeout=5))
    messages: list[str] = []
    try:
        for _ in range(2):  # a 400 echoing the key, then a 401
            request = Request(prompt="hi")
            response = await executor.execute(request, executor.key(request))
            assert response.error is not None, provider
            messages.append(response.error.message)
    finally:
        await model.close()
        server.stop()
    assert len(server.calls) == 2
    assert "Incorrect" in messages[0]  # the provider's words are kept, the key is not
    assert_no_secret("\n".join(messages), f"{provider}'s error messages")
    assert_no_secret("\n".join(r.getMessage() for r in caplog.records), f"{provider}'s logs")
    assert repr(model.identity()).find(SECRET) == -1 and SECRET not in model.label


def test_key_in_the_model_string_is_refused_without_echoing_it() -> None:
    with pytest.raises(UserError) as info:
        create_model(f"anthropic/claude-x?api_key={SECRET}")
    assert_no_secret(str(info.value), "the error")


class _EchoingStub(StubServer):
    """Any provider's path: a 400 quoting the key, then a 401 quoting it."""

    def __init__(self) -> None:
        super().__init__()
        self.script(
            Reply(400, _body(f"Incorrect API key provided: {SECRET}")),
            Reply(401, _body(f"invalid x-api-key {SECRET[:10]}...{SECRET[-10:]}")),
        )

    def is_generation(self, call: Any) -> bool:
        return True

    def route(self, call: Any) -> Reply:
        return Reply(500, _body("unexpected"))


def _body(message: str) -> dict[str, Any]:
    # readable by every SDK: OpenAI/Gemini/Anthropic take error.message, Ollama takes error
    return {"type": "error", "error": {"message": message, "type": "invalid_request_error",
                                       "code": 400, "status": "INVALID_ARGUMENT"}}  # fmt: skip
