"""Google Gemini through the official `google-genai` SDK: `google/<model>`.

The key comes from `GEMINI_API_KEY` or `GOOGLE_API_KEY` (or `?api_key_env=NAME`); `@<base_url>`
points the SDK elsewhere. System messages become `system_instruction`; `n>1` is
`candidate_count`; logprobs are `response_logprobs`. A prompt blocked by safety filters is an
answer (empty text, finish reason `content_filter`), not an error: safety benchmarks count it.
The SDK's retries are off (`HttpRetryOptions(attempts=1)`): the executor retries.
"""

from __future__ import annotations

import time
from typing import Any

from assay.errors import ProviderError, Unreachable, UserError
from assay.models.base import Capabilities, Model, ModelSpec
from assay.models.credentials import (
    api_key,
    extra_headers,
    from_env,
    header_settings,
    refuse_inline_keys,
    secret_header_values,
)
from assay.models.http_errors import classify, malformed, malformed_payload, redact
from assay.models.registry import check_settings, setting
from assay.requests import Request, Response

FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "BLOCKLIST": "content_filter",
    "SPII": "content_filter",
    "RECITATION": "content_filter",
}


class GoogleModel(Model):
    provider_wide_limit = True

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        refuse_inline_keys(spec)
        check_settings(spec, {"api_key_env", "thinking_budget"} | header_settings(spec))
        key = api_key(spec, "GEMINI_API_KEY", required=False)
        if key is None and "api_key_env" not in spec.settings:
            key = from_env("GOOGLE_API_KEY")
        if key is None:
            raise UserError(
                f"model google/{spec.name} needs an API key: set the environment variable "
                f"{setting(spec, 'api_key_env', 'GEMINI_API_KEY')} (or GOOGLE_API_KEY, or name "
                "another with ?api_key_env=NAME)"
            )
        self._api_key = key
        self._headers = extra_headers(spec)
        self._secrets = [key, *secret_header_values(spec, self._headers)]
        self.timeout = setting(spec, "timeout", 600.0)
        self.thinking_budget = setting(spec, "thinking_budget", -1)
        self.capabilities = Capabilities(
            chat=True,
            completion=False,
            logprobs=True,
            concurrency=setting(spec, "concurrency", 16),
            max_concurrency=setting(spec, "max_concurrency", 128),
        )
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            from google import genai
            from google.genai import types

            options = types.HttpOptions(
                base_url=self.spec.base_url,
                timeout=int(self.timeout * 1000),
                headers=self._headers or None,
                retry_options=types.HttpRetryOptions(attempts=1),
            )
            self._client = genai.Client(api_key=self._api_key, http_options=options)
        return self._client

    async def check(self) -> None:
        from google.genai import errors

        try:
            await self.client.aio.models.get(
                model=self.spec.name, config={"http_options": {"timeout": 10_000}}
            )
        except errors.APIError as exc:
            if exc.code in (401, 403) or (exc.code == 400 and "API key" in str(exc.message)):
                raise UserError(
                    "the Gemini API refused the key: check GEMINI_API_KEY (or ?api_key_env=)"
                ) from None
            if exc.code == 404:
                raise UserError(f"the Gemini API has no model {self.spec.name!r}") from None
            error = classify(int(exc.code or 0), str(exc.message or ""), secrets=self._secrets)
            if error.retryable:
                raise error from None  # busy: the probe retries it
        except Exception as exc:
            if _is_connection_error(exc) or isinstance(exc, TimeoutError):
                raise Unreachable(f"cannot reach the Gemini API: {type(exc).__name__}") from None
            raise

    def config(self, request: Request) -> dict[str, Any]:
        """`GenerateContentConfig` fields for one request."""
        config: dict[str, Any] = {
            "max_output_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        system = "\n\n".join(m["content"] for m in request.messages or [] if m["role"] == "system")
        if system:
            config["system_instruction"] = system
        if request.top_p is not None:
            config["top_p"] = request.top_p
        if request.stop:
            config["stop_sequences"] = request.stop
        if request.seed is not None:
            config["seed"] = request.seed
        if request.n != 1:
            config["candidate_count"] = request.n
        if request.logprobs:
            config["response_logprobs"] = True
            if request.top_logprobs:
                config["logprobs"] = request.top_logprobs
        if self.thinking_budget >= 0:
            config["thinking_config"] = {"thinking_budget": self.thinking_budget}
        return config

    @staticmethod
    def contents(request: Request) -> list[dict[str, Any]]:
        messages = request.messages or [{"role": "user", "content": request.prompt or ""}]
        return [
            {
                "role": "model" if m["role"] == "assistant" else "user",
                "parts": [{"text": m["content"]}],
            }
            for m in messages
            if m["role"] != "system"
        ]

    async def generate(self, request: Request) -> Response:
        from google.genai import errors

        started = time.perf_counter()
        try:
            result = await self.client.aio.models.generate_content(
                model=self.spec.name, contents=self.contents(request), config=self.config(request)
            )
        except errors.APIError as exc:
            response = getattr(exc, "response", None)
            headers = getattr(response, "headers", None)
            raise classify(
                int(exc.code or 0),
                str(exc.message or exc.status or ""),
                headers,
                secrets=self._secrets,
            ) from exc
        except Exception as exc:
            error = _transport_error(exc)
            raise ProviderError(
                redact(str(error), self._secrets), kind=error.kind, retryable=error.retryable
            ) from exc
        raw: dict[str, Any] = result.model_dump(
            mode="json", exclude_none=True, exclude={"sdk_http_response"}
        )
        return self.parse(raw, time.perf_counter() - started)

    def parse(self, raw: dict[str, Any], latency_s: float = 0.0) -> Response:
        with malformed_payload():
            return self._parse(raw, latency_s)

    @staticmethod
    def _parse(raw: dict[str, Any], latency_s: float) -> Response:
        candidates = raw.get("candidates") or []
        usage = raw.get("usage_metadata") or {}
        if not candidates and "prompt_feedback" not in raw:
            raise ProviderError("malformed response body: no candidates", kind="malformed")
        texts = [_candidate_text(c) for c in candidates] or [""]
        reason = candidates[0].get("finish_reason") if candidates else "SAFETY"
        output = usage.get("candidates_token_count")
        if output is not None and usage.get("thoughts_token_count"):
            output += usage["thoughts_token_count"]
        return Response(
            text=texts[0],
            completions=texts if len(texts) > 1 else None,
            logprobs=_logprobs(candidates[0]) if candidates else None,
            input_tokens=usage.get("prompt_token_count"),
            output_tokens=output,
            finish_reason=FINISH_REASONS.get(reason, str(reason).lower()) if reason else None,
            latency_s=latency_s,
            raw=raw,
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aio.aclose()
            self._client.close()
            self._client = None


def _candidate_text(candidate: dict[str, Any]) -> str:
    """The text parts of a candidate, thoughts left out; a null text part is malformed."""
    parts = (candidate.get("content") or {}).get("parts") or []
    texts = []
    for part in parts:
        if part.get("thought") or "text" not in part:
            continue  # a thought, or a non-text part (a function call)
        if not isinstance(part["text"], str):
            raise malformed("a text part has no text")
        texts.append(part["text"])
    return "".join(texts)


def _logprobs(candidate: dict[str, Any]) -> list[dict[str, Any]] | None:
    chosen = (candidate.get("logprobs_result") or {}).get("chosen_candidates")
    if not chosen:
        return None
    return [{"token": c.get("token"), "logprob": c.get("log_probability")} for c in chosen]


def _is_connection_error(exc: Exception) -> bool:
    name = type(exc).__name__
    return isinstance(exc, ConnectionError) or name in {
        "ConnectError",
        "RemoteProtocolError",
        "ReadError",
        "WriteError",
        "ClientConnectorError",
        "ServerDisconnectedError",
    }


def _transport_error(exc: Exception) -> ProviderError:
    """Timeouts and dropped connections are retryable; an unreadable body is final."""
    if isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__:
        return ProviderError("request timed out", kind="timeout", retryable=True)
    if _is_connection_error(exc):
        return ProviderError(
            f"connection failed: {type(exc).__name__}", kind="connection", retryable=True
        )
    if isinstance(exc, ValueError):  # json.JSONDecodeError, pydantic.ValidationError
        return ProviderError(f"malformed response body: {type(exc).__name__}", kind="malformed")
    return ProviderError(f"{type(exc).__name__}: {exc}", kind="exception")
