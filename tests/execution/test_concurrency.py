from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from assay.errors import ProviderError
from assay.execution.concurrency import AdaptiveLimit, ConcurrencyLimits
from assay.execution.executor import Executor
from assay.execution.retry import RetryPolicy
from assay.models.base import Capabilities, Model, ModelSpec
from assay.requests import Request, Response


async def test_grows_on_success_and_halves_once_per_overload() -> None:
    limit = AdaptiveLimit(initial=4, maximum=16, cooldown=10.0)
    for _ in range(40):
        await limit.acquire()
        await limit.release(succeeded=True)
    grown = limit.current
    assert 8 <= grown <= 16
    for _ in range(5):  # a burst of rejections from one overload
        await limit.acquire()
        await limit.release(overloaded=True)
    assert limit.current == grown // 2 or limit.current == max(1, int(grown / 2))
    assert next(c for _, c in limit.changes) == 4


async def test_fixed_limit_never_moves() -> None:
    limit = AdaptiveLimit(initial=3, maximum=3)
    for _ in range(20):
        await limit.acquire()
        await limit.release(succeeded=True)
    await limit.acquire()
    await limit.release(overloaded=True)
    assert limit.current == 3 and len(limit.changes) == 1


async def test_retry_after_pauses_new_requests() -> None:
    limit = AdaptiveLimit(initial=2, maximum=2)
    await limit.acquire()
    await limit.release(overloaded=True, retry_after=0.2)
    started = time.monotonic()
    await limit.acquire()
    assert time.monotonic() - started >= 0.19


class Server(Model):
    """Accepts `capacity` requests at once and answers 429 beyond that."""

    def __init__(self, capacity: int) -> None:
        super().__init__(ModelSpec("test", "server"))
        self.capabilities = Capabilities(concurrency=4, max_concurrency=64)
        self.capacity = capacity
        self.in_flight = 0
        self.peak = 0
        self.rejected = 0

    async def generate(self, request: Request) -> Response:
        if self.in_flight >= self.capacity:
            self.rejected += 1
            raise ProviderError("slow down", kind="rate_limit", retryable=True, status=429)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0.005)
            return Response(text="ok")
        finally:
            self.in_flight -= 1


async def test_executor_finds_the_servers_capacity() -> None:
    server = Server(capacity=12)
    ex = Executor(server, policy=RetryPolicy(max_attempts=20, base_delay=0.002, max_delay=0.02))
    ex.limit.cooldown = 0.02
    responses = await asyncio.gather(
        *(ex.execute(Request(prompt=str(i)), str(i)) for i in range(1500))
    )
    assert all(r.ok for r in responses)  # every request got through, with retries
    history = [c for _, c in ex.limit.changes]
    assert max(history) > 12  # it grew past the capacity while requests succeeded...
    assert server.rejected > 0  # ...was told so...
    assert any(b < a for a, b in itertools.pairwise(history))  # ...and cut back
    assert server.peak == 12
    assert ex.stats.retries == server.rejected


async def test_waiters_are_served_in_arrival_order() -> None:
    limit = AdaptiveLimit(initial=1, maximum=1)
    order: list[int] = []

    async def job(i: int) -> None:
        await limit.acquire()
        order.append(i)
        await asyncio.sleep(0.001)
        await limit.release(succeeded=True)

    await asyncio.gather(*(job(i) for i in range(30)))
    assert order == list(range(30))
    assert limit.in_flight == 0


async def test_cancelled_waiter_gives_its_slot_back() -> None:
    limit = AdaptiveLimit(initial=1, maximum=1)
    await limit.acquire()
    waiting = asyncio.ensure_future(limit.acquire())
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    await limit.release(succeeded=True)
    await asyncio.wait_for(limit.acquire(), 1.0)  # the slot is free again
    assert limit.in_flight == 1


def test_remote_providers_adapt_their_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every network provider starts moderate and may grow: none is pinned unless asked."""
    from assay.models.registry import create_model

    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.setenv(name, "test-key")
    specs = ["openai/gpt-x", "openai-compatible/m@http://127.0.0.1:9/v1"]
    for module, spec in (
        ("anthropic", "anthropic/claude-x"),
        ("google.genai", "google/gemini-x"),
        ("ollama", "ollama/llama3"),
    ):
        try:
            __import__(module)
        except ImportError:
            continue
        specs.append(spec)
    for spec in specs:
        caps = create_model(spec).capabilities
        assert caps.max_concurrency is not None and caps.max_concurrency > caps.concurrency, spec
        pinned = Executor(create_model(spec), concurrency=3)
        assert not pinned.limit.adaptive and pinned.limit.current == 3


async def test_a_waiter_cancelled_after_its_future_was_dropped_unwinds_cleanly() -> None:
    # The path a run takes when it stops (the database went away, Ctrl-C) with requests
    # queued: a waiter's task is cancelled, and before it resumes a release hands slots out
    # and drops the cancelled future from the queue. The task must see CancelledError only.
    limit = AdaptiveLimit(initial=1, maximum=1)
    await limit.acquire()
    waiting = asyncio.ensure_future(limit.acquire())
    queued = asyncio.ensure_future(limit.acquire())
    await asyncio.sleep(0)  # both are queued now
    waiting.cancel()
    await limit.release(succeeded=True)  # drops the cancelled future, hands the slot on
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await queued
    assert limit.in_flight == 1 and not limit._waiters
    await limit.release(succeeded=True)
    assert limit.in_flight == 0


def test_api_models_share_their_providers_limit_local_models_keep_their_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Per provider (endpoint and key variable) for API models, per model for local ones; the
    shared limit takes the tightest settings among its models; --concurrency fixes them all."""
    from assay.models.registry import create_model

    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("OTHER_KEY", "test-key-2")
    limits = ConcurrencyLimits()

    def limit(spec: str) -> AdaptiveLimit:
        return Executor(create_model(spec), limits=limits).limit

    gpt4 = limit("openai/gpt-4o")
    assert limit("openai/gpt-4o-mini") is gpt4
    assert limit("openai/gpt-4o@http://127.0.0.1:9/v1") is not gpt4  # another endpoint
    assert limit("openai/gpt-4o?api_key_env=OTHER_KEY") is not gpt4  # another account
    server = limit("openai-compatible/a@http://127.0.0.1:9/v1")
    assert limit("openai-compatible/b@http://127.0.0.1:9/v1") is server  # one server
    assert limit("openai-compatible/a@http://127.0.0.1:10/v1") is not server
    oracle = limit("mock/oracle")
    assert limit("mock/random") is not oracle and limit("mock/oracle") is oracle
    # a model of the same provider asking for less narrows the shared limit for all
    before = (gpt4.initial, gpt4.maximum)
    assert limit("openai/gpt-4o-mini?concurrency=4&max_concurrency=6") is gpt4
    assert (gpt4.initial, gpt4.maximum, gpt4.current) == (4, 6, 4) and before == (32, 256)
    # an overload seen through one model slows the provider's other models too
    gpt4.limit = 6.0
    asyncio.run(_overload(gpt4))
    assert limit("openai/gpt-4o").current == 3
    fixed = ConcurrencyLimits(5)
    assert fixed.for_model(create_model("openai/gpt-4o")).maximum == 5
    assert not fixed.for_model(create_model("openai/gpt-4o")).adaptive


async def _overload(limit: AdaptiveLimit) -> None:
    await limit.acquire()
    await limit.release(overloaded=True)
