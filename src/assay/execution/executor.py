"""Calling a model: response cache, a per-model concurrency limit, retries.

A cached response is returned without a call, and identical requests in flight share one call
(see `ResponseCache`). Otherwise the call waits for a slot, and a
retryable failure (rate limit, server error, timeout, dropped connection) is retried with
backoff; a final failure becomes a `Response` carrying an `ErrorInfo`, which is never cached and
never scored.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from dataclasses import dataclass, field
from typing import Any

from assay.errors import ProviderError, Unreachable
from assay.execution.concurrency import ConcurrencyLimits
from assay.execution.response_cache import ResponseCache
from assay.execution.retry import RetryPolicy
from assay.hashing import canonical_json
from assay.models.base import Model
from assay.requests import ErrorInfo, Request, Response

# HTTP statuses that mean "too much load": cut concurrency, not just retry.
OVERLOAD = frozenset({429, 503, 529})


def cache_key(identity: dict[str, Any], request: Request) -> str:
    blob = canonical_json({"model": identity, "request": request.canonical()})
    return hashlib.sha256(blob).hexdigest()[:40]


@dataclass
class ExecutorStats:
    calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    errors: int = 0
    errors_by_kind: dict[str, int] = field(default_factory=dict)


class Executor:
    def __init__(
        self,
        model: Model,
        *,
        concurrency: int | None = None,
        policy: RetryPolicy | None = None,
        seed: int = 0,
        limits: ConcurrencyLimits | None = None,
    ) -> None:
        """`limits`: the invocation's shared limits (one per provider for API models); without
        them the executor has a limit of its own."""
        self.model = model
        self.label = model.label  # written into every cache row: computed once
        self.identity = model.identity()
        shared = limits if limits is not None else ConcurrencyLimits(concurrency)
        self.limit = shared.for_model(model)
        self.concurrency = self.limit.maximum  # a run keeps up to twice this in flight
        self.policy = policy or RetryPolicy()
        self._rng = random.Random(seed)
        self.stats = ExecutorStats()
        self.cache = ResponseCache()

    def key(self, request: Request) -> str:
        return cache_key(self.identity, request)

    async def execute(self, request: Request, key: str) -> Response:
        """The response to `request`: from the cache, from an identical call already in flight
        (both marked `cached`), or from a new call; only a new call counts in `stats.calls`."""
        response = await self.cache.fetch(key, lambda: self._call_with_retries(request))
        if response.cached:
            self.stats.cache_hits += 1
        return response

    async def _call_with_retries(self, request: Request) -> Response:
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            await self.limit.acquire()
            outcome: dict[str, Any] = {"succeeded": False}
            try:
                self.stats.calls += 1
                # a timeout scope, not `wait_for`: on Python 3.11 that wraps every call in a task
                # of its own, which at thousands of calls a second kept the event loop busy
                async with asyncio.timeout(self.policy.timeout):
                    response = await self.model.generate(request)
                outcome["succeeded"] = True
                if not response.latency_s:
                    response.latency_s = time.perf_counter() - started
                response.attempts = attempt
                return response
            except ProviderError as exc:
                error = ErrorInfo(exc.kind, str(exc), exc.retryable, exc.status)
                retry_after = self.policy.retry_wait(exc.retry_after)
                outcome["overloaded"] = exc.kind == "rate_limit" or exc.status in OVERLOAD
                outcome["retry_after"] = retry_after
            except TimeoutError:
                error = ErrorInfo("timeout", f"no answer within {self.policy.timeout:g}s", True)
                retry_after = None
            except Exception as exc:  # a provider bug or malformed body: record, never score
                error = ErrorInfo("exception", f"{type(exc).__name__}: {exc}", False)
                retry_after = None
            finally:
                await self.limit.release(**outcome)
            if not error.retryable or attempt >= self.policy.max_attempts:
                self.stats.errors += 1
                self.stats.errors_by_kind[error.kind] = (
                    self.stats.errors_by_kind.get(error.kind, 0) + 1
                )
                return Response(
                    error=error, attempts=attempt, latency_s=time.perf_counter() - started
                )
            self.stats.retries += 1
            await asyncio.sleep(self.policy.delay(attempt, retry_after, self._rng))


async def probe(model: Model, policy: RetryPolicy | None = None, *, seed: int = 0) -> None:
    """`model.check()`, retried like any request while the server is unreachable or busy.

    A server still starting, a dropped connection, a 429 or a 5xx is retried with the policy's
    backoff (Retry-After capped). Still unreachable after the last attempt: the `UserError`
    stands. Still busy: the run starts anyway and its requests retry on their own.
    """
    policy = policy or RetryPolicy()
    rng = random.Random(seed)
    attempt = 0
    while True:
        attempt += 1
        try:
            await asyncio.wait_for(model.check(), policy.timeout)
            return
        except TimeoutError:
            failure: Exception = Unreachable(
                f"{model.label} did not answer its start-up check within {policy.timeout:g}s"
            )
            retry_after = None
        except Unreachable as exc:
            failure, retry_after = exc, None
        except ProviderError as exc:
            if not exc.retryable:
                return  # the server answered: requests will say what is wrong
            failure, retry_after = exc, exc.retry_after
        if attempt >= policy.max_attempts:
            if isinstance(failure, Unreachable):
                raise failure
            return
        await asyncio.sleep(policy.delay(attempt, retry_after, rng))
