"""The Gemini API as the `google-genai` SDK uses it: generateContent and models.get."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.models.stubs import Call, Reply, StubServer


def google_error(status: int, code_name: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": status, "message": message, "status": code_name}})


RATE_LIMITED = google_error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted")
SERVER_ERROR = google_error(500, "INTERNAL", "An internal error has occurred")
UNAVAILABLE = google_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")
CONTEXT_TOO_LONG = google_error(
    400,
    "INVALID_ARGUMENT",
    "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
)


class GoogleStub(StubServer):
    def __init__(self) -> None:
        super().__init__()
        self.answer: Callable[[str], str] = lambda prompt: "A"

    @property
    def base_url(self) -> str:
        return self.origin

    def is_generation(self, call: Call) -> bool:
        return call.method == "POST" and ":generateContent" in call.path

    def route(self, call: Call) -> Reply:
        path = call.path.split("?", 1)[0]
        if path.endswith(":generateContent"):
            return Reply(body=self.generate(call.json()))
        if path.split("/")[2:3] == ["models"]:
            name = path.split("/")[3]
            if name == "nope":
                return google_error(404, "NOT_FOUND", f"models/{name} is not found")
            return Reply(body={"name": f"models/{name}", "displayName": name})
        return google_error(404, "NOT_FOUND", f"no route {call.method} {path}")

    def generate(self, body: dict[str, Any]) -> dict[str, Any]:
        contents = body["contents"]
        prompt = " ".join(p.get("text", "") for p in contents[-1]["parts"])
        text = self.answer(prompt)
        config = body.get("generationConfig", {})
        n = config.get("candidateCount", 1)
        words = sum(len(p.get("text", "").split()) for c in contents for p in c["parts"])
        candidate_logprobs = (
            {"chosenCandidates": [{"token": text, "logProbability": -0.5}]}
            if config.get("responseLogprobs")
            else None
        )
        candidates = []
        for i in range(n):
            candidate: dict[str, Any] = {
                "content": {"role": "model", "parts": [{"text": text if i == 0 else f"{text}{i}"}]},
                "finishReason": "STOP",
                "index": i,
            }
            if candidate_logprobs:
                candidate["logprobsResult"] = candidate_logprobs
            candidates.append(candidate)
        return {
            "candidates": candidates,
            "usageMetadata": {
                "promptTokenCount": words,
                "candidatesTokenCount": n,
                "totalTokenCount": words + n,
            },
            "modelVersion": "stub-1",
        }
