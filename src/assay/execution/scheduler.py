"""All runs of one `assay run` at once, in one event loop.

Each model has one `Executor` (its cache and adaptive concurrency limit), shared by all of that
model's runs, so the limit holds across runs: a model allowing one request at a time gets one at
a time, however many of its runs are active, while runs of other models proceed beside it. The
limit serves waiting requests first come first served and each run keeps a bounded window in
flight, so the runs of one model progress at the same pace.

A model whose backend reuses the previous prompt's KV cache (`prefix_cache`: llama.cpp, local
transformers) runs its runs one after another: it gains nothing from interleaving (one slot),
and interleaving benchmarks would break the prompt order that keeps shared prefixes adjacent.

A run that fails with a `UserError` cancels the others; each cancelled run is marked
`interrupted` by its runner (finished samples kept, so the same command resumes it) and the
error is raised once all have stopped. A run waiting on a provider batch (`BatchPending`) is not
a failure: it is reported and the others go on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assay.execution.runner import FLUSH_SECONDS, Runner, RunResult
from assay.execution.store_writer import StoreWriter
from assay.models.batch import BatchPending

WRITES_PER_SECOND = 4


@dataclass
class Outcome:
    """One planned run's end: its result, or the batch it is still waiting on."""

    runner: Runner
    result: RunResult | None = None
    pending: BatchPending | None = None


async def run_all(
    runners: Sequence[Runner],
    *,
    on_pending: Callable[[Runner, BatchPending], None] | None = None,
    sequential: bool = False,
) -> list[Outcome]:
    """Run every runner concurrently; outcomes come back in the order given.

    `sequential`: one run at a time, in order (the old behaviour; a baseline for bench/suite.py).
    """
    outcomes = [Outcome(r) for r in runners]
    lanes = [outcomes] if sequential else _lanes(outcomes)
    # Every run writes its finished samples at least once a second; 50 runs at once made 50
    # transactions a second, each blocking the event loop (and so every request's timing) for
    # milliseconds. With many lanes, each writes less often: about WRITES_PER_SECOND in all.
    spacing = FLUSH_SECONDS * max(1.0, len(lanes) / WRITES_PER_SECOND)
    writer = StoreWriter()
    for runner in runners:
        runner.flush_seconds = spacing
        runner.writer = writer

    async def lane(members: list[Outcome], after: Runner | None) -> None:
        if after is not None:
            await after.sending.wait()
            # then one turn of the loop, so that run's first calls (tasks it has just made) go
            # out before this run's setup holds the loop: a lane reaching an event already set
            # would not have waited at all
            await asyncio.sleep(0)
        for outcome in members:
            try:
                outcome.result = await outcome.runner.run()
            except BatchPending as pending:
                outcome.pending = pending
                if on_pending is not None:
                    on_pending(outcome.runner, pending)
            finally:
                if _last_of_task(outcome, outcomes):
                    outcome.runner.fingerprints.release(outcome.runner.task, outcome.runner.data)

    # Each lane starts once the one before it has requests under way: a run's setup (its
    # samples' prompts and cache keys, its first store reads) blocks the event loop, and 50
    # setups back to back held every model idle for a second before its first call.
    firsts = [None, *(members[0].runner for members in lanes[:-1])]
    tasks = [
        asyncio.ensure_future(lane(members, after))
        for members, after in zip(lanes, firsts, strict=True)
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            error = task.exception()
            if error is not None:
                raise error
    finally:
        for task in tasks:
            task.cancel()
        # every runner's own `finally` marks its run before we return
        await asyncio.gather(*tasks, return_exceptions=True)
        writer.close()
    return outcomes


def _lanes(outcomes: list[Outcome]) -> list[list[Outcome]]:
    """One lane per run, in order. A prefix-caching model's runs share one lane; so do two
    planned runs with one id (one benchmark named twice): the second resumes the first."""
    lanes: dict[tuple[str, object], list[Outcome]] = {}
    for outcome in outcomes:
        runner = outcome.runner
        key: tuple[str, object] = (
            ("model", id(runner.model))
            if runner.model.capabilities.prefix_cache
            else ("run", runner.run_id)
        )
        lanes.setdefault(key, []).append(outcome)
    # round-robin over models (each model's first run, then each one's second, ...): with
    # staggered starts, every model has requests under way after as many setups as models
    turn: dict[int, int] = {}
    order: list[tuple[int, int, list[Outcome]]] = []
    for members in lanes.values():
        model = id(members[0].runner.model)
        turn[model] = turn.get(model, 0) + 1
        order.append((turn[model], len(order), members))
    return [members for _, _, members in sorted(order, key=lambda o: o[:2])]


def _last_of_task(outcome: Outcome, outcomes: list[Outcome]) -> bool:
    """Whether every run of this outcome's task is over (so its kept samples can go)."""
    task = outcome.runner.task
    return all(
        o is outcome or o.result is not None or o.pending is not None
        for o in outcomes
        if o.runner.task is task
    )
