"""The OpenAI REST API as the `openai` SDK uses it: chat, completions, models, files, batches."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

from tests.models.stubs import Call, Reply, StubServer, last_text, multipart_file, prompt_words


def openai_error(status: int, message: str, type_: str, code: str | None = None) -> Reply:
    return Reply(
        status, {"error": {"message": message, "type": type_, "param": None, "code": code}}
    )


RATE_LIMITED = openai_error(429, "Rate limit reached", "requests", "rate_limit_exceeded")
SERVER_ERROR = openai_error(500, "The server had an error", "server_error")
CONTEXT_TOO_LONG = openai_error(
    400,
    "This model's maximum context length is 8192 tokens. However, your messages resulted in "
    "9000 tokens.",
    "invalid_request_error",
    "context_length_exceeded",
)


class OpenAIStub(StubServer):
    def __init__(self) -> None:
        super().__init__()
        self.answer: Callable[[str], str] = lambda prompt: "A"
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.polls_to_finish = 2  # retrieves before a batch reports completed
        self.batch_failures: set[str] = set()  # custom_ids answered with an error
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def is_generation(self, call: Call) -> bool:
        return call.method == "POST" and call.path in ("/v1/chat/completions", "/v1/completions")

    def route(self, call: Call) -> Reply:
        path = call.path.split("?", 1)[0]
        if path == "/v1/chat/completions":
            return Reply(body=self.chat_completion(call.json()))
        if path == "/v1/completions":
            return Reply(body=self.completion(call.json()))
        if path.startswith("/v1/models/"):
            name = path.split("/", 3)[3]
            if name == "nope":
                return openai_error(404, f"The model '{name}' does not exist", "invalid_request")
            return Reply(body={"id": name, "object": "model", "created": 0, "owned_by": "stub"})
        if path == "/v1/files" and call.method == "POST":
            return Reply(body=self._upload(call))
        if path.startswith("/v1/files/") and path.endswith("/content"):
            return Reply(body=self.files[path.split("/")[3]], content_type="application/jsonl")
        if path == "/v1/batches" and call.method == "POST":
            return Reply(body=self._create_batch(call.json()))
        if path.startswith("/v1/batches/"):
            return self._retrieve_batch(path.split("/")[3])
        return openai_error(404, f"no route {call.method} {path}", "invalid_request_error")

    def chat_completion(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body["messages"]
        text = self.answer(last_text(messages))
        n = body.get("n", 1)
        choice_logprobs = (
            {"content": [{"token": text, "logprob": -0.25, "bytes": None, "top_logprobs": []}]}
            if body.get("logprobs")
            else None
        )
        return {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "created": 1700000000,
            "model": body["model"],
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": text if i == 0 else f"{text}{i}"},
                    "logprobs": choice_logprobs,
                    "finish_reason": "stop",
                }
                for i in range(n)
            ],
            "usage": {
                "prompt_tokens": prompt_words(messages),
                "completion_tokens": 1,
                "total_tokens": prompt_words(messages) + 1,
            },
        }

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        text = self.answer(body["prompt"])
        return {
            "id": f"cmpl-{next(self._ids)}",
            "object": "text_completion",
            "created": 1700000000,
            "model": body["model"],
            "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": "length"}],
            "usage": {
                "prompt_tokens": len(body["prompt"].split()),
                "completion_tokens": 1,
                "total_tokens": len(body["prompt"].split()) + 1,
            },
        }

    def _upload(self, call: Call) -> dict[str, Any]:
        file_id = f"file-{next(self._ids)}"
        self.files[file_id] = multipart_file(call)
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(self.files[file_id]),
            "created_at": 1700000000,
            "filename": "batch.jsonl",
            "purpose": "batch",
            "status": "processed",
        }

    def _create_batch(self, body: dict[str, Any]) -> dict[str, Any]:
        batch_id = f"batch_{next(self._ids)}"
        lines = self.files[body["input_file_id"]].decode().splitlines()
        self.batches[batch_id] = {
            "id": batch_id,
            "object": "batch",
            "endpoint": body["endpoint"],
            "input_file_id": body["input_file_id"],
            "completion_window": body["completion_window"],
            "status": "validating",
            "created_at": 1700000000,
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            "_polls": 0,
        }
        return self._public(batch_id)

    def _retrieve_batch(self, batch_id: str) -> Reply:
        batch = self.batches.get(batch_id)
        if batch is None:
            return openai_error(404, f"No batch found with id '{batch_id}'", "invalid_request")
        batch["_polls"] += 1
        if batch["status"] != "completed":
            batch["status"] = "in_progress"
            if batch["_polls"] >= self.polls_to_finish:
                self._finish(batch)
        return Reply(body=self._public(batch_id))

    def _finish(self, batch: dict[str, Any]) -> None:
        out: list[str] = []
        errors: list[str] = []
        for line in self.files[batch["input_file_id"]].decode().splitlines():
            item = json.loads(line)
            cid = item["custom_id"]
            if cid in self.batch_failures:
                errors.append(
                    json.dumps(
                        {
                            "id": f"batch_req_{next(self._ids)}",
                            "custom_id": cid,
                            "response": {
                                "status_code": 400,
                                "request_id": "req",
                                "body": {
                                    "error": {
                                        "message": "maximum context length exceeded",
                                        "type": "invalid_request_error",
                                        "code": "context_length_exceeded",
                                    }
                                },
                            },
                            "error": None,
                        }
                    )
                )
                continue
            body = self.chat_completion(item["body"])
            out.append(
                json.dumps(
                    {
                        "id": f"batch_req_{next(self._ids)}",
                        "custom_id": cid,
                        "response": {"status_code": 200, "request_id": "req", "body": body},
                        "error": None,
                    }
                )
            )
        output_id = f"file-{next(self._ids)}"
        self.files[output_id] = ("\n".join(out) + "\n").encode()
        batch["output_file_id"] = output_id
        if errors:
            error_id = f"file-{next(self._ids)}"
            self.files[error_id] = ("\n".join(errors) + "\n").encode()
            batch["error_file_id"] = error_id
        batch["status"] = "completed"
        batch["completed_at"] = 1700000100
        batch["request_counts"] = {
            "total": len(out) + len(errors),
            "completed": len(out),
            "failed": len(errors),
        }

    def _public(self, batch_id: str) -> dict[str, Any]:
        return {k: v for k, v in self.batches[batch_id].items() if not k.startswith("_")}
