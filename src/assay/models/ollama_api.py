"""A local (or remote) Ollama server through the official `ollama` SDK: `ollama/<model>[@url]`.

Ollama's native API rather than its OpenAI-compatible endpoint, because only the native one lets
an evaluation set the context window (`?num_ctx=`; Ollama otherwise cuts long prompts to its
default window without an error), send a raw prompt with no chat template (`?raw=true`, for base
models), keep the model loaded (`?keep_alive=`) and read exact prompt and output token counts.
The address is `@http://host:11434`, else `OLLAMA_HOST`, else 127.0.0.1:11434. A key (Ollama's
cloud) comes from `OLLAMA_API_KEY` (or `?api_key_env=`). `n>1` is `n` calls made together.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from assay.errors import ProviderError, Unreachable, UserError
from assay.models.base import Capabilities, Model, ModelSpec
from assay.models.credentials import (
    api_key,
    extra_headers,
    header_settings,
    refuse_inline_keys,
    secret_header_values,
)
from assay.models.http_errors import classify, malformed, malformed_payload, redact
from assay.models.registry import check_settings, setting
from assay.requests import Request, Response


class OllamaModel(Model):
    provider_wide_limit = True

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        refuse_inline_keys(spec)
        check_settings(
            spec, {"api_key_env", "num_ctx", "raw", "keep_alive", "think"} | header_settings(spec)
        )
        self.host = spec.base_url
        self.num_ctx = setting(spec, "num_ctx", 0)
        self.raw = setting(spec, "raw", False)
        self.keep_alive = setting(spec, "keep_alive", "")
        self.think = spec.settings.get("think")
        self.timeout = setting(spec, "timeout", 600.0)
        self._headers = extra_headers(spec)
        key = api_key(spec, "OLLAMA_API_KEY", required=False)
        if key:
            self._headers["authorization"] = f"Bearer {key}"
        self._secrets = [key, *secret_header_values(spec, self._headers)]
        self.capabilities = Capabilities(
            chat=True,
            completion=True,
            logprobs=True,
            max_context=self.num_ctx or None,
            concurrency=setting(spec, "concurrency", 4),
            max_concurrency=setting(spec, "max_concurrency", 16),
        )
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            import ollama

            self._client = ollama.AsyncClient(
                host=self.host, timeout=self.timeout, headers=self._headers
            )
        return self._client

    async def check(self) -> None:
        import ollama

        try:
            await asyncio.wait_for(self.client.show(self.spec.name), 10.0)
        except ollama.ResponseError as exc:
            if exc.status_code == 404:
                raise UserError(
                    f"Ollama has no model {self.spec.name!r}: run `ollama pull {self.spec.name}`"
                ) from None
            if exc.status_code in (401, 403):
                raise UserError("Ollama refused the key: check OLLAMA_API_KEY") from None
            error = classify(exc.status_code, str(exc.error), secrets=self._secrets)
            if error.retryable:
                raise error from None  # busy or loading: the probe retries it
        except (ConnectionError, TimeoutError):
            where = self.host or "OLLAMA_HOST or http://127.0.0.1:11434"
            raise Unreachable(
                f"cannot reach Ollama at {where}: start it with `ollama serve` or fix the address"
            ) from None

    def options(self, request: Request, seed: int | None) -> dict[str, Any]:
        options: dict[str, Any] = {
            "num_predict": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.top_p is not None:
            options["top_p"] = request.top_p
        if request.stop:
            options["stop"] = request.stop
        if seed is not None:
            options["seed"] = seed
        if self.num_ctx:
            options["num_ctx"] = self.num_ctx
        return options

    async def generate(self, request: Request) -> Response:
        started = time.perf_counter()
        seeds = [
            None if request.seed is None else request.seed + i for i in range(max(1, request.n))
        ]
        raws = list(await asyncio.gather(*(self._call(request, s) for s in seeds)))
        responses = [self.parse(r) for r in raws]
        first = responses[0]
        first.latency_s = time.perf_counter() - started
        if len(responses) > 1:
            first.completions = [r.text for r in responses]
            first.output_tokens = sum(r.output_tokens or 0 for r in responses)
            first.raw = {"responses": raws}
        return first

    async def _call(self, request: Request, seed: int | None) -> dict[str, Any]:
        import ollama

        common: dict[str, Any] = {"model": self.spec.name, "options": self.options(request, seed)}
        if self.keep_alive:
            common["keep_alive"] = self.keep_alive
        if self.think is not None:
            common["think"] = self.think.lower() in ("true", "1", "yes")
        if request.logprobs:
            common["logprobs"] = True
            if request.top_logprobs:
                common["top_logprobs"] = request.top_logprobs
        try:
            if request.messages is not None:
                result = await self.client.chat(messages=request.messages, **common)
            else:
                result = await self.client.generate(
                    prompt=request.prompt or "", raw=self.raw or None, **common
                )
        except ollama.ResponseError as exc:
            raise classify(exc.status_code, str(exc.error), secrets=self._secrets) from exc
        except ConnectionError as exc:
            raise ProviderError(
                "cannot connect to Ollama", kind="connection", retryable=True
            ) from exc
        except Exception as exc:
            raise _transport_error(exc, self._secrets) from exc
        raw: dict[str, Any] = result.model_dump(mode="json", exclude_none=True)
        return raw

    @staticmethod
    def parse(raw: dict[str, Any]) -> Response:
        with malformed_payload():
            if "message" in raw:
                message = raw["message"]
                if not isinstance(message, dict):
                    raise malformed("no message")
                text = message.get("content")
            else:
                text = raw.get("response")
            if not isinstance(text, str):
                raise malformed("no text")
            logprobs = raw.get("logprobs")
            reason = raw.get("done_reason")
            return Response(
                text=text,
                logprobs=[
                    {"token": lp["token"], "logprob": float(lp["logprob"])} for lp in logprobs
                ]
                if logprobs
                else None,
                input_tokens=raw.get("prompt_eval_count"),
                output_tokens=raw.get("eval_count"),
                finish_reason=str(reason) if reason else None,
                raw=raw,
            )

    async def close(self) -> None:
        if self._client is not None:
            await self._client._client.aclose()
            self._client = None


def _transport_error(exc: Exception, secrets: list[str | None]) -> ProviderError:
    name = type(exc).__name__
    if isinstance(exc, TimeoutError) or "Timeout" in name:
        return ProviderError("request timed out", kind="timeout", retryable=True)
    if name in {"RemoteProtocolError", "ReadError", "WriteError", "ConnectError"}:
        return ProviderError(f"connection failed: {name}", kind="connection", retryable=True)
    if isinstance(exc, ValueError):  # an unreadable body: JSON or validation error
        return ProviderError(f"malformed response body: {name}", kind="malformed")
    return ProviderError(redact(f"{name}: {exc}", secrets), kind="exception")
