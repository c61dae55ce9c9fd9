"""Anthropic's Messages API as the `anthropic` SDK uses it: messages, models, message batches."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

from tests.models.stubs import Call, Reply, StubServer, last_text, prompt_words


def anthropic_error(status: int, type_: str, message: str) -> Reply:
    return Reply(status, {"type": "error", "error": {"type": type_, "message": message}})


RATE_LIMITED = anthropic_error(429, "rate_limit_error", "Number of requests has exceeded your rate")
SERVER_ERROR = anthropic_error(500, "api_error", "Internal server error")
OVERLOADED = anthropic_error(529, "overloaded_error", "Overloaded")
CONTEXT_TOO_LONG = anthropic_error(
    400, "invalid_request_error", "prompt is too long: 212345 tokens > 200000 maximum"
)


class AnthropicStub(StubServer):
    def __init__(self) -> None:
        super().__init__()
        self.answer: Callable[[str], str] = lambda prompt: "A"
        self.batches: dict[str, dict[str, Any]] = {}
        self.polls_to_finish = 2
        self.batch_failures: set[str] = set()
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        return self.origin

    def is_generation(self, call: Call) -> bool:
        return call.method == "POST" and call.path.split("?")[0] == "/v1/messages"

    def route(self, call: Call) -> Reply:
        path = call.path.split("?", 1)[0]
        if path == "/v1/messages":
            return Reply(body=self.message(call.json()))
        if path.startswith("/v1/models/"):
            name = path.split("/")[3]
            if name == "nope":
                return anthropic_error(404, "not_found_error", f"model: {name}")
            return Reply(
                body={
                    "type": "model",
                    "id": name,
                    "display_name": name,
                    "created_at": "2025-01-01T00:00:00Z",
                }
            )
        if path == "/v1/messages/batches" and call.method == "POST":
            return Reply(body=self._create_batch(call.json()))
        if path.startswith("/v1/messages/batches/") and path.endswith("/results"):
            return self._results(path.split("/")[4])
        if path.startswith("/v1/messages/batches/"):
            return self._retrieve(path.split("/")[4])
        return anthropic_error(404, "not_found_error", f"no route {call.method} {path}")

    def message(self, params: dict[str, Any]) -> dict[str, Any]:
        text = self.answer(last_text(params["messages"]))
        return {
            "id": f"msg_{next(self._ids)}",
            "type": "message",
            "role": "assistant",
            "model": params["model"],
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": prompt_words(params["messages"]), "output_tokens": 1},
        }

    def _create_batch(self, body: dict[str, Any]) -> dict[str, Any]:
        batch_id = f"msgbatch_{next(self._ids)}"
        self.batches[batch_id] = {"requests": body["requests"], "polls": 0, "ended": False}
        return self._public(batch_id)

    def _retrieve(self, batch_id: str) -> Reply:
        batch = self.batches.get(batch_id)
        if batch is None:
            return anthropic_error(404, "not_found_error", f"batch {batch_id}")
        batch["polls"] += 1
        if batch["polls"] >= self.polls_to_finish:
            batch["ended"] = True
        return Reply(body=self._public(batch_id))

    def _results(self, batch_id: str) -> Reply:
        batch = self.batches[batch_id]
        if not batch["ended"]:
            return anthropic_error(400, "invalid_request_error", "batch is still processing")
        lines = []
        for item in batch["requests"]:
            cid = item["custom_id"]
            if cid in self.batch_failures:
                result: dict[str, Any] = {
                    "type": "errored",
                    "error": {
                        "type": "error",
                        "error": {
                            "type": "invalid_request_error",
                            "message": "prompt is too long: 300000 tokens > 200000 maximum",
                        },
                    },
                }
            else:
                result = {"type": "succeeded", "message": self.message(item["params"])}
            lines.append(json.dumps({"custom_id": cid, "result": result}))
        return Reply(body="\n".join(lines) + "\n", content_type="application/binary")

    def _public(self, batch_id: str) -> dict[str, Any]:
        batch = self.batches[batch_id]
        n = len(batch["requests"])
        failed = sum(1 for r in batch["requests"] if r["custom_id"] in self.batch_failures)
        ended = batch["ended"]
        return {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": {
                "processing": 0 if ended else n,
                "succeeded": n - failed if ended else 0,
                "errored": failed if ended else 0,
                "canceled": 0,
                "expired": 0,
            },
            "created_at": "2025-01-01T00:00:00Z",
            "expires_at": "2025-01-02T00:00:00Z",
            "ended_at": "2025-01-01T01:00:00Z" if ended else None,
            "cancel_initiated_at": None,
            "archived_at": None,
            "results_url": f"{self.origin}/v1/messages/batches/{batch_id}/results"
            if ended
            else None,
        }
