"""OpenAI's own API through the official `openai` SDK: `openai/<model>`.

The key comes from `OPENAI_API_KEY` (or `?api_key_env=NAME`); `@<base_url>` (or the SDK's
`OPENAI_BASE_URL`) points it elsewhere, e.g. at a test server. Chat requests send
`max_completion_tokens` (the newer models refuse `max_tokens`); reasoning models (o1, o3, o4,
gpt-5) accept only their default sampling, so temperature and top_p are not sent to them and
`?reasoning_effort=` is passed through. `?api=completions` uses the legacy completions endpoint.
The SDK's retries are off: the executor retries and honours Retry-After.
"""

from __future__ import annotations

import time
from typing import Any

from assay.errors import UserError
from assay.models.base import Capabilities, Model, ModelSpec
from assay.models.credentials import (
    api_key,
    extra_headers,
    header_settings,
    refuse_inline_keys,
    secret_header_values,
)
from assay.models.http_errors import malformed_payload, probe_sdk, sdk_errors
from assay.models.openai_compatible import _flatten, parse_openai
from assay.models.registry import check_settings, setting
from assay.requests import Request, Response

REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")


class OpenAIModel(Model):
    provider_wide_limit = True

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        refuse_inline_keys(spec)
        check_settings(
            spec, {"api", "api_key_env", "organization", "reasoning_effort"} | header_settings(spec)
        )
        self.api = setting(spec, "api", "chat")
        if self.api not in ("chat", "completions"):
            raise UserError(f"model {spec.label}: api must be chat or completions")
        self._api_key = api_key(spec, "OPENAI_API_KEY")
        self._headers = extra_headers(spec)
        self._secrets = [self._api_key, *secret_header_values(spec, self._headers)]
        self.timeout = setting(spec, "timeout", 600.0)
        self.reasoning = spec.name.startswith(REASONING_PREFIXES)
        self.reasoning_effort = setting(spec, "reasoning_effort", "")
        self.capabilities = Capabilities(
            chat=True,
            completion=self.api == "completions",
            logprobs=not self.reasoning,
            concurrency=setting(spec, "concurrency", 32),
            max_concurrency=setting(spec, "max_concurrency", 256),
        )
        self._client: Any = None

    def identity(self) -> dict[str, Any]:
        return {"model": self.spec.label, "api": self.api}

    @property
    def client(self) -> Any:
        if self._client is None:
            import openai

            self._client = openai.AsyncOpenAI(
                api_key=self._api_key,
                base_url=self.spec.base_url,
                organization=self.spec.settings.get("organization"),
                max_retries=0,
                timeout=self.timeout,
                default_headers=self._headers or None,
            )
        return self._client

    async def check(self) -> None:
        import openai

        await probe_sdk(
            openai,
            self.client.with_options(timeout=10.0).models.retrieve(self.spec.name),
            unreachable=f"cannot reach the OpenAI API at {self.client.base_url}",
            refused_key="the OpenAI API refused the key: check OPENAI_API_KEY (or ?api_key_env=)",
            missing_model=f"the OpenAI API has no model {self.spec.name!r} for this key",
            secrets=self._secrets,
        )

    def options(self, request: Request) -> dict[str, Any]:
        """The request's sampling parameters in the OpenAI API's words."""
        options: dict[str, Any] = {"model": self.spec.name}
        if self.api == "chat":
            options["max_completion_tokens"] = request.max_tokens
        else:
            options["max_tokens"] = request.max_tokens
        if not self.reasoning:
            options["temperature"] = request.temperature
            if request.top_p is not None:
                options["top_p"] = request.top_p
        elif self.reasoning_effort:
            options["reasoning_effort"] = self.reasoning_effort
        if request.stop:
            options["stop"] = request.stop
        if request.seed is not None:
            options["seed"] = request.seed
        if request.n != 1:
            options["n"] = request.n
        if request.logprobs:
            if self.api == "chat":
                options["logprobs"] = True
                if request.top_logprobs:
                    options["top_logprobs"] = request.top_logprobs
            else:
                options["logprobs"] = request.top_logprobs or 1
        return options

    def body(self, request: Request) -> dict[str, Any]:
        """The JSON body of one call (also a line of a batch file)."""
        if self.api == "chat":
            messages = request.messages or [{"role": "user", "content": request.prompt or ""}]
            return {"messages": messages, **self.options(request)}
        prompt = request.prompt if request.prompt is not None else _flatten(request)
        return {"prompt": prompt, **self.options(request)}

    async def generate(self, request: Request) -> Response:
        import openai

        started = time.perf_counter()
        with sdk_errors(openai, self._secrets):
            if self.api == "chat":
                result = await self.client.chat.completions.create(**self.body(request))
            else:
                result = await self.client.completions.create(**self.body(request))
        with malformed_payload():
            raw = result.model_dump(mode="json", warnings=False)
        return self.parse(raw, time.perf_counter() - started)

    def parse(self, raw: dict[str, Any], latency_s: float = 0.0) -> Response:
        """A response from the API's JSON (a live answer or a batch result line)."""
        return parse_openai(raw, chat=self.api == "chat", latency_s=latency_s)

    def batch_client(self) -> Any:
        """The provider batch API for this model (see `assay.models.batch`)."""
        from assay.models.batch import OpenAIBatches

        return OpenAIBatches(self)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
