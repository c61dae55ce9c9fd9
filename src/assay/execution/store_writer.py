"""Writing finished samples on a thread of their own, so the event loop never waits on the
database.

A store write blocks the thread that makes it for milliseconds (SQLite's commit writes every
changed page to its log; PostgreSQL waits on the network), and a model call that ends while the
event loop is blocked waits too. With thousands of calls a second across a suite's runs, those
waits made a suite of API models about a third slower than its calls alone. The database
driver does that work without holding Python's lock, so on one thread beside the loop it runs
in parallel with the calls. One thread for every run of an invocation: writes keep their order
and never contend with each other for the database's write lock.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any


class StoreWriter:
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")

    def submit(self, write: Callable[..., None], *args: Any) -> asyncio.Future[None]:
        """Run `write(*args)` after the writes submitted before it; its outcome, to await."""
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._pool, functools.partial(write, *args))

    def close(self) -> None:
        """Wait for the writes submitted, then stop the thread."""
        self._pool.shutdown(wait=True)
