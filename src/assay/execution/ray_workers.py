"""What runs inside the Ray cluster: model workers and the cluster-wide concurrency limits.

A `ModelWorker` is a Ray actor (one worker process). It builds each model it is asked for once,
from the model string the user gave, and keeps it for the life of the process, so a local model
(`llamacpp/`, `hf/`) loads once per worker however many shards it answers. A shard is a list of
requests; the worker answers them through an ordinary `Executor` (timeouts, retries, a provider
error becoming a `Response` with an error) and streams the answers back in small batches as they
complete. The worker writes nothing: the driver records every sample.

A `LimitActor` is a named actor holding one `AdaptiveLimit` for the whole cluster. Every worker
calling a model of the same provider endpoint acquires its slots there, so the provider sees at
most the limit's requests in flight however many workers there are, and the limit shrinks for
all of them when the provider says it is overloaded.

These classes are plain Python; `assay.execution.ray_cluster` wraps them with `ray.remote`.
"""

from __future__ import annotations

import asyncio
import os
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
    limit: Any = None  # the LimitActor's handle for a provider shared across the cluster


@dataclass(frozen=True)
class Shard:
    recipe: ModelRecipe
    requests: list[tuple[int, str, Request]]  # (the driver's id, cache key, request)


class LimitActor:
    """One provider endpoint's adaptive concurrency limit, for every worker of the cluster."""

    def __init__(self, initial: int, maximum: int) -> None:
        self.limit = AdaptiveLimit(initial=initial, maximum=maximum)

    async def acquire(self) -> None:
        await self.limit.acquire()

    async def release(
        self, overloaded: bool = False, succeeded: bool = False, retry_after: float | None = None
    ) -> None:
        await self.limit.release(
            overloaded=overloaded, succeeded=succeeded, retry_after=retry_after
        )

    async def state(self) -> tuple[int, int]:
        """(slots in use, current limit)."""
        return self.limit.in_flight, self.limit.current


class ClusterLimit(AdaptiveLimit):
    """An executor's limit kept by a `LimitActor`: the same calls, made on the shared actor."""

    def __init__(self, actor: Any, maximum: int) -> None:
        super().__init__(initial=maximum, maximum=maximum)
        self.actor = actor

    async def acquire(self) -> None:
        await self.actor.acquire.remote()

    async def release(
        self, *, overloaded: bool = False, succeeded: bool = False, retry_after: float | None = None
    ) -> None:
        await self.actor.release.remote(overloaded, succeeded, retry_after)


class ModelWorker:
    """A Ray worker process answering shards of requests for any model of the job."""

    def __init__(self) -> None:
        self._executors: dict[tuple[str, int | None, RetryPolicy], Executor] = {}
        self._models: dict[str, Model] = {}

    async def pid(self) -> int:
        return os.getpid()

    def _executor(self, recipe: ModelRecipe) -> Executor:
        key = (recipe.source, recipe.concurrency, recipe.policy)
        executor = self._executors.get(key)
        if executor is None:
            model = self._models.get(recipe.source)
            if model is None:  # loaded once per worker process
                model = self._models[recipe.source] = create_model(recipe.source)
            executor = Executor(model, concurrency=recipe.concurrency, policy=recipe.policy)
            if recipe.limit is not None:
                executor.limit = ClusterLimit(recipe.limit, executor.limit.maximum)
            self._executors[key] = executor
        return executor

    async def answer(self, shard: Shard) -> AsyncIterator[list[tuple[int, Response]]]:
        """Answer the shard's requests, yielding (id, response) pairs as they complete.

        Requests start in the shard's order and the limit serves them first come first served,
        so a backend reusing the previous prompt's KV cache gets them in the driver's order.
        """
        executor = self._executor(shard.recipe)

        async def one(ident: int, key: str, request: Request) -> tuple[int, Response]:
            response = await executor.execute(request, key)
            executor.cache.discard(key)  # the driver caches and stores; nothing is kept here
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
