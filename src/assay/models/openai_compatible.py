"""Any OpenAI-compatible server through the official `openai` SDK.

`openai-compatible/<name>@<base_url>` sends chat requests (or text completions with
`?api=completions`). The API key comes from `OPENAI_API_KEY` (or the variable named by
`?api_key_env=`, or the file `ASSAY_KEYS_FILE` names); servers that need none get a placeholder.
`?header_X-Foo=bar` (or `=env:NAME`) sends extra headers (see `assay.models.credentials`).
`?prompt_logprobs=true` declares that the server returns correct prompt log-probabilities with
`echo=True` (vLLM; llama-cpp-python's server with `--logits_all true` for models that add a BOS
token, such as Gemma: for models without one, such as SmolLM2, its echoed values are shifted by one
token), enabling `multiple_choice_logprob`. The SDK's own retries are off: the executor retries,
so every attempt is counted and backoff honours Retry-After.
"""

from __future__ import annotations

import time
from typing import Any

from assay.errors import ProviderError, UserError
from assay.models.base import Capabilities, Model, ModelSpec
from assay.models.credentials import (
    extra_headers,
    from_env,
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


class OpenAICompatibleModel(Model):
    provider_wide_limit = True

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        refuse_inline_keys(spec)
        check_settings(spec, {"api", "api_key_env", "prompt_logprobs"} | header_settings(spec))
        if not spec.base_url:
            raise UserError(
                f"model openai-compatible/{spec.name} needs a server address: write "
                f"openai-compatible/{spec.name}@http://127.0.0.1:8080/v1"
            )
        self.base_url = spec.base_url
        self.api = setting(spec, "api", "chat")
        if self.api not in ("chat", "completions"):
            raise UserError(f"model {spec.label}: api must be chat or completions")
        key_env = setting(spec, "api_key_env", "OPENAI_API_KEY")
        self._api_key = from_env(key_env) or "EMPTY"
        self._headers = extra_headers(spec)
        self._secrets = [self._api_key, *secret_header_values(spec, self._headers)]
        self.timeout = setting(spec, "timeout", 600.0)
        self.capabilities = Capabilities(
            chat=self.api == "chat",
            completion=True,
            logprobs=True,
            prompt_logprobs=setting(spec, "prompt_logprobs", False),
            concurrency=setting(spec, "concurrency", 8),
            max_concurrency=setting(spec, "max_concurrency", 64),
        )
        self._client: Any = None

    def identity(self) -> dict[str, Any]:
        return {"model": self.spec.label, "api": self.api}

    @property
    def client(self) -> Any:
        if self._client is None:
            import openai

            self._client = openai.AsyncOpenAI(
                base_url=self.base_url,
                api_key=self._api_key,
                max_retries=0,
                timeout=self.timeout,
                default_headers=self._headers or None,
            )
        return self._client

    async def check(self) -> None:
        import openai

        await probe_sdk(
            openai,
            self.client.with_options(timeout=10.0).models.list(),
            unreachable=f"cannot reach {self.base_url}: is the server running? Start it (e.g. "
            "python -m llama_cpp.server --model F --host 127.0.0.1 --port 8080) or fix the address",
            refused_key=f"{self.base_url} refused the API key: set OPENAI_API_KEY (or the "
            "variable named by ?api_key_env=)",
            secrets=self._secrets,
        )

    async def generate(self, request: Request) -> Response:
        options: dict[str, Any] = {
            "model": self.spec.name,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.top_p is not None:
            options["top_p"] = request.top_p
        if request.stop:
            options["stop"] = request.stop
        if request.seed is not None:
            options["seed"] = request.seed
        if request.n != 1:
            options["n"] = request.n
        started = time.perf_counter()
        if request.continuation is not None:
            return await self._loglikelihood(request, started)
        import openai

        chat = request.messages is not None and self.api == "chat"
        with sdk_errors(openai, self._secrets):
            if chat:
                if request.logprobs:
                    options["logprobs"] = True
                    if request.top_logprobs:
                        options["top_logprobs"] = request.top_logprobs
                result = await self.client.chat.completions.create(
                    messages=request.messages, **options
                )
            else:
                prompt = request.prompt if request.prompt is not None else _flatten(request)
                if request.logprobs:
                    options["logprobs"] = request.top_logprobs or 1
                result = await self.client.completions.create(prompt=prompt, **options)
        with malformed_payload():
            raw = result.model_dump(mode="json", warnings=False)
        return parse_openai(raw, chat=chat, latency_s=time.perf_counter() - started)

    async def _loglikelihood(self, request: Request, started: float) -> Response:
        """Score the continuation from echoed prompt log-probabilities (legacy completions)."""
        context = request.prompt if request.prompt is not None else _flatten(request)
        text = context + (request.continuation or "")
        import openai

        with sdk_errors(openai, self._secrets):
            result = await self.client.completions.create(
                model=self.spec.name,
                prompt=text,
                max_tokens=1,
                temperature=0.0,
                echo=True,
                logprobs=1,
            )
        with malformed_payload():
            lp = result.choices[0].logprobs if result.choices else None
            if lp is None or not lp.tokens or lp.text_offset is None:
                raise ProviderError(
                    "the server returned no prompt log-probabilities for echo=True: it cannot "
                    "score log-likelihoods (drop ?prompt_logprobs=true)",
                    kind="malformed",
                )
            picked = [
                (token, value)
                for token, value, offset in zip(
                    lp.tokens, lp.token_logprobs, lp.text_offset, strict=False
                )
                if len(context) <= offset < len(text)
            ]
            if not picked or any(value is None for _, value in picked):
                raise ProviderError(
                    "continuation tokens have no log-probabilities", kind="malformed"
                )
            loglikelihood = float(sum(value for _, value in picked))
        usage = result.usage
        return Response(
            loglikelihood=loglikelihood,
            continuation_tokens=len(picked),
            logprobs=[{"token": token, "logprob": value} for token, value in picked],
            input_tokens=getattr(usage, "prompt_tokens", None),
            output_tokens=0,
            latency_s=time.perf_counter() - started,
            raw=result.model_dump(mode="json"),
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def parse_openai(raw: dict[str, Any], *, chat: bool, latency_s: float = 0.0) -> Response:
    """A response from an OpenAI-shaped JSON body (chat or legacy completions), checked.

    OpenAI-compatible servers differ, so every field is read defensively: no choices, a choice
    without a message or text, or a null where text belongs is a `malformed` provider error. A
    chat message may have null content only when it refused, called a tool or was cut off.
    """
    with malformed_payload():
        choices = raw.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ProviderError("response has no choices", kind="malformed", retryable=False)
        texts = [_choice_text(c, chat) for c in choices]
        logprobs = _choice_logprobs(choices[0], chat)
        usage = raw.get("usage") or {}
        reason = choices[0].get("finish_reason")
        return Response(
            text=texts[0],
            completions=texts if len(texts) > 1 else None,
            logprobs=logprobs,
            input_tokens=usage.get("prompt_tokens"),
            output_tokens=usage.get("completion_tokens"),
            finish_reason=str(reason) if reason is not None else None,
            latency_s=latency_s,
            raw=raw,
        )


_NULL_CONTENT_REASONS = frozenset({"length", "content_filter", "tool_calls", "function_call"})


def _choice_text(choice: dict[str, Any], chat: bool) -> str:
    if not chat:
        text = choice.get("text")
        if not isinstance(text, str):
            raise malformed("a choice has no text")
        return text
    message = choice.get("message")
    if not isinstance(message, dict):
        raise malformed("a choice has no message")
    content = message.get("content")
    if isinstance(content, str):
        return content
    if content is None and (
        message.get("refusal")
        or message.get("tool_calls")
        or choice.get("finish_reason") in _NULL_CONTENT_REASONS
    ):
        return ""
    raise malformed("a message has no text content")


def _choice_logprobs(choice: dict[str, Any], chat: bool) -> list[dict[str, Any]] | None:
    lp = choice.get("logprobs")
    if not lp:
        return None
    if chat:
        content = lp.get("content")
        if content is None:
            return None
        return [{"token": t["token"], "logprob": float(t["logprob"])} for t in content]
    tokens = lp.get("tokens")
    if not tokens:
        return None
    return [{"token": t, "logprob": v} for t, v in zip(tokens, lp["token_logprobs"], strict=False)]


def _flatten(request: Request) -> str:
    return "\n\n".join(m["content"] for m in request.messages or [])
