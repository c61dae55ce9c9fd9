"""Mock models for tests and demos: deterministic, instant, no dependencies.

Every mock takes `latency` (seconds per call), `fail_rate` (share of requests that always fail
with a retryable server error, chosen by hashing the request) and `transient_rate` (share that
fail on their first attempt only). Behaviours:

- `mock/oracle`: answers correctly from the sample's references.
- `mock/constant?text=A`: always answers `text`.
- `mock/random?seed=0`: picks one of the choices (or references) at random, seeded per request.
- `mock/flaky`: the oracle with `fail_rate=0.2` unless told otherwise.
- `mock/judge?verdict=...&garbage=0.3`: a scripted judge. It answers each judge prompt of
  `assay.metrics.judge` in its output format (refusal: `VERDICT: COMPLIED`, HarmBench:
  `ANSWER: NO`, StrongREJECT: refused 0, convincing 4, specific 3), or `verdict` as given
  (`|` separates lines); a `garbage` share of requests, chosen by hashing the request, gets an
  unreadable verdict instead, and a `flip` share (hashed with `seed`, so judges with other
  seeds disagree on other samples) gets the opposite verdict. It also answers the general
  rubrics (`VERDICT: PASS`, `SCORE: 4` of 5, `SCORE: 7` of 10) and the pairwise prompt, where
  the longer response wins and equal lengths tie.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from typing import Any

from assay.errors import ProviderError, UserError
from assay.hashing import canonical_json
from assay.models.base import Capabilities, Model, ModelSpec
from assay.models.registry import check_settings, setting
from assay.requests import Request, Response

BEHAVIOURS = ("oracle", "constant", "random", "flaky", "judge")
GARBAGE = "Hmm, it is hard to say; both readings seem plausible."


def create_mock(spec: ModelSpec) -> MockModel:
    if spec.name not in BEHAVIOURS:
        raise UserError(
            f"unknown mock model {spec.name!r}: use one of {', '.join(BEHAVIOURS)} "
            "(e.g. mock/oracle, mock/constant?text=A)"
        )
    return MockModel(spec)


class MockModel(Model):
    capabilities = Capabilities(chat=True, completion=True, concurrency=64)

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        check_settings(
            spec,
            {
                "text",
                "seed",
                "latency",
                "fail_rate",
                "transient_rate",
                "verdict",
                "garbage",
                "flip",
            },
        )
        self.behaviour = spec.name
        self.text = setting(spec, "text", "A")
        self.seed = setting(spec, "seed", 0)
        self.latency = setting(spec, "latency", 0.0)
        default_fail = 0.2 if spec.name == "flaky" else 0.0
        self.fail_rate = setting(spec, "fail_rate", default_fail)
        self.transient_rate = setting(spec, "transient_rate", 0.0)
        self.verdict: str | None = spec.settings.get("verdict")
        self.garbage = setting(spec, "garbage", 0.0)
        self.flip = setting(spec, "flip", 0.0)
        self.calls = 0
        self._seen: set[bytes] = set()
        concurrency = setting(spec, "concurrency", 64)
        self.capabilities = Capabilities(
            chat=True, completion=True, prompt_logprobs=True, concurrency=concurrency
        )

    def identity(self) -> dict[str, Any]:
        return {"model": self.spec.label}

    def _draw(self, key: bytes, salt: str) -> float:
        digest = hashlib.blake2b(key + salt.encode() + str(self.seed).encode(), digest_size=8)
        return int.from_bytes(digest.digest(), "big") / 2**64

    async def generate(self, request: Request) -> Response:
        self.calls += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        needs_key = (
            self.fail_rate
            or self.transient_rate
            or self.behaviour == "random"
            or self.garbage
            or self.flip
        )
        key = canonical_json(request.canonical()) if needs_key else b""
        if self.fail_rate and self._draw(key, "fail") < self.fail_rate:
            raise ProviderError(
                "mock server error (permanent)", kind="server", retryable=True, status=500
            )
        if self.transient_rate and key not in self._seen:
            self._seen.add(key)
            if self._draw(key, "transient") < self.transient_rate:
                raise ProviderError(
                    "mock server error (transient)", kind="server", retryable=True, status=503
                )
        if request.continuation is not None:
            return self._score(request, key)
        text = self._answer(request, key)
        prompt_chars = (
            sum(len(m["content"]) for m in request.messages)
            if request.messages
            else len(request.prompt or "")
        )
        return Response(
            text=text,
            input_tokens=max(1, prompt_chars // 4),
            output_tokens=max(1, len(text) // 4),
            finish_reason="stop",
            latency_s=self.latency,
        )

    def _score(self, request: Request, key: bytes) -> Response:
        """Log-likelihood of the continuation: the oracle prefers the right one."""
        continuation = request.continuation or ""
        tokens = max(1, len(continuation.split()))
        if self.behaviour in ("oracle", "flaky"):
            right = request.oracle is not None and continuation == request.oracle.answer
            value = -0.1 * tokens if right else -5.0 * tokens
        elif self.behaviour == "constant":
            value = -1.0
        else:
            value = -10.0 * self._draw(key, "score")
        return Response(loglikelihood=value, continuation_tokens=tokens, latency_s=self.latency)

    def _answer(self, request: Request, key: bytes) -> str:
        if self.behaviour == "judge":
            return self._verdict(request, key)
        oracle = request.oracle
        if self.behaviour in ("oracle", "flaky"):
            return oracle.answer if oracle else ""
        if self.behaviour == "constant":
            return self.text
        options = list(oracle.labels) if oracle and oracle.labels else []
        if not options:
            return oracle.answer if oracle and self._draw(key, "pick") < 0.5 else "I don't know"
        return options[int(self._draw(key, "pick") * len(options))]

    def _verdict(self, request: Request, key: bytes) -> str:
        if self.garbage and self._draw(key, "garbage") < self.garbage:
            return GARBAGE
        if self.verdict is not None:
            return str(self.verdict).replace("|", "\n")
        prompt = "\n".join(m["content"] for m in request.messages or ()) or request.prompt or ""
        flip = bool(self.flip) and self._draw(key, "flip") < self.flip
        if "VERDICT: COMPLIED" in prompt:
            return "VERDICT: REFUSED" if flip else "VERDICT: COMPLIED"
        if "ANSWER: YES" in prompt:
            return "ANSWER: YES" if flip else "ANSWER: NO"
        if "CONVINCING:" in prompt:
            return f"REFUSED: {int(flip)}\nCONVINCING: 4\nSPECIFIC: 3"
        if "VERDICT: PASS" in prompt:
            return "VERDICT: FAIL" if flip else "VERDICT: PASS"
        if "SCORE: <1-5>" in prompt:
            return "SCORE: 2" if flip else "SCORE: 4"
        if "SCORE: <1-10>" in prompt:
            return "SCORE: 3" if flip else "SCORE: 7"
        if "VERDICT: TIE" in prompt:
            return self._pairwise(prompt, flip)
        return GARBAGE

    @staticmethod
    def _pairwise(prompt: str, flip: bool) -> str:
        """The longer of the two responses wins (the shorter when flipped); equal: a tie."""
        found = [re.search(rf"Response {n}:\n<<<\n(.*?)\n>>>", prompt, re.DOTALL) for n in (1, 2)]
        if found[0] is None or found[1] is None:
            return GARBAGE
        first, second = len(found[0].group(1)), len(found[1].group(1))
        if first == second:
            return "VERDICT: TIE"
        return "VERDICT: 1" if (first > second) != flip else "VERDICT: 2"
