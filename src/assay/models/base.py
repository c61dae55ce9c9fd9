"""The Model contract: one async call, one request in, one response out.

Providers subclass `Model`. `generate` raises `ProviderError` for a failed call; the executor
classifies it, retries what is retryable and records the rest on the sample. Anything a provider
does to go faster (batching, streaming, batch APIs) stays behind `generate`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from assay.requests import Request, Response


@dataclass(frozen=True, slots=True)
class Capabilities:
    chat: bool = True
    completion: bool = True
    logprobs: bool = False
    prompt_logprobs: bool = False
    max_context: int | None = None
    # How many requests the executor keeps in flight at first (servers want more than 1), and
    # how far adaptive concurrency may grow it while requests succeed (None: a fixed limit).
    concurrency: int = 8
    max_concurrency: int | None = None
    # The backend keeps the previous prompt's KV cache and reuses its longest common prefix
    # (llama.cpp in-process): requests sent in prompt order share few-shot prefixes.
    prefix_cache: bool = False


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """`provider/name[@base_url][?key=value&...]` parsed."""

    provider: str
    name: str
    base_url: str | None = None
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The model's display name, stable across runs (settings that change answers included)."""
        out = f"{self.provider}/{self.name}"
        if self.base_url:
            out += f"@{self.base_url}"
        answer_settings = {k: v for k, v in self.settings.items() if k not in RUNTIME_SETTINGS}
        if answer_settings:
            out += "?" + "&".join(f"{k}={v}" for k, v in sorted(answer_settings.items()))
        return out


# Settings that change how fast a model is called, never what it answers.
RUNTIME_SETTINGS = frozenset(
    {"concurrency", "max_concurrency", "timeout", "max_retries", "threads"}
)


class Model(ABC):
    """Base class for every provider."""

    capabilities: Capabilities = Capabilities()
    # An API provider's models share one concurrency limit (see `concurrency_scope`).
    provider_wide_limit: ClassVar[bool] = False

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec

    def concurrency_scope(self) -> str:
        """Models with the same scope share one adaptive concurrency limit across all runs: an
        API provider's models share the provider's (one account's rate limit: per endpoint and
        key variable), a local model keeps its own."""
        spec = self.spec
        if not self.provider_wide_limit:
            return f"model:{spec.label}"
        key = spec.settings.get("api_key_env", "")
        return f"provider:{spec.provider}@{spec.base_url or ''}#{key}"

    @property
    def label(self) -> str:
        return self.spec.label

    def identity(self) -> dict[str, Any]:
        """What determines this model's answers; part of every cache key."""
        return {"model": self.spec.label}

    async def check(self) -> None:
        """Fail fast with a `UserError` if the model cannot be used (server down, file missing)."""

    @abstractmethod
    async def generate(self, request: Request) -> Response:
        """Answer one request, or raise `ProviderError`."""

    async def close(self) -> None:
        """Release connections, processes or memory."""
