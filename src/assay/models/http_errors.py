"""HTTP failures turned into classified `ProviderError`s, shared by every remote provider.

Retryable: 429 (rate limit), 408/409, 5xx (529 "overloaded" included), timeouts and dropped
connections. Final: authentication (401/403), a prompt longer than the context window
(`context_length`) and every other bad request. `Retry-After` (seconds or an HTTP date) and
`retry-after-ms` are read so the executor waits at least that long.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Awaitable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from assay.errors import ProviderError, Unreachable, UserError

# Phrases providers use when a prompt does not fit (OpenAI, Anthropic, Gemini, vLLM, llama.cpp).
_CONTEXT_PATTERNS = re.compile(
    r"context[_ ]length|context window|maximum context|prompt is too long|too many tokens"
    r"|exceeds the maximum number of tokens|input token count|exceed_context_size"
    r"|exceeds? (the )?(model'?s? )?context",
    re.IGNORECASE,
)


def classify(
    status: int,
    message: str,
    headers: Any = None,
    *,
    secrets: Iterable[str | None] = (),
) -> ProviderError:
    """Map an HTTP status and the provider's error message to a `ProviderError`."""
    message = redact(f"HTTP {status}: {message[:300]}", secrets)
    retry_after = retry_after_seconds(headers)
    if status == 429:
        return ProviderError(
            message, kind="rate_limit", retryable=True, retry_after=retry_after, status=status
        )
    if status == 529:
        return ProviderError(
            message, kind="overloaded", retryable=True, retry_after=retry_after, status=status
        )
    if status in (408, 409) or status >= 500:
        return ProviderError(
            message, kind="server", retryable=True, retry_after=retry_after, status=status
        )
    if status in (401, 403):
        return ProviderError(
            f"HTTP {status}: authentication failed (check the API key's environment variable)",
            kind="auth",
            retryable=False,
            status=status,
        )
    if is_context_length(message):
        return ProviderError(message, kind="context_length", retryable=False, status=status)
    return ProviderError(message, kind="bad_request", retryable=False, status=status)


def classify_sdk_status(exc: Any, *, secrets: Iterable[str | None] = ()) -> ProviderError:
    """Classify an `APIStatusError` from the openai or anthropic SDK (same shape in both)."""
    response = getattr(exc, "response", None)
    headers = response.headers if response is not None else None
    return classify(int(exc.status_code), sdk_message(exc), headers, secrets=secrets)


def is_context_length(message: str) -> bool:
    return bool(_CONTEXT_PATTERNS.search(message))


def sdk_message(exc: Any) -> str:
    """The provider's own words from an SDK error body (`{"error": {"message": ...}}`)."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            code = inner.get("code") or inner.get("type")
            text = str(inner["message"])
            return f"{text} ({code})" if isinstance(code, str) and code not in text else text
    return str(getattr(exc, "message", exc))


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (a number or an HTTP date)."""
    if not headers:
        return None
    for name in ("retry-after-ms", "retry-after"):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            try:
                parsed = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                continue
            return max(0.0, parsed.timestamp() - time.time())
        return seconds / 1000 if name.endswith("ms") else seconds
    return None


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every secret (and any long piece of one a server echoes back) with `***`."""
    for secret in secrets:
        if not secret or len(secret) < 6:
            continue
        text = text.replace(secret, "***")
        # Servers echo keys partly masked ("sk-abc...wxyz"): hide any 8-character run of it.
        for start in range(0, len(secret) - 7):
            piece = secret[start : start + 8]
            if piece in text:
                text = text.replace(piece, "***")
    return text


@contextmanager
def malformed_payload() -> Iterator[None]:
    """Reading a response body that parsed but has the wrong shape: a final `malformed` error.

    Wraps every provider's parsing, so a missing field, a null where text belongs or an empty
    list is classified (never scored, never retried) instead of escaping as an `IndexError`.
    """
    try:
        yield
    except ProviderError:
        raise
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
        raise ProviderError(
            f"malformed response body: {type(exc).__name__}: {str(exc)[:200]}", kind="malformed"
        ) from exc


def malformed(what: str) -> ProviderError:
    return ProviderError(f"malformed response body: {what}", kind="malformed")


@contextmanager
def sdk_errors(sdk: Any, secrets: Iterable[str | None] = ()) -> Iterator[None]:
    """Turn an SDK's exceptions into classified `ProviderError`s (keys redacted).

    `sdk` is the `openai` or `anthropic` module: both SDKs name their errors alike.
    """
    try:
        yield
    except sdk.APIStatusError as exc:
        raise classify_sdk_status(exc, secrets=secrets) from exc
    except sdk.APITimeoutError as exc:  # before APIConnectionError, its parent
        raise ProviderError("request timed out", kind="timeout", retryable=True) from exc
    except sdk.APIConnectionError as exc:
        raise ProviderError(
            f"connection failed: {type(exc.__cause__ or exc).__name__}",
            kind="connection",
            retryable=True,
        ) from exc
    except (sdk.APIResponseValidationError, ValueError) as exc:
        raise ProviderError(
            f"malformed response body: {type(exc).__name__}", kind="malformed"
        ) from exc


async def probe_sdk(
    sdk: Any,
    call: Awaitable[Any],
    *,
    unreachable: str,
    refused_key: str,
    missing_model: str | None = None,
    secrets: Iterable[str | None] = (),
) -> None:
    """The start-up probe of an openai or anthropic SDK client (the same exception classes in
    both): an unreachable server, a refused key and a missing model are one line each; a busy
    or starting server is a retryable error the probe's retry loop waits out; any other status
    (a server that lists no models, say) passes, and a real request will tell."""
    try:
        await call
    except sdk.APIConnectionError:
        raise Unreachable(unreachable) from None
    except sdk.AuthenticationError:
        raise UserError(refused_key) from None
    except sdk.NotFoundError as exc:
        if missing_model is not None:
            raise UserError(missing_model) from None
        if (error := classify_sdk_status(exc, secrets=secrets)).retryable:
            raise error from None
    except sdk.APIStatusError as exc:
        if (error := classify_sdk_status(exc, secrets=secrets)).retryable:
            raise error from None
