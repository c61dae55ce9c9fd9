"""The executor's response cache: prefetched from the store, looked up, written, and shared by
identical requests in flight.

Keys are `cache_key`s (model identity + canonical request), so two samples, or two runs of one
model, that send the same request get one model call. The first caller makes the call; a caller
arriving while it is in flight waits for it and gets the same answer marked `cached=True` (it
cost no call, and the run writes the cache row only for the uncached one). Both callers still
get a full `Response`, so each sample's request row is stored complete. An error is shared too
(it is never cached, so a later run retries it); if the caller making the call is cancelled, a
waiter makes the call itself.

Entries live from prefetch or a successful call until the run records the sample (`discard`),
so memory holds only the requests in flight, never a whole run's responses.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from assay.requests import Response
from assay.store.db import Store
from assay.store.writes import cached_responses


class ResponseCache:
    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Any]] = {}
        self._in_flight: dict[str, asyncio.Future[Response]] = {}

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> dict[str, Any] | None:
        """A cached response's payload, or None."""
        return self._entries.get(key)

    def put(self, key: str, payload: dict[str, Any]) -> None:
        self._entries[key] = payload

    def discard(self, key: str) -> None:
        """Forget `key` once its sample is recorded (the store keeps it from then on)."""
        self._entries.pop(key, None)

    def prefetch(self, store: Store, keys: Iterable[str]) -> None:
        """Load the stored responses for `keys` not already held, in a few queries."""
        wanted = [k for k in dict.fromkeys(keys) if k not in self._entries]
        if wanted:
            self._entries.update(cached_responses(store, wanted))

    async def fetch(self, key: str, call: Callable[[], Awaitable[Response]]) -> Response:
        """The cached response for `key`, the answer of the identical call in flight, or the
        answer of `call()` (made once, by the first caller)."""
        while True:
            payload = self._entries.get(key)
            if payload is not None:
                return Response.from_payload(payload, cached=True)
            running = self._in_flight.get(key)
            if running is None:
                break
            try:
                shared = await asyncio.shield(running)
            except asyncio.CancelledError:
                if not running.cancelled():
                    raise  # this caller was cancelled, not the call
                continue  # the caller making the call was cancelled: make it ourselves
            if shared.ok:
                return Response.from_payload(shared.payload(), cached=True)
            return dataclasses.replace(shared, cached=True)
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            response = await call()
        except BaseException:
            future.cancel()
            raise
        else:
            if response.ok:
                self._entries[key] = response.payload()
            future.set_result(response)
            return response
        finally:
            del self._in_flight[key]
