"""An adaptive concurrency limit (AIMD), shared by all requests to one model.

It starts at the provider's default, grows by about one slot per window of successful requests,
and halves when the provider says it is overloaded (429, 503, 529), at most once per
`cooldown` seconds so a burst of rejections from one overload counts once. A Retry-After also
pauses new requests until it has passed, so the whole run backs off, not just the one request.
With `maximum == initial` it is a plain fixed limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field


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
    _cond: asyncio.Condition | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.initial = max(self.minimum, self.initial)
        self.maximum = max(self.initial, self.maximum)
        self.limit = float(self.initial)
        self.changes.append((time.monotonic(), self.initial))

    @property
    def adaptive(self) -> bool:
        return self.maximum > self.initial

    @property
    def current(self) -> int:
        return int(self.limit)

    def _condition(self) -> asyncio.Condition:
        if self._cond is None:
            self._cond = asyncio.Condition()
        return self._cond

    async def acquire(self) -> None:
        cond = self._condition()
        async with cond:
            while True:
                wait = self._resume_at - time.monotonic()
                if wait <= 0 and self.in_flight < self.current:
                    break
                if wait > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(cond.wait(), timeout=wait)
                else:
                    await cond.wait()
            self.in_flight += 1

    async def release(
        self, *, overloaded: bool = False, succeeded: bool = False, retry_after: float | None = None
    ) -> None:
        cond = self._condition()
        async with cond:
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
            cond.notify_all()
