"""An adaptive concurrency limit (AIMD), shared by all requests to one model.

It starts at the provider's default, grows by about one slot per window of successful requests,
and halves when the provider says it is overloaded (429, 503, 529), at most once per
`cooldown` seconds so a burst of rejections from one overload counts once. A Retry-After also
pauses new requests until it has passed, so the whole run backs off, not just the one request.
With `maximum == initial` it is a plain fixed limit.

Waiters are served first come, first served: requests keep the order they were sent in, which
keeps the options of one question together for backends that reuse a prompt's cache.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assay.models.base import Model


@dataclass
class AdaptiveLimit:
    initial: int
    maximum: int
    minimum: int = 1
    cooldown: float = 1.0
    limit: float = field(init=False)
    in_flight: int = field(default=0, init=False)
    changes: list[tuple[float, int]] = field(default_factory=list, init=False)
    _resume_at: float = field(default=0.0, init=False)
    _last_cut: float = field(default=-1e9, init=False)
    _waiters: deque[asyncio.Future[None]] = field(default_factory=deque, init=False)
    _timer: asyncio.TimerHandle | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.initial = max(self.minimum, self.initial)
        self.maximum = max(self.initial, self.maximum)
        self.limit = float(self.initial)
        self.changes.append((time.monotonic(), self.initial))

    def narrow(self, initial: int, maximum: int) -> None:
        """Lower the start and the ceiling to these if they are smaller (a limit being shared by
        one more model, before its requests start)."""
        self.initial = max(self.minimum, min(self.initial, initial))
        self.maximum = max(self.initial, min(self.maximum, maximum))
        self.limit = min(self.limit, float(self.initial))
        if self.changes[-1][1] != self.current:
            self.changes.append((time.monotonic(), self.current))

    @property
    def adaptive(self) -> bool:
        return self.maximum > self.initial

    @property
    def current(self) -> int:
        return int(self.limit)

    def _free(self) -> bool:
        return self.in_flight < self.current and time.monotonic() >= self._resume_at

    async def acquire(self) -> None:
        if not self._waiters and self._free():
            self.in_flight += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._wake()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.in_flight -= 1  # the slot was handed over as we were cancelled
                self._wake()
            elif waiter in self._waiters:  # `_wake` may already have dropped it as done
                self._waiters.remove(waiter)
            raise

    def try_acquire(self) -> bool:
        """Take a slot if one is free and nobody is waiting; never waits."""
        if self._waiters or not self._free():
            return False
        self.in_flight += 1
        return True

    def note_successes(self, count: int) -> None:
        """Grow as `count` successful releases would: calls made on slots leased elsewhere."""
        before = self.current
        for _ in range(count):
            if not (self.adaptive and self.limit < self.maximum):
                break
            self.limit = min(float(self.maximum), self.limit + 1 / self.limit)
        if self.current != before:
            self.changes.append((time.monotonic(), self.current))
            self._wake()

    def _wake(self) -> None:
        """Hand free slots to waiters in arrival order; schedule a wake-up after a pause."""
        while self._waiters and self._free():
            waiter = self._waiters.popleft()
            if waiter.done():
                continue
            self.in_flight += 1
            waiter.set_result(None)
        pause = self._resume_at - time.monotonic()
        if self._waiters and pause > 0 and self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(pause, self._after_pause)

    def _after_pause(self) -> None:
        self._timer = None
        self._wake()

    async def release(
        self, *, overloaded: bool = False, succeeded: bool = False, retry_after: float | None = None
    ) -> None:
        self.in_flight -= 1
        now = time.monotonic()
        if retry_after:
            self._resume_at = max(self._resume_at, now + retry_after)
        before = self.current
        if overloaded and self.adaptive and now - self._last_cut >= self.cooldown:
            self.limit = max(float(self.minimum), self.limit / 2)
            self._last_cut = now
        elif succeeded and self.adaptive and self.limit < self.maximum:
            self.limit = min(float(self.maximum), self.limit + 1 / self.limit)
        if self.current != before:
            self.changes.append((now, self.current))
        self._wake()


class ConcurrencyLimits:
    """One `AdaptiveLimit` per concurrency scope (`Model.concurrency_scope`), for every run of an
    invocation: an API provider's models share the provider's limit, so a suite of several of
    its models backs off together when the provider says it is overloaded; a local model has
    its own. `concurrency` (the `--concurrency` option) fixes every limit at that value.

    Models sharing a scope may declare different limits (`?concurrency=`): the shared limit
    takes the smallest start and the smallest ceiling among them, the conservative reading of
    one account's rate limit.
    """

    def __init__(self, concurrency: int | None = None) -> None:
        self.concurrency = concurrency
        self._limits: dict[str, AdaptiveLimit] = {}

    def for_model(self, model: Model) -> AdaptiveLimit:
        caps = model.capabilities
        initial = self.concurrency or caps.concurrency
        ceiling = self.concurrency or caps.max_concurrency or caps.concurrency
        scope = model.concurrency_scope()
        limit = self._limits.get(scope)
        if limit is None:
            limit = self._limits[scope] = AdaptiveLimit(initial=initial, maximum=ceiling)
        else:
            limit.narrow(initial, ceiling)
        return limit
