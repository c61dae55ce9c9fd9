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

from assay.errors import ProviderError, UserError
from assay.models.base import Capabilities, Model, ModelSpec
from assay.models.credentials import (
    api_key,
    extra_headers,
    header_settings,
    refuse_inline_keys,
    secret_header_values,
)
from assay.models.http_errors import sdk_errors
from assay.models.openai_compatible import _chat_logprobs, _completion_logprobs, _flatten
from assay.models.registry import check_settings, setting
from assay.requests import Request, Response

REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")


class OpenAIModel(Model):
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

        try:
            await self.client.with_options(timeout=10.0).models.retrieve(self.spec.name)
        except openai.APIConnectionError:
            raise UserError(f"cannot reach the OpenAI API at {self.client.base_url}") from None
        except openai.AuthenticationError:
            raise UserError(
                "the OpenAI API refused the key: check OPENAI_API_KEY (or ?api_key_env=)"
            ) from None
        except openai.NotFoundError:
            raise UserError(
                f"the OpenAI API has no model {self.spec.name!r} for this key"
            ) from None
        except openai.APIStatusError:
            pass  # rate limited or a server hiccup: real requests will retry

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
        return self.parse(result.model_dump(mode="json"), time.perf_counter() - started)

    def parse(self, raw: dict[str, Any], latency_s: float = 0.0) -> Response:
        """A response from the API's JSON (a live answer or a batch result line)."""
        import openai.types as types

        try:
            if self.api == "chat":
                result: Any = types.chat.ChatCompletion.model_validate(raw)
                texts = [c.message.content or "" for c in result.choices]
                logprobs = _chat_logprobs(result) if result.choices else None
            else:
                result = types.Completion.model_validate(raw)
                texts = [c.text for c in result.choices]
                logprobs = _completion_logprobs(result) if result.choices else None
        except ValueError as exc:
            raise ProviderError("malformed response body", kind="malformed") from exc
        if not result.choices:
            raise ProviderError("response has no choices", kind="malformed", retryable=False)
        usage = result.usage
        return Response(
            text=texts[0],
            completions=texts if len(texts) > 1 else None,
            logprobs=logprobs,
            input_tokens=getattr(usage, "prompt_tokens", None),
            output_tokens=getattr(usage, "completion_tokens", None),
            finish_reason=result.choices[0].finish_reason,
            latency_s=latency_s,
            raw=raw,
        )

    def batch_client(self) -> Any:
        """The provider batch API for this model (see `assay.models.batch`)."""
        from assay.models.batch import OpenAIBatches

        return OpenAIBatches(self)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
