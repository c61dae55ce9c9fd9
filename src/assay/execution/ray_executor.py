"""An `Executor` whose model calls are made by Ray workers; the driver keeps everything else.

The runner and the scheduler are the local ones, unchanged, and so is everything of the
`Executor` but the model call itself: the runner builds each sample's requests, the executor
looks them up in its response cache (prefetched from the store; identical requests in flight
merged into one call), and the runner records every answered sample through its own recording
path, in the driver, which alone writes the store. Resume, deduplication and the handling of
failed requests are therefore the local scheduler's.

What is not in the cache goes to the cluster: requests submitted within a moment of each other
are grouped into shards of at most `SHARD_SIZE`, each sent to the least busy worker as one
streaming Ray task; the worker answers them (retries and timeouts there) and streams the
answers back as they complete, and each answer resolves its request's future here. A run's
window of samples in flight is sized for the whole cluster, so a large run is split into many
shards spread over the workers.

When a worker dies mid-shard (killed, out of memory, its node lost), the answers already
streamed stand and only the shard's unanswered requests are sent again, to a worker Ray has
restarted or another one: nothing is lost and nothing is answered twice. After
`SHARD_ATTEMPTS` lost workers the requests are recorded as `worker` errors, which are never
scored and are redone when the same command is run again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import ray
from ray.exceptions import RayError, RayTaskError

from assay.errors import UserError
from assay.execution.executor import Executor
from assay.execution.ray_workers import ModelRecipe, Shard
from assay.execution.retry import RetryPolicy
from assay.models.base import Model
from assay.requests import ErrorInfo, Request, Response

SHARD_SIZE = 64
# How long a request waits for others to share its shard (requests a run submits together
# arrive within one turn of the event loop).
LINGER_S = 0.002
SHARD_ATTEMPTS = 3


@dataclass
class Worker:
    handle: Any  # the ModelWorker actor
    index: int
    shards: int = 0  # shards in flight
    lost: int = 0  # times it died under a shard


class WorkerPool:
    """The job's worker actors; a shard goes to the one with the fewest shards in flight."""

    def __init__(self, handles: list[Any], restarts: int) -> None:
        self.workers = [Worker(h, i) for i, h in enumerate(handles)]
        self.restarts = restarts

    def __len__(self) -> int:
        return len(self.workers)

    @contextmanager
    def lease(self) -> Iterator[Worker]:
        alive = [w for w in self.workers if w.lost <= self.restarts]
        if not alive:
            raise UserError(
                "every Ray worker of this job died more often than it may be restarted: "
                "check the workers' logs (ray logs), then run the same command again to resume"
            )
        worker = min(alive, key=lambda w: (w.shards, w.lost, w.index))
        worker.shards += 1
        try:
            yield worker
        finally:
            worker.shards -= 1


@dataclass
class _Call:
    ident: int
    request: Request
    future: asyncio.Future[Response]


class RayExecutor(Executor):
    """The local executor's cache and interface; calls made on the cluster's workers."""

    def __init__(
        self,
        model: Model,
        pool: WorkerPool,
        *,
        source: str,
        concurrency: int | None = None,
        policy: RetryPolicy | None = None,
        limit: Any = None,
        limit_name: str | None = None,
    ) -> None:
        super().__init__(model, concurrency=concurrency, policy=policy)
        self.pool = pool
        self.recipe = ModelRecipe(source, concurrency, self.policy, limit, limit_name)
        # a shared limit holds for the whole cluster; a local model's holds in each worker
        self.concurrency = self.limit.maximum * (1 if limit is not None else len(pool))
        self._ids = itertools.count()
        self._queue: list[_Call] = []
        self._flush_at: asyncio.TimerHandle | None = None
        self._shards: set[asyncio.Task[None]] = set()

    async def _call_with_retries(self, request: Request) -> Response:
        """The call a local executor makes in this process (after its cache and the identical
        calls in flight had no answer), made on a worker instead; retried there."""
        return await self._submit(request)

    def _submit(self, request: Request) -> asyncio.Future[Response]:
        loop = asyncio.get_running_loop()
        call = _Call(next(self._ids), request, loop.create_future())
        self._queue.append(call)
        if len(self._queue) >= SHARD_SIZE:
            self._flush()
        elif self._flush_at is None:
            self._flush_at = loop.call_later(LINGER_S, self._flush)
        return call.future

    def _flush(self) -> None:
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush_at = None
        calls = [c for c in self._queue if not c.future.done()]  # not given up by its caller
        self._queue = []
        for start in range(0, len(calls), SHARD_SIZE):
            task = asyncio.ensure_future(self._shard(calls[start : start + SHARD_SIZE]))
            self._shards.add(task)
            task.add_done_callback(self._shards.discard)

    async def _shard(self, calls: list[_Call]) -> None:
        waiting = {c.ident: c for c in calls}
        attempt = 0
        while waiting:
            attempt += 1
            for ident in [i for i, c in waiting.items() if c.future.done()]:
                del waiting[ident]  # its caller gave up (its run stopped): not sent again
            self.stats.calls += len(waiting)
            shard = Shard(self.recipe, [(c.ident, c.request) for c in waiting.values()])
            try:
                with self.pool.lease() as worker:
                    try:
                        await self._stream(worker, shard, waiting)
                    except RayTaskError as exc:  # the worker raised: it cannot build the model
                        cause = exc.cause if isinstance(exc.cause, Exception) else exc
                        if isinstance(cause, UserError):
                            raise UserError(str(cause)) from None
                        raise cause from None
                    except RayError as exc:  # the worker died or became unreachable
                        worker.lost += 1
                        if attempt >= SHARD_ATTEMPTS:
                            self._lost(waiting, attempt, exc)
            except Exception as exc:  # UserError: every waiting request's run stops with it
                for call in waiting.values():
                    if not call.future.done():
                        call.future.set_exception(exc)
                return

    async def _stream(self, worker: Worker, shard: Shard, waiting: dict[int, _Call]) -> None:
        stream = worker.handle.answer.options(num_returns="streaming").remote(shard)
        try:
            async for ref in stream:
                for ident, response in await ref:
                    call = waiting.pop(ident, None)
                    if call is not None and not call.future.done():
                        call.future.set_result(response)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):  # already finished, or its worker gone
                ray.cancel(stream)
            raise

    def _lost(self, waiting: dict[int, _Call], attempts: int, exc: RayError) -> None:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        error = ErrorInfo(
            "worker",
            f"the Ray worker answering it was lost {attempts} times ({reason})",
            retryable=True,
        )
        self.stats.errors += len(waiting)
        self.stats.errors_by_kind["worker"] = self.stats.errors_by_kind.get("worker", 0) + len(
            waiting
        )
        for call in waiting.values():
            if not call.future.done():
                call.future.set_result(Response(error=error, attempts=attempts))
        waiting.clear()

    async def close(self) -> None:
        """Stop streaming: shards still in flight are abandoned (their runs are over)."""
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush_at = None
        for call in self._queue:
            call.future.cancel()
        self._queue = []
        for task in list(self._shards):
            task.cancel()
        await asyncio.gather(*self._shards, return_exceptions=True)
