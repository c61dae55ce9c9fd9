"""Provider batch APIs (OpenAI Batch, Anthropic Message Batches) for large runs: half price,
answers within 24 hours.

A model that has one exposes `batch_client()`, which returns a `BatchAPI`: `submit` a list of
(custom_id, request), `status` of a batch, `results` as `{custom_id: Response}` (a failed item is
a `Response` with an error, like any other failed call). `run_batch` does the whole job and
survives restarts: it records each submitted batch in a `Ledger` (the store's
`provider_batches` table, through `assay.store.writes.BatchLedger`), keyed by a hash of the
model and the custom ids, so a second call with the same requests after a crash polls the batch
already paid for instead of submitting it again.

Custom ids must be 1-64 letters, digits, `_` or `-` (Anthropic's rule): the executor's cache keys
qualify.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from assay.errors import ProviderError, UserError
from assay.hashing import canonical_json
from assay.models.base import Model
from assay.models.http_errors import classify, classify_sdk_status
from assay.requests import ErrorInfo, Request, Response

Item = tuple[str, Request]
CUSTOM_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class BatchStatus:
    batch_id: str
    state: str  # running | done | failed | expired | cancelled
    total: int
    succeeded: int
    failed: int
    raw: dict[str, Any]

    @property
    def finished(self) -> bool:
        return self.state != "running"


class BatchAPI(Protocol):
    provider: str

    async def submit(self, items: Sequence[Item]) -> str: ...
    async def status(self, batch_id: str) -> BatchStatus: ...
    async def results(self, batch_id: str) -> dict[str, Response]: ...


class Ledger(Protocol):
    """Where submitted batches are remembered across processes (the store's batch ledger)."""

    def running(self, key: str) -> str | None:
        """The batch id submitted for `key` and not yet collected, if any."""

    def record(
        self, key: str, *, provider: str, model: str, batch_id: str, state: str, n_requests: int
    ) -> None:
        """Remember a batch's state: `running` once submitted, `collected` once read back."""


class BatchPending(Exception):
    """`run_batch` stopped waiting; the batch goes on and a later call resumes it."""

    def __init__(self, status: BatchStatus) -> None:
        super().__init__(f"batch {status.batch_id} still running after the wait allowed")
        self.status = status


def batch_api(model: Model) -> BatchAPI:
    factory: Callable[[], BatchAPI] | None = getattr(model, "batch_client", None)
    if factory is None:
        raise UserError(
            f"model {model.label} has no batch API: batches work with openai/ and anthropic/"
        )
    return factory()


def batch_key(model: Model, items: Sequence[Item]) -> str:
    ids = sorted(custom_id for custom_id, _ in items)
    blob = canonical_json({"model": model.identity(), "ids": ids})
    return hashlib.sha256(blob).hexdigest()[:40]


async def run_batch(
    ledger: Ledger,
    model: Model,
    items: Sequence[Item],
    *,
    poll_interval: float = 60.0,
    max_wait: float | None = None,
    on_status: Callable[[BatchStatus], None] | None = None,
) -> dict[str, Response]:
    """Submit (or resume) one batch, poll until it ends, and return every item's response.

    Raises `BatchPending` after `max_wait` seconds; calling again with the same items resumes.
    Items the provider never answered (an expired or cancelled batch) get a retryable error.
    """
    for custom_id, _ in items:
        if not CUSTOM_ID.match(custom_id):
            raise ValueError(f"custom id {custom_id!r} must be 1-64 of A-Z a-z 0-9 _ -")
    api = batch_api(model)
    key = batch_key(model, items)
    batch_id = ledger.running(key)
    if batch_id is None:
        batch_id = await api.submit(items)
        ledger.record(
            key,
            provider=api.provider,
            model=model.label,
            batch_id=batch_id,
            state="running",
            n_requests=len(items),
        )
    started = time.monotonic()
    while True:
        status = await api.status(batch_id)
        if on_status is not None:
            on_status(status)
        if status.finished:
            break
        if max_wait is not None and time.monotonic() - started + poll_interval > max_wait:
            raise BatchPending(status)
        await asyncio.sleep(poll_interval)
    responses = await api.results(batch_id) if status.succeeded or status.failed else {}
    for custom_id, _ in items:
        if custom_id not in responses:
            responses[custom_id] = Response(
                error=ErrorInfo(
                    f"batch_{status.state}" if status.state != "done" else "batch_missing",
                    f"batch {batch_id} ended ({status.state}) without an answer for this request",
                    retryable=True,
                )
            )
    ledger.record(
        key,
        provider=api.provider,
        model=model.label,
        batch_id=batch_id,
        state="collected",
        n_requests=len(items),
    )
    return responses


def _sdk_errors(module: Any, secrets: list[str | None]) -> Callable[[Exception], Exception]:
    def convert(exc: Exception) -> Exception:
        if isinstance(exc, module.APIStatusError):
            return classify_sdk_status(exc, secrets=secrets)
        if isinstance(exc, module.APIConnectionError):
            return ProviderError(
                f"batch API unreachable: {type(exc).__name__}", kind="connection", retryable=True
            )
        return exc

    return convert


OPENAI_STATES = {"completed": "done", "failed": "failed", "expired": "expired"}


class OpenAIBatches:
    """The OpenAI Batch API: upload a JSONL file, create a batch, poll it, read the output."""

    provider = "openai"

    def __init__(self, model: Any) -> None:
        import openai

        self.model = model
        self.client = model.client
        self._convert = _sdk_errors(openai, model._secrets)
        self.endpoint = "/v1/chat/completions" if model.api == "chat" else "/v1/completions"

    async def submit(self, items: Sequence[Item]) -> str:
        lines = [
            json.dumps(
                {
                    "custom_id": custom_id,
                    "method": "POST",
                    "url": self.endpoint,
                    "body": self.model.body(request),
                }
            )
            for custom_id, request in items
        ]
        data = ("\n".join(lines) + "\n").encode()
        try:
            upload = await self.client.files.create(
                file=("assay-batch.jsonl", io.BytesIO(data)), purpose="batch"
            )
            batch = await self.client.batches.create(
                input_file_id=upload.id, endpoint=self.endpoint, completion_window="24h"
            )
        except Exception as exc:
            raise self._convert(exc) from exc
        return str(batch.id)

    async def status(self, batch_id: str) -> BatchStatus:
        try:
            batch = await self.client.batches.retrieve(batch_id)
        except Exception as exc:
            raise self._convert(exc) from exc
        counts = batch.request_counts
        state = OPENAI_STATES.get(batch.status, "cancelled" if "cancel" in batch.status else None)
        return BatchStatus(
            batch_id,
            state or "running",
            getattr(counts, "total", 0) or 0,
            getattr(counts, "completed", 0) or 0,
            getattr(counts, "failed", 0) or 0,
            batch.model_dump(mode="json"),
        )

    async def results(self, batch_id: str) -> dict[str, Response]:
        try:
            batch = await self.client.batches.retrieve(batch_id)
            lines: list[str] = []
            for file_id in (batch.output_file_id, batch.error_file_id):
                if file_id:
                    content = await self.client.files.content(file_id)
                    lines.extend(content.text.split("\n"))  # not at U+2028 inside a string
        except Exception as exc:
            raise self._convert(exc) from exc
        out: dict[str, Response] = {}
        for line in filter(None, (raw.strip() for raw in lines)):
            item = json.loads(line)
            out[item["custom_id"]] = self._response(item)
        return out

    def _response(self, item: dict[str, Any]) -> Response:
        reply = item.get("response") or {}
        body = reply.get("body") or {}
        status = int(reply.get("status_code") or 0)
        if status == 200:
            try:
                return self.model.parse(body)  # type: ignore[no-any-return]
            except ProviderError as exc:
                return _failed(exc)
        if status:
            message = str((body.get("error") or {}).get("message") or body)
            return _failed(classify(status, message, secrets=self.model._secrets))
        error = item.get("error") or {}
        return Response(
            error=ErrorInfo(str(error.get("code") or "batch_error"), str(error.get("message")))
        )


ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


class AnthropicBatches:
    """Anthropic's Message Batches API: create with inline requests, poll, stream results."""

    provider = "anthropic"

    def __init__(self, model: Any) -> None:
        import anthropic

        self.model = model
        self.client = model.client
        self._convert = _sdk_errors(anthropic, model._secrets)

    async def submit(self, items: Sequence[Item]) -> str:
        requests = [
            {"custom_id": custom_id, "params": self.model.body(request)}
            for custom_id, request in items
        ]
        try:
            batch = await self.client.messages.batches.create(requests=requests)
        except Exception as exc:
            raise self._convert(exc) from exc
        return str(batch.id)

    async def status(self, batch_id: str) -> BatchStatus:
        try:
            batch = await self.client.messages.batches.retrieve(batch_id)
        except Exception as exc:
            raise self._convert(exc) from exc
        counts = batch.request_counts
        total = sum(
            int(getattr(counts, k, 0) or 0)
            for k in ("processing", "succeeded", "errored", "canceled", "expired")
        )
        return BatchStatus(
            batch_id,
            "done" if batch.processing_status == "ended" else "running",
            total,
            int(counts.succeeded or 0),
            int(counts.errored or 0) + int(counts.canceled or 0) + int(counts.expired or 0),
            batch.model_dump(mode="json"),
        )

    async def results(self, batch_id: str) -> dict[str, Response]:
        out: dict[str, Response] = {}
        try:
            decoder = await self.client.messages.batches.results(batch_id)
            async for entry in decoder:
                out[entry.custom_id] = self._response(entry.result.model_dump(mode="json"))
        except Exception as exc:
            raise self._convert(exc) from exc
        return out

    def _response(self, result: dict[str, Any]) -> Response:
        kind = result.get("type")
        if kind == "succeeded":
            try:
                return self.model.parse(result["message"])  # type: ignore[no-any-return]
            except ProviderError as exc:
                return _failed(exc)
        if kind == "errored":
            inner = (result.get("error") or {}).get("error") or {}
            status = ERROR_STATUS.get(str(inner.get("type")), 500)
            message = str(inner.get("message") or inner.get("type") or "errored")
            return _failed(classify(status, message, secrets=self.model._secrets))
        return Response(
            error=ErrorInfo(
                f"batch_{kind}", f"the batch item was {kind} before an answer", retryable=True
            )
        )


def _failed(exc: ProviderError) -> Response:
    return Response(error=ErrorInfo(exc.kind, str(exc), exc.retryable, exc.status))
