"""Anthropic's Messages API through the official `anthropic` SDK: `anthropic/<model>`.

The key comes from `ANTHROPIC_API_KEY` (or `?api_key_env=NAME`); `@<base_url>` points the SDK
elsewhere (a gateway, a test server). System messages become the top-level `system` field; a
text prompt is sent as one user message. The API has no `n` or `seed`: `n>1` is answered by `n`
calls made together. `?thinking_budget=N` turns on extended thinking. The current Messages API
(SDK 2.x) takes no sampling parameters, so temperature and top_p are sent only with
`?send_temperature=true` (for gateways and older API versions that accept them). The SDK's
retries are off: the executor retries (429, 5xx and 529 "overloaded") and honours Retry-After.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from assay.errors import ProviderError
from assay.models.base import Capabilities, Model, ModelSpec
from assay.models.credentials import (
    api_key,
    extra_headers,
    header_settings,
    refuse_inline_keys,
    secret_header_values,
)
from assay.models.http_errors import (
    malformed,
    malformed_payload,
    probe_sdk,
    sdk_errors,
)
from assay.models.registry import check_settings, setting
from assay.requests import Request, Response

FINISH_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}


class AnthropicModel(Model):
    provider_wide_limit = True

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        refuse_inline_keys(spec)
        check_settings(
            spec, {"api_key_env", "thinking_budget", "send_temperature"} | header_settings(spec)
        )
        self._api_key = api_key(spec, "ANTHROPIC_API_KEY")
        self._headers = extra_headers(spec)
        self._secrets = [self._api_key, *secret_header_values(spec, self._headers)]
        self.timeout = setting(spec, "timeout", 600.0)
        self.thinking_budget = setting(spec, "thinking_budget", 0)
        self.send_temperature = setting(spec, "send_temperature", False)
        self.capabilities = Capabilities(
            chat=True,
            completion=False,
            logprobs=False,
            concurrency=setting(spec, "concurrency", 16),
            max_concurrency=setting(spec, "max_concurrency", 128),
        )
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            import anthropic

            self._client = anthropic.AsyncAnthropic(
                api_key=self._api_key,
                base_url=self.spec.base_url,
                max_retries=0,
                timeout=self.timeout,
                default_headers=self._headers or None,
            )
        return self._client

    async def check(self) -> None:
        import anthropic

        await probe_sdk(
            anthropic,
            self.client.with_options(timeout=10.0).models.retrieve(self.spec.name),
            unreachable=f"cannot reach the Anthropic API at {self.client.base_url}",
            refused_key="the Anthropic API refused the key: check ANTHROPIC_API_KEY "
            "(or ?api_key_env=)",
            missing_model=f"the Anthropic API has no model {self.spec.name!r}",
            secrets=self._secrets,
        )

    def body(self, request: Request) -> dict[str, Any]:
        """The Messages API parameters for one request (also a batch entry's `params`)."""
        messages = request.messages or [{"role": "user", "content": request.prompt or ""}]
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        turns = [
            {"role": m["role"], "content": m["content"]} for m in messages if m["role"] != "system"
        ]
        params: dict[str, Any] = {
            "model": self.spec.name,
            "messages": turns,
            "max_tokens": request.max_tokens + self.thinking_budget,
        }
        if system:
            params["system"] = system
        if self.thinking_budget:
            params["thinking"] = {"type": "enabled", "budget_tokens": self.thinking_budget}
        elif self.send_temperature:
            params["temperature"] = request.temperature
            if request.top_p is not None:
                params["top_p"] = request.top_p
        if request.stop:
            params["stop_sequences"] = request.stop
        return params

    async def generate(self, request: Request) -> Response:
        started = time.perf_counter()
        if request.n == 1:
            raw = [await self._call(request)]
        else:
            raw = list(await asyncio.gather(*(self._call(request) for _ in range(request.n))))
        responses = [self.parse(r) for r in raw]
        first = responses[0]
        first.latency_s = time.perf_counter() - started
        if len(responses) > 1:
            first.completions = [r.text for r in responses]
            first.output_tokens = _sum(r.output_tokens for r in responses)
            first.raw = {"responses": raw}
        return first

    async def _call(self, request: Request) -> dict[str, Any]:
        import anthropic

        with sdk_errors(anthropic, self._secrets):
            params = self.body(request)
            sampling = {k: params.pop(k) for k in ("temperature", "top_p") if k in params}
            message = await self.client.messages.create(**params, extra_body=sampling or None)
        raw: dict[str, Any] = message.model_dump(mode="json")
        return raw

    def parse(self, raw: dict[str, Any]) -> Response:
        """A response from a Message's JSON (a live answer or a batch result)."""
        content = raw.get("content")
        usage = raw.get("usage")
        if not isinstance(content, list) or not isinstance(usage, dict):
            raise ProviderError("malformed response body: no content or usage", kind="malformed")
        with malformed_payload():
            text = "".join(_block_text(block) for block in content)
            input_tokens = sum(
                int(usage.get(k) or 0)
                for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
            )
        stop = raw.get("stop_reason")
        return Response(
            text=text,
            input_tokens=input_tokens,
            output_tokens=usage.get("output_tokens"),
            finish_reason=FINISH_REASONS.get(stop, stop) if isinstance(stop, str) else None,
            raw=raw,
        )

    def batch_client(self) -> Any:
        """The Message Batches API for this model (see `assay.models.batch`)."""
        from assay.models.batch import AnthropicBatches

        return AnthropicBatches(self)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def _block_text(block: Any) -> str:
    """A content block's text; non-text blocks (thinking, tool use) contribute nothing."""
    if not isinstance(block, dict):
        raise malformed("a content block is not an object")
    if block.get("type") != "text":
        return ""
    text = block.get("text")
    if not isinstance(text, str):
        raise malformed("a text block has no text")
    return text


def _sum(values: Any) -> int | None:
    total = 0
    for value in values:
        if value is None:
            return None
        total += value
    return total
