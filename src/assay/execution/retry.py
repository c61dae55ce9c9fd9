"""Retry timing: exponential backoff with full jitter, never sooner than Retry-After.

A provider's Retry-After is honoured up to `max_retry_wait` seconds per wait (60 by default):
a server asking for 100,000 s gets a capped wait, then the request is retried or recorded.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 60.0
    timeout: float = 600.0
    max_retry_wait: float = 60.0

    def retry_wait(self, retry_after: float | None) -> float | None:
        """The provider's Retry-After, capped at `max_retry_wait` (None when it gave none)."""
        if retry_after is None:
            return None
        return min(max(0.0, retry_after), self.max_retry_wait)

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        wait = rng.uniform(0, ceiling)
        capped = self.retry_wait(retry_after)
        if capped is not None:
            wait = max(wait, capped)
        return wait
