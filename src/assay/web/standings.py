"""Win-rate intervals and rank intervals for the leaderboard page, computed off the request path.

`assay.analysis.leaderboard.leaderboard_from_store` bootstraps every per-sample score of a suite:
seconds on a large store, too slow for a page. The page shows the runs' stored summaries at once
and this cache computes the full leaderboard on a background thread, keyed by the suite's latest
runs, so the next load shows the intervals (and a new or finished run triggers a fresh one).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from assay.analysis.leaderboard import Leaderboard, leaderboard_from_store
from assay.store.db import Store

log = logging.getLogger(__name__)
Key = tuple[tuple[str, str, float | None], ...]


class StandingsCache:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._boards: dict[str, tuple[Key, Leaderboard]] = {}
        self._busy: set[tuple[str, Key]] = set()
        self._failed: set[tuple[str, Key]] = set()

    def get(self, suite: str, runs: list[dict[str, Any]]) -> Leaderboard | None:
        """The full leaderboard if it is computed for exactly these runs, else None (and start
        computing it)."""
        key: Key = tuple(sorted((r["id"], r["status"], r.get("finished_at")) for r in runs))
        with self._lock:
            found = self._boards.get(suite)
            if found is not None and found[0] == key:
                return found[1]
            if not runs or (suite, key) in self._busy or (suite, key) in self._failed:
                return None
            self._busy.add((suite, key))
        threading.Thread(target=self._compute, args=(suite, key), daemon=True).start()
        return None

    def _compute(self, suite: str, key: Key) -> None:
        try:
            board = leaderboard_from_store(self.store, suite)
        except Exception:  # the page keeps showing the summaries; say why in the log
            log.exception("could not compute win-rate intervals for suite %r", suite)
            with self._lock:
                self._failed.add((suite, key))
                self._busy.discard((suite, key))
            return
        with self._lock:
            self._boards[suite] = (key, board)
            self._busy.discard((suite, key))

    def wait(self, timeout: float = 30.0) -> None:
        """Block until no computation is running (tests and screenshots use this)."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._busy:
                    return
            time.sleep(0.02)
