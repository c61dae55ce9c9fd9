"""What runs inside the Ray cluster: model workers and the cluster-wide concurrency limits.

A `ModelWorker` is a Ray actor (one worker process). It builds each model it is asked for once,
from the model string the user gave, and keeps it for the life of the process, so a local model
(`llamacpp/`, `hf/`) loads once per worker however many shards it answers. A shard is a list of
requests; the worker answers them through an ordinary `Executor` (timeouts, retries, a provider
error becoming a `Response` with an error) and streams the answers back in small batches as they
complete. The worker writes nothing: the driver records every sample.

The `LimitActor` is a named actor holding one `AdaptiveLimit` per provider endpoint for the
whole cluster (`SharedLimit`). Every worker calling a model of the same provider endpoint leases
its slots there (`LeasedLimit`), so the
provider sees at most the limit's requests in flight however many workers there are, and the
limit shrinks for all of them when the provider says it is overloaded.

These classes are plain Python; `assay.execution.ray_cluster` wraps them with `ray.remote`.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from assay.execution.concurrency import AdaptiveLimit
from assay.execution.executor import Executor
from assay.execution.retry import RetryPolicy
from assay.models.base import Model
from assay.models.registry import create_model
from assay.requests import Request, Response

# Answers gathered into one streamed item at most; a busy shard sends fewer, larger items.
STREAM_BATCH = 64


@dataclass(frozen=True)
class ModelRecipe:
    """How a worker builds and calls one model: what the driver's executor was built from."""

    source: str  # the model string as the user wrote it (create_model's argument)
    concurrency: int | None
    policy: RetryPolicy
    limit: Any = None  # the LimitActor, for a model whose provider's limit is cluster-wide
    limit_name: str | None = None  # the limit's name there (one LeasedLimit per worker each)


@dataclass(frozen=True)
class Shard:
    recipe: ModelRecipe
    requests: list[tuple[int, Request]]  # (the driver's id for it, the request)


class SharedLimit:
    """One provider endpoint's adaptive concurrency limit, for every worker of the cluster.

    Workers lease slots (`lease`), keep them for their own requests while they have any, and
    give back what they do not need (`give_back`), so a busy worker costs a call now and then,
    not two per request. Each worker wanting slots is entitled to an equal share of the limit;
    a worker holding more than its share learns it when it checks in (`renew`) and gives the
    surplus back as its calls end. Slots are held per worker incarnation: when a restarted
    worker leases under a new incarnation, the slots its dead predecessor held come back.
    """

    def __init__(self, initial: int, maximum: int) -> None:
        self.limit = AdaptiveLimit(initial=initial, maximum=maximum)
        self.holders: dict[str, tuple[str, int]] = {}  # worker -> (incarnation, slots held)
        self.wanting: dict[str, int] = {}  # worker -> requests it has waiting
        self.calls: Counter[str] = Counter()  # what workers asked, for bench/scale.py

    def _share(self) -> int:
        active = {h for h, (_, held) in self.holders.items() if held} | {
            h for h, want in self.wanting.items() if want
        }
        return max(1, -(-self.limit.current // max(1, len(active))))

    async def lease(self, holder: str, incarnation: str, want: int) -> tuple[int, int]:
        """Wait for one slot (first come, first served), then take free ones up to `want` and
        the worker's share. Returns (slots granted, the worker's share)."""
        self.calls["lease"] += 1
        await self._forget_dead(holder, incarnation)
        self.wanting[holder] = want
        try:
            await self.limit.acquire()
        finally:
            self.wanting[holder] = 0
        _, held = self.holders.get(holder, (incarnation, 0))
        granted = 1
        while granted < want and held + granted < self._share() and self.limit.try_acquire():
            granted += 1
        self.holders[holder] = (incarnation, held + granted)
        return granted, self._share()

    async def renew(self, holder: str, incarnation: str, want: int, successes: int) -> int:
        """A worker's check-in: what it still wants, calls that succeeded; returns its share."""
        self.calls["renew"] += 1
        if self.holders.get(holder, (incarnation, 0))[0] == incarnation:
            self.wanting[holder] = want
            self.limit.note_successes(successes)
        return self._share()

    async def give_back(
        self,
        holder: str,
        incarnation: str,
        slots: int,
        successes: int,
        overloaded: bool = False,
        retry_after: float | None = None,
    ) -> int:
        """Return `slots`; `successes` calls succeeded (they grow the limit), and an overload or
        a Retry-After seen on the first cuts or pauses it. Returns the worker's share."""
        self.calls["give_back"] += 1
        current, held = self.holders.get(holder, ("", 0))
        if current != incarnation:
            return self._share()  # a dead incarnation's slots were already taken back
        self.holders[holder] = (incarnation, held - slots)
        for i in range(slots):
            first = i == 0
            await self.limit.release(
                overloaded=overloaded and first, retry_after=retry_after if first else None
            )
        self.limit.note_successes(successes)
        return self._share()

    async def _forget_dead(self, holder: str, incarnation: str) -> None:
        previous, held = self.holders.get(holder, (incarnation, 0))
        if previous != incarnation:
            self.holders[holder] = (incarnation, 0)
            for _ in range(held):
                await self.limit.release()

    def state(self) -> dict[str, int]:
        """Slots in use, the current limit, and how often workers called each method."""
        return {"in_flight": self.limit.in_flight, "limit": self.limit.current, **self.calls}


class LimitActor:
    """The cluster's `SharedLimit`s by name, in one named actor (one process for them all)."""

    def __init__(self) -> None:
        self.limits: dict[str, SharedLimit] = {}

    async def ensure(self, name: str, initial: int, maximum: int) -> None:
        """Make the limit `name` unless a job made it already (the first job's numbers hold)."""
        if name not in self.limits:
            self.limits[name] = SharedLimit(initial, maximum)

    async def lease(self, name: str, holder: str, incarnation: str, want: int) -> tuple[int, int]:
        return await self.limits[name].lease(holder, incarnation, want)

    async def renew(
        self, name: str, holder: str, incarnation: str, want: int, successes: int
    ) -> int:
        return await self.limits[name].renew(holder, incarnation, want, successes)

    async def give_back(
        self,
        name: str,
        holder: str,
        incarnation: str,
        slots: int,
        successes: int,
        overloaded: bool = False,
        retry_after: float | None = None,
    ) -> int:
        limit = self.limits[name]
        return await limit.give_back(holder, incarnation, slots, successes, overloaded, retry_after)

    async def state(self, name: str) -> dict[str, int]:
        return self.limits[name].state()

    async def cpu(self) -> float:
        """CPU seconds this actor's process has used."""
        return time.process_time()


class LeasedLimit(AdaptiveLimit):
    """An executor's limit whose slots are leased from a `SharedLimit` in the `LimitActor`.

    A worker leases slots for the requests it has waiting, up to its share of the limit, and
    reuses them while requests keep coming; it gives back idle slots as soon as it has nothing
    waiting, and slots above its share (which shrinks as other workers ask) as they free up. It
    checks in every `RENEW_EVERY` calls to learn its share and report its successes. An
    overloaded answer gives its slot back at once with the signal, so the whole cluster slows.
    """

    RENEW_EVERY = 32

    def __init__(self, actor: Any, name: str, maximum: int, holder: str) -> None:
        super().__init__(initial=maximum, maximum=maximum)
        self.actor = actor
        self.name = name
        self.holder = holder
        self.incarnation = f"{os.getpid()}-{uuid.uuid4().hex}"
        self.held = 0  # slots leased from the actor
        self.busy = 0  # of which in use
        self.share = maximum  # what the actor last said this worker may hold
        self.successes = 0  # successful calls not yet reported
        self.since_renew = 0
        self._queue: deque[asyncio.Future[None]] = deque()
        self._leasing: asyncio.Task[None] | None = None
        self._renewing: asyncio.Task[None] | None = None
        self._return_due = False

    def _live(self) -> int:
        return sum(1 for f in self._queue if not f.done())

    def _take(self) -> None:
        self.busy += 1
        self.since_renew += 1
        if self.since_renew >= self.RENEW_EVERY and self._renewing is None:
            self.since_renew = 0
            self._renewing = asyncio.ensure_future(self._renew())

    async def acquire(self) -> None:
        if not self._queue and self.busy < min(self.held, self.share):
            self._take()
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(waiter)
        self._hand_out()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.busy -= 1  # the slot was handed over as we were cancelled
                self._hand_out()
            raise

    async def release(
        self, *, overloaded: bool = False, succeeded: bool = False, retry_after: float | None = None
    ) -> None:
        self.busy -= 1
        self.successes += int(succeeded)
        if overloaded or retry_after:
            self.held -= 1
            self.share = await self.actor.give_back.remote(
                self.name, self.holder, self.incarnation, 1, 0, overloaded, retry_after
            )
        self._hand_out()

    def _hand_out(self) -> None:
        """Free slots to waiters in order; lease more for the rest; give back the surplus."""
        while self._queue and self.busy < min(self.held, self.share):
            waiter = self._queue.popleft()
            if waiter.done():
                continue
            self._take()
            waiter.set_result(None)
        while self._queue and self._queue[0].done():
            self._queue.popleft()
        if self._queue and self._leasing is None and self.held < self.share:
            self._leasing = asyncio.ensure_future(self._lease())
        if self.held > self.busy and not self._return_due:
            self._return_due = True
            asyncio.get_running_loop().call_soon(self._give_back_idle)

    async def _lease(self) -> None:
        try:
            while (want := self._live()) > 0 and self.held < self.share:
                granted, self.share = await self.actor.lease.remote(
                    self.name, self.holder, self.incarnation, want
                )
                self.held += granted
                self._hand_out()
        finally:
            self._leasing = None

    async def _renew(self) -> None:
        try:
            successes, self.successes = self.successes, 0
            self.share = await self.actor.renew.remote(
                self.name, self.holder, self.incarnation, self._live(), successes
            )
            self._hand_out()
        finally:
            self._renewing = None

    def _give_back_idle(self) -> None:
        self._return_due = False
        idle = self.held - self.busy
        surplus = idle if not self._live() else min(idle, self.held - self.share)
        if surplus <= 0:
            return
        self.held -= surplus
        successes, self.successes = self.successes, 0
        # not awaited: the call goes out now and runs though nothing waits for its answer
        self.actor.give_back.remote(self.name, self.holder, self.incarnation, surplus, successes)


class ModelWorker:
    """A Ray worker process answering shards of requests for any model of the job."""

    def __init__(self) -> None:
        self._executors: dict[tuple[str, int | None, RetryPolicy], Executor] = {}
        self._models: dict[str, Model] = {}
        self._limits: dict[str, LeasedLimit] = {}
        self._calls = itertools.count()

    async def pid(self) -> int:
        return os.getpid()

    async def cpu(self) -> float:
        """CPU seconds this worker process has used."""
        return time.process_time()

    @staticmethod
    def _holder() -> str:
        """This worker's name for the limit actors: its actor id, the same across restarts."""
        import ray

        return str(ray.get_runtime_context().get_actor_id())

    def _executor(self, recipe: ModelRecipe) -> Executor:
        key = (recipe.source, recipe.concurrency, recipe.policy)
        executor = self._executors.get(key)
        if executor is None:
            model = self._models.get(recipe.source)
            if model is None:  # loaded once per worker process
                model = self._models[recipe.source] = create_model(recipe.source)
            executor = Executor(model, concurrency=recipe.concurrency, policy=recipe.policy)
            if recipe.limit is not None and recipe.limit_name is not None:
                leased = self._limits.get(recipe.limit_name)
                if leased is None:  # models of one provider share the worker's leases
                    leased = self._limits[recipe.limit_name] = LeasedLimit(
                        recipe.limit, recipe.limit_name, executor.limit.maximum, self._holder()
                    )
                executor.limit = leased
            self._executors[key] = executor
        return executor

    async def answer(self, shard: Shard) -> AsyncIterator[list[tuple[int, Response]]]:
        """Answer the shard's requests, yielding (id, response) pairs as they complete.

        Requests start in the shard's order and the limit serves them first come first served,
        so a backend reusing the previous prompt's KV cache gets them in the driver's order.
        """
        executor = self._executor(shard.recipe)

        async def one(ident: int, request: Request) -> tuple[int, Response]:
            # the driver caches and merges identical requests: here each is its own call
            key = f"call-{next(self._calls)}"
            response = await executor.execute(request, key)
            executor.cache.discard(key)
            return ident, response

        pending = {asyncio.ensure_future(one(*item)) for item in shard.requests}
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                answers = [task.result() for task in done]
                for start in range(0, len(answers), STREAM_BATCH):
                    yield answers[start : start + STREAM_BATCH]
        finally:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def close(self) -> None:
        for model in self._models.values():
            await model.close()
        self._models.clear()
        self._executors.clear()
