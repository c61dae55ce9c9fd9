from __future__ import annotations

import asyncio
import random
import time

import pytest

from assay.errors import ProviderError, Unreachable, UserError
from assay.execution.executor import Executor, cache_key, probe
from assay.execution.retry import RetryPolicy
from assay.models.base import Capabilities, Model, ModelSpec
from assay.requests import Request, Response


class Scripted(Model):
    """Fails with the scripted errors, in order, then answers."""

    def __init__(self, errors: list[ProviderError], latency: float = 0.0) -> None:
        super().__init__(ModelSpec("test", "scripted"))
        self.errors = list(errors)
        self.latency = latency
        self.calls: list[float] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def generate(self, request: Request) -> Response:
        self.calls.append(time.monotonic())
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
            if self.errors:
                raise self.errors.pop(0)
            return Response(text="ok")
        finally:
            self.in_flight -= 1


FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=1.0, timeout=5)


def request(text: str = "hi") -> Request:
    return Request(prompt=text)


async def test_retryable_errors_are_retried_until_success() -> None:
    model = Scripted([ProviderError("boom", kind="server", retryable=True, status=500)] * 2)
    ex = Executor(model, policy=FAST)
    response = await ex.execute(request(), "k")
    assert response.ok and response.text == "ok"
    assert response.attempts == 3
    assert ex.stats.retries == 2 and ex.stats.errors == 0


async def test_final_errors_are_not_retried_and_not_cached() -> None:
    model = Scripted([ProviderError("bad", kind="bad_request", retryable=False, status=400)])
    ex = Executor(model, policy=FAST)
    response = await ex.execute(request(), "k")
    assert not response.ok
    assert response.error is not None and response.error.kind == "bad_request"
    assert len(model.calls) == 1
    assert "k" not in ex.cache
    again = await ex.execute(request(), "k")  # the error was not cached: a real call again
    assert again.ok and len(model.calls) == 2


async def test_gives_up_after_max_attempts() -> None:
    model = Scripted([ProviderError("busy", kind="rate_limit", retryable=True)] * 10)
    ex = Executor(model, policy=FAST)
    response = await ex.execute(request(), "k")
    assert response.error is not None and response.error.kind == "rate_limit"
    assert response.attempts == FAST.max_attempts == len(model.calls)
    assert ex.stats.errors_by_kind == {"rate_limit": 1}


async def test_retry_after_is_honoured() -> None:
    model = Scripted(
        [ProviderError("slow down", kind="rate_limit", retryable=True, retry_after=0.3)]
    )
    ex = Executor(model, policy=FAST)
    await ex.execute(request(), "k")
    assert model.calls[1] - model.calls[0] >= 0.29


def test_backoff_grows_exponentially_with_full_jitter() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=10.0)
    rng = random.Random(0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 10.0)]:
        delays = [policy.delay(attempt, None, rng) for _ in range(200)]
        assert max(delays) <= ceiling
        assert max(delays) > 0.7 * ceiling  # the jitter spans the whole range
    assert policy.delay(1, 5.0, rng) >= 5.0


async def test_timeouts_are_retryable_errors() -> None:
    model = Scripted([], latency=0.5)
    ex = Executor(model, policy=RetryPolicy(max_attempts=2, base_delay=0.01, timeout=0.05))
    response = await ex.execute(request(), "k")
    assert response.error is not None and response.error.kind == "timeout"
    assert len(model.calls) == 2


async def test_unexpected_exceptions_become_errors() -> None:
    class Broken(Model):
        async def generate(self, request: Request) -> Response:
            raise KeyError("choices")

    ex = Executor(Broken(ModelSpec("test", "broken")), policy=FAST)
    response = await ex.execute(request(), "k")
    assert response.error is not None and response.error.kind == "exception"
    assert "KeyError" in response.error.message


async def test_concurrency_limit_is_respected() -> None:
    model = Scripted([], latency=0.02)
    model.capabilities = Capabilities(concurrency=3)
    ex = Executor(model, policy=FAST)
    await asyncio.gather(*(ex.execute(request(str(i)), str(i)) for i in range(20)))
    assert model.max_in_flight == 3


async def test_cache_hit_makes_no_call() -> None:
    model = Scripted([])
    ex = Executor(model, policy=FAST)
    first = await ex.execute(request(), "k")
    second = await ex.execute(request(), "k")
    assert len(model.calls) == 1
    assert second.cached and not first.cached and second.text == first.text


def test_cache_key_depends_on_model_and_request_not_oracle() -> None:
    from assay.requests import Oracle

    a = cache_key({"model": "m1"}, Request(prompt="x"))
    assert a == cache_key({"model": "m1"}, Request(prompt="x", oracle=Oracle("B")))
    assert a != cache_key({"model": "m2"}, Request(prompt="x"))
    assert a != cache_key({"model": "m1"}, Request(prompt="x", temperature=0.7))


@pytest.mark.parametrize("rate", [0.0, 0.3])
async def test_flaky_mock_fails_a_stable_share(rate: float) -> None:
    from assay.models.registry import create_model

    model = create_model(f"mock/oracle?fail_rate={rate}")
    ex = Executor(model, policy=RetryPolicy(max_attempts=2, base_delay=0.001))
    responses = await asyncio.gather(*(ex.execute(request(str(i)), str(i)) for i in range(400)))
    failed = sum(not r.ok for r in responses)
    assert abs(failed / 400 - rate) < 0.08


def test_retry_after_is_capped_per_wait() -> None:
    policy = RetryPolicy(base_delay=0.01, max_retry_wait=60.0)
    rng = random.Random(0)
    assert policy.delay(1, 100_000.0, rng) == 60.0
    assert policy.delay(1, 5.0, rng) >= 5.0
    assert policy.retry_wait(-3.0) == 0.0 and policy.retry_wait(None) is None
    assert RetryPolicy(max_retry_wait=2.5).retry_wait(float("inf")) == 2.5


async def test_a_huge_retry_after_pauses_the_run_only_up_to_the_cap() -> None:
    huge = ProviderError("slow down", kind="rate_limit", retryable=True, retry_after=100_000.0)
    model = Scripted([huge])
    policy = RetryPolicy(max_attempts=3, base_delay=0.01, max_retry_wait=0.05, timeout=5)
    ex = Executor(model, policy=policy)
    # uncapped, this would wait 100,000 s (the bound only stops a broken test from hanging)
    response = await asyncio.wait_for(ex.execute(request(), "k"), 60)
    assert response.ok and response.attempts == 2
    # the whole run's pause (the limiter's) was capped too, not only this request's wait
    assert ex.limit._resume_at - time.monotonic() <= policy.max_retry_wait


class Probed(Model):
    """A model whose start-up check fails with the scripted errors, then passes."""

    def __init__(self, failures: list[Exception]) -> None:
        super().__init__(ModelSpec("test", "probed"))
        self.failures = list(failures)
        self.checks = 0

    async def check(self) -> None:
        self.checks += 1
        if self.failures:
            raise self.failures.pop(0)

    async def generate(self, request: Request) -> Response:
        return Response(text="ok")


async def test_probe_retries_a_server_that_is_not_up_yet() -> None:
    model = Probed([Unreachable("cannot reach it")] * 2)
    await probe(model, FAST)
    assert model.checks == 3


async def test_probe_gives_up_with_the_one_line_error() -> None:
    model = Probed([Unreachable("cannot reach http://x: is the server running?")] * 10)
    with pytest.raises(UserError, match="is the server running"):
        await probe(model, FAST)
    assert model.checks == FAST.max_attempts


async def test_probe_retries_a_busy_server_then_lets_requests_retry() -> None:
    busy = ProviderError("HTTP 503", kind="server", retryable=True, status=503)
    model = Probed([busy] * 10)
    await probe(model, FAST)  # no error: the run starts and its requests retry on their own
    assert model.checks == FAST.max_attempts


async def test_probe_does_not_retry_what_the_user_must_fix() -> None:
    model = Probed([UserError("the API refused the key")] * 3)
    with pytest.raises(UserError, match="refused the key"):
        await probe(model, FAST)
    assert model.checks == 1
