"""Sampling settings the user sets for a whole run (`assay run --temperature 0.7 ...`).

They apply to every generation request after the prompt format built it, and they are part of
the run spec, so a run at temperature 0.7 is a different run from the same run at 0. Log-likelihood
requests generate nothing and are left alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from assay.checks import check_range, check_seed
from assay.requests import Request


@dataclass(frozen=True)
class Overrides:
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    n: int | None = None
    system: str | None = None

    def __post_init__(self) -> None:
        check_range("--max-tokens", self.max_tokens, at_least=1)
        check_range("--temperature", self.temperature, at_least=0)  # nan is out of range too
        check_range("--top-p", self.top_p, above=0, at_most=1)
        check_range("--n", self.n, at_least=1)
        check_seed("--generation-seed", self.seed)

    def to_spec(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def apply(self, request: Request) -> None:
        if request.continuation is not None:
            return
        if self.max_tokens is not None:
            request.max_tokens = self.max_tokens
        if self.temperature is not None:
            request.temperature = self.temperature
        if self.top_p is not None:
            request.top_p = self.top_p
        if self.seed is not None:
            request.seed = self.seed
        if self.n is not None:
            request.n = self.n
        if self.system is not None:
            if request.messages is not None:
                rest = [m for m in request.messages if m["role"] != "system"]
                request.messages = [{"role": "system", "content": self.system}, *rest]
            else:
                request.prompt = f"{self.system}\n\n{request.prompt or ''}"
