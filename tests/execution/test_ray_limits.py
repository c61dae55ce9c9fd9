"""The cluster-wide limit's leasing, without a cluster: `LeasedLimit`s (one per worker) lease
from one `SharedLimit` through a stand-in for the actor handle that calls it in-process."""

from __future__ import annotations

import asyncio
from typing import Any

from assay.execution.ray_workers import LeasedLimit, SharedLimit


class _Method:
    def __init__(self, limit: SharedLimit, name: str) -> None:
        self.call = getattr(limit, name)

    def remote(self, _name: str, *args: Any) -> asyncio.Future[Any]:
        return asyncio.ensure_future(self.call(*args))


class _Handle:
    """What `LeasedLimit` calls on the limits actor, answered by one `SharedLimit`."""

    def __init__(self, limit: SharedLimit) -> None:
        self.lease = _Method(limit, "lease")
        self.renew = _Method(limit, "renew")
        self.give_back = _Method(limit, "give_back")


class _Load:
    """Counts calls in flight across workers."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        self.by_worker: dict[str, int] = {}

    async def call(self, worker: LeasedLimit, seconds: float, **outcome: Any) -> None:
        await worker.acquire()
        self.now += 1
        self.most = max(self.most, self.now)
        self.by_worker[worker.holder] = self.by_worker.get(worker.holder, 0) + 1
        try:
            await asyncio.sleep(seconds)
        finally:
            self.now -= 1
            await worker.release(**outcome)


async def test_workers_never_exceed_the_shared_limit_and_each_gets_a_share() -> None:
    shared = SharedLimit(initial=5, maximum=5)
    handle = _Handle(shared)
    workers = [LeasedLimit(handle, "p", 5, holder=f"w{i}") for i in range(3)]
    load = _Load()
    calls = [load.call(w, 0.002, succeeded=True) for _ in range(120) for w in workers]
    await asyncio.wait_for(asyncio.gather(*calls), 30)
    assert load.most <= 5
    assert load.by_worker == {"w0": 120, "w1": 120, "w2": 120}
    await asyncio.sleep(0.01)  # the last give-backs land
    state = shared.state()
    assert state["in_flight"] == 0
    # leased in batches: far fewer calls to the actor than two per request
    assert state["lease"] + state["renew"] + state["give_back"] < 360


async def test_a_worker_holding_all_slots_gives_some_back_when_another_asks() -> None:
    shared = SharedLimit(initial=4, maximum=4)
    handle = _Handle(shared)
    first, second = (LeasedLimit(handle, "p", 4, holder=h) for h in ("a", "b"))
    load = _Load()
    busy = [asyncio.ensure_future(load.call(first, 0.001)) for _ in range(400)]
    await asyncio.sleep(0.02)
    assert first.held == 4  # alone, it leased the whole limit
    late = [asyncio.ensure_future(load.call(second, 0.001)) for _ in range(20)]
    await asyncio.wait_for(asyncio.gather(*late), 10)  # served long before `first` is done
    assert not all(task.done() for task in busy)
    await asyncio.wait_for(asyncio.gather(*busy), 30)
    assert load.most <= 4


async def test_a_dead_workers_slots_come_back_when_it_restarts() -> None:
    shared = SharedLimit(initial=2, maximum=2)
    handle = _Handle(shared)
    dying = LeasedLimit(handle, "p", 2, holder="w")
    await dying.acquire()
    await dying.acquire()  # holds both slots, then its process dies without giving them back
    restarted = LeasedLimit(handle, "p", 2, holder="w")  # the same actor, a new incarnation
    await asyncio.wait_for(restarted.acquire(), 5)
    await asyncio.wait_for(restarted.acquire(), 5)
    assert shared.state()["in_flight"] == 2


async def test_an_overloaded_answer_cuts_the_limit_for_every_worker() -> None:
    shared = SharedLimit(initial=8, maximum=16)
    handle = _Handle(shared)
    worker = LeasedLimit(handle, "p", 16, holder="w")
    await worker.acquire()
    await worker.release(overloaded=True)
    assert shared.state()["limit"] == 4
