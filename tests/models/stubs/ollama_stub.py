"""Ollama's native API as the `ollama` SDK uses it: /api/chat, /api/generate, /api/show."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.models.stubs import Call, Reply, StubServer, last_text, prompt_words


def ollama_error(status: int, message: str) -> Reply:
    return Reply(status, {"error": message})


SERVER_BUSY = ollama_error(503, "server busy, please try again.  maximum pending requests exceeded")
SERVER_ERROR = ollama_error(500, "llama runner process has terminated: exit status 2")


class OllamaStub(StubServer):
    def __init__(self) -> None:
        super().__init__()
        self.answer: Callable[[str], str] = lambda prompt: "A"

    def is_generation(self, call: Call) -> bool:
        return call.method == "POST" and call.path in ("/api/chat", "/api/generate")

    def route(self, call: Call) -> Reply:
        if call.path == "/api/chat":
            body = call.json()
            text = self.answer(last_text(body["messages"]))
            reply = {"message": {"role": "assistant", "content": text}}
            return Reply(body={**self._common(body, prompt_words(body["messages"])), **reply})
        if call.path == "/api/generate":
            body = call.json()
            text = self.answer(body["prompt"])
            reply = {"response": text}
            return Reply(body={**self._common(body, len(body["prompt"].split())), **reply})
        if call.path == "/api/show":
            name = call.json()["model"]
            if name == "nope":
                return ollama_error(404, f"model '{name}' not found")
            body = {
                "modelfile": "",
                "parameters": "",
                "template": "{{ .Prompt }}",
                "model_info": {},
            }
            return Reply(body=body)
        return ollama_error(404, f"no route {call.method} {call.path}")

    def _common(self, body: dict[str, Any], words: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": body["model"],
            "created_at": "2025-01-01T00:00:00Z",
            "done": True,
            "done_reason": "stop",
            "total_duration": 1000,
            "prompt_eval_count": words,
            "eval_count": 1,
        }
        if body.get("logprobs"):
            out["logprobs"] = [{"token": "A", "logprob": -0.1, "top_logprobs": []}]
        return out
