"""Provider-neutral requests and responses.

A `Request` is what a prompt format asks of a model; its canonical form (everything a provider
sees) is hashed into the response-cache key. A `Response` carries the text, token usage, timing
and, when the call failed, an `ErrorInfo`. A response with an error is never scored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assay.samples import Message


@dataclass(slots=True, frozen=True)
class Oracle:
    """What a correct answer looks like. Used only by mock models; never sent, never hashed."""

    answer: str
    labels: tuple[str, ...] = ()


@dataclass(slots=True)
class Request:
    messages: list[Message] | None = None
    prompt: str | None = None
    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float | None = None
    stop: list[str] | None = None
    seed: int | None = None
    n: int = 1
    logprobs: bool = False
    top_logprobs: int | None = None
    # Set for a log-likelihood request: score this text after `prompt`, generate nothing.
    continuation: str | None = None
    oracle: Oracle | None = field(default=None, compare=False)

    def canonical(self) -> dict[str, Any]:
        """The request as a provider sees it: the part that defines the answer."""
        out: dict[str, Any] = {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }
        if self.messages is not None:
            out["messages"] = self.messages
        if self.prompt is not None:
            out["prompt"] = self.prompt
        if self.top_p is not None:
            out["top_p"] = self.top_p
        if self.stop:
            out["stop"] = self.stop
        if self.seed is not None:
            out["seed"] = self.seed
        if self.n != 1:
            out["n"] = self.n
        if self.continuation is not None:
            out["continuation"] = self.continuation
        if self.logprobs:
            out["logprobs"] = True
            if self.top_logprobs:
                out["top_logprobs"] = self.top_logprobs
        return out

    @property
    def is_chat(self) -> bool:
        return self.messages is not None

    @property
    def is_loglikelihood(self) -> bool:
        return self.continuation is not None


@dataclass(slots=True)
class ErrorInfo:
    kind: str
    message: str
    retryable: bool = False
    status: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "retryable": self.retryable,
            "status": self.status,
        }


# finish reasons meaning the answer stopped at the token limit (OpenAI and most servers: length,
# Anthropic: max_tokens): the answer may be incomplete, and the viewer marks it
TRUNCATED_FINISH_REASONS = ("length", "max_tokens")


@dataclass(slots=True)
class Response:
    text: str = ""
    completions: list[str] | None = None
    logprobs: list[dict[str, Any]] | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    finish_reason: str | None = None
    # For log-likelihood requests: sum of the continuation's token log-probabilities (nats),
    # and how many tokens it has (for length normalisation).
    loglikelihood: float | None = None
    continuation_tokens: int | None = None
    latency_s: float = 0.0
    raw: dict[str, Any] | None = None
    error: ErrorInfo | None = None
    cached: bool = False
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None

    def payload(self) -> dict[str, Any]:
        """What the cache keeps: the answer, not this call's timing or provenance."""
        return {
            "text": self.text,
            "completions": self.completions,
            "logprobs": self.logprobs,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "finish_reason": self.finish_reason,
            "loglikelihood": self.loglikelihood,
            "continuation_tokens": self.continuation_tokens,
            "latency_s": self.latency_s,
            "raw": self.raw,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any], *, cached: bool) -> Response:
        return cls(
            text=payload.get("text", ""),
            completions=payload.get("completions"),
            logprobs=payload.get("logprobs"),
            input_tokens=payload.get("input_tokens"),
            output_tokens=payload.get("output_tokens"),
            finish_reason=payload.get("finish_reason"),
            loglikelihood=payload.get("loglikelihood"),
            continuation_tokens=payload.get("continuation_tokens"),
            latency_s=payload.get("latency_s", 0.0),
            raw=payload.get("raw"),
            cached=cached,
            attempts=0 if cached else 1,
        )
