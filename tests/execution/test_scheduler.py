"""All runs of one invocation in one event loop: runs overlap, each model's limit holds across its
runs, shared benchmarks are read once, identical requests in flight share one call, and a failing
run stops the others cleanly."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assay.benchmarks.base import DataContext, Loaded, Task
from assay.errors import UserError
from assay.execution.concurrency import ConcurrencyLimits
from assay.execution.executor import Executor
from assay.execution.identity import Fingerprints
from assay.execution.runner import Runner
from assay.execution.scheduler import run_all
from assay.models.base import Model
from assay.models.mock import MockModel
from assay.models.registry import create_model, parse_model_spec
from assay.prompting.formats import Generate
from assay.requests import Request, Response
from assay.samples import Sample
from assay.store import schema
from assay.store.db import Store


class Recorder:
    """Wraps models' `generate` to log (model, benchmark, start, end) and count what is in
    flight, per model and in all."""

    def __init__(self) -> None:
        self.in_flight: dict[str, int] = {}
        self.most: dict[str, int] = {}
        self.total = 0
        self.most_total = 0
        self.clock = 0  # a logical clock: event order, not wall time
        self.spans: list[tuple[str, str, int, int]] = []

    def wrap(self, model: MockModel) -> MockModel:
        inner = model.generate
        label = model.label

        async def generate(request: Request) -> Response:
            self.clock += 1
            start = self.clock
            self.in_flight[label] = self.in_flight.get(label, 0) + 1
            self.most[label] = max(self.most.get(label, 0), self.in_flight[label])
            self.total += 1
            self.most_total = max(self.most_total, self.total)
            try:
                return await inner(request)
            finally:
                self.in_flight[label] -= 1
                self.total -= 1
                self.clock += 1
                prompt = request.prompt or (request.messages or [{}])[-1].get("content", "")
                self.spans.append((label, str(prompt).split(":")[0], start, self.clock))

        model.generate = generate  # type: ignore[method-assign]
        return model


def task(name: str, n: int, *, offset: int = 0) -> Task:
    """A generate benchmark whose prompts start with its name (the recorder reads it back)."""
    samples = [
        Sample(id=f"s{i}", input=f"{name}: question {i + offset}", references=["A"])
        for i in range(n)
    ]
    return Task(
        load=lambda d: Loaded(samples), prompt=Generate(), metrics=["exact_match"], name=name
    )


def mock(spec: str) -> MockModel:
    model = create_model(spec)
    assert isinstance(model, MockModel)
    return model


def plan(store: Store, models: list[Model], tasks: list[Task], **kw: Any) -> list[Runner]:
    fingerprints = kw.pop("fingerprints", Fingerprints())
    runners = []
    for model in models:
        executor = Executor(model)
        for t in tasks:
            runners.append(
                Runner(
                    store,
                    t,
                    model,
                    executor,
                    data=DataContext(),
                    fingerprints=fingerprints,
                    keep_samples=len(models) > 1,
                    **kw,
                )
            )
    return runners


def statuses(store: Store) -> dict[tuple[str, str], str]:
    r = schema.runs
    with store.connect() as conn:
        rows = conn.execute(sa.select(r.c.model, r.c.benchmark, r.c.status))
        return {(m, b): s for m, b, s in rows}


def test_runs_overlap_and_each_models_limit_holds_across_its_runs(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'overlap.db'}")
    recorder = Recorder()
    one = recorder.wrap(mock("mock/constant?text=A&latency=0.002&concurrency=1"))
    four = recorder.wrap(mock("mock/constant?text=B&latency=0.002&concurrency=4"))
    tasks = [task("alpha", 30), task("beta", 30, offset=100)]
    outcomes = asyncio.run(run_all(plan(store, [one, four], tasks)))

    # every run finished, reported in the planned order
    assert [(o.runner.model.label, o.runner.task.name) for o in outcomes] == [
        (m.label, t.name) for m in (one, four) for t in tasks
    ]
    assert all(o.result is not None and o.result.executed == 30 for o in outcomes)
    assert set(statuses(store).values()) == {"finished"}
    # the concurrency-1 model never had two requests in flight, though both its runs were active
    assert recorder.most[one.label] == 1
    assert recorder.most[four.label] <= 4
    # runs of different models overlapped
    assert recorder.most_total > max(recorder.most[one.label], 1)
    # a model's second benchmark started before its first one's last request finished
    for model in (one, four):
        spans = [s for s in recorder.spans if s[0] == model.label]
        alpha_last_end = max(end for _, name, _, end in spans if name == "alpha")
        beta_first_start = min(start for _, name, start, _ in spans if name == "beta")
        assert beta_first_start < alpha_last_end


def test_sequential_mode_runs_one_at_a_time(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'serial.db'}")
    recorder = Recorder()
    models: list[Model] = [
        recorder.wrap(mock(f"mock/constant?text={t}&latency=0.001&concurrency=4")) for t in "AB"
    ]
    asyncio.run(run_all(plan(store, models, [task("alpha", 12)]), sequential=True))
    first, second = ([s for s in recorder.spans if s[0] == m.label] for m in models)
    assert max(end for *_, end in first) < min(start for *_, start, _ in second)


class CountingSamples:
    def __init__(self, n: int) -> None:
        self.n, self.reads = n, 0

    def __iter__(self) -> Iterator[Sample]:
        self.reads += 1
        for i in range(self.n):
            yield Sample(id=f"q{i}", input=f"question {i}", references=["A"])


def test_a_benchmark_shared_by_many_models_is_read_once(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'once.db'}")
    samples = CountingSamples(20)
    shared = Task(
        load=lambda d: Loaded(samples), prompt=Generate(), metrics=["exact_match"], name="shared"
    )
    fingerprints = Fingerprints()
    models: list[Model] = [mock(f"mock/constant?text={t}") for t in "ABC"]
    outcomes = asyncio.run(run_all(plan(store, models, [shared], fingerprints=fingerprints)))
    assert samples.reads == 1 and fingerprints.loads == 1
    assert [o.result.executed for o in outcomes if o.result] == [20, 20, 20]
    # once every run of it is over, the kept samples are let go
    assert fingerprints.loaded(shared, DataContext()) is not None and fingerprints.loads == 2


def test_identical_requests_in_flight_are_one_model_call() -> None:
    model = mock("mock/oracle?latency=0.01")
    executor = Executor(model)
    request = Request(prompt="same question", max_tokens=4)
    key = executor.key(request)

    async def both() -> list[Response]:
        return list(await asyncio.gather(*(executor.execute(request, key) for _ in range(3))))

    responses = asyncio.run(both())
    assert model.calls == 1 and executor.stats.calls == 1
    assert [r.cached for r in responses].count(False) == 1
    assert executor.stats.cache_hits == 2
    assert len({r.text for r in responses}) == 1


def test_merged_requests_are_stored_complete_for_every_sample(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'merged.db'}")
    model = mock("mock/constant?text=A&latency=0.01")
    same = [Sample(id=f"dup{i}", input="the same question", references=["A"]) for i in range(4)]
    t = Task(load=lambda d: Loaded(same), prompt=Generate(), metrics=["exact_match"], name="dup")
    outcomes = asyncio.run(run_all(plan(store, [model], [t])))
    assert model.calls == 1
    assert outcomes[0].result is not None and outcomes[0].result.summary["cache_hits"] == 3
    q = schema.requests
    with store.connect() as conn:
        rows = conn.execute(sa.select(q.c.sample_id, q.c.text, q.c.cached, q.c.response)).all()
        cache_rows = conn.execute(sa.select(sa.func.count()).select_from(schema.cache)).scalar()
    assert sorted(r[0] for r in rows) == [f"dup{i}" for i in range(4)]
    assert all(r[1] == "A" and r[3] is not None for r in rows)
    assert sorted(r[2] for r in rows) == [False, True, True, True]
    assert cache_rows == 1


def test_a_call_cancelled_while_others_wait_is_made_by_a_waiter() -> None:
    """No timing: the model answers only when released, so the first call is surely still in
    flight when it is cancelled and the second caller is surely waiting on it."""
    model = mock("mock/oracle")
    release, started = asyncio.Event(), asyncio.Event()
    answer = model.generate
    calls = []

    async def gated(request: Request) -> Response:
        calls.append(request)
        started.set()
        await release.wait()
        return await answer(request)

    model.generate = gated  # type: ignore[method-assign]
    executor = Executor(model)
    request = Request(prompt="q", max_tokens=4)
    key = executor.key(request)

    async def scenario() -> Response:
        first = asyncio.ensure_future(executor.execute(request, key))
        await asyncio.wait_for(started.wait(), timeout=60)
        second = asyncio.ensure_future(executor.execute(request, key))
        for _ in range(5):  # the second caller reaches the in-flight call and waits on it
            await asyncio.sleep(0)
        first.cancel()
        for _ in range(5):
            await asyncio.sleep(0)
        release.set()
        return await second

    response = asyncio.run(scenario())
    # the cancelled call never answered; the waiter made its own
    assert response.ok and not response.cached and len(calls) == 2 and model.calls == 1


class BreaksOnSecondRead:
    """Fine when hashed; on the run's own read, a bad row after a few samples."""

    def __init__(self) -> None:
        self.reads = 0

    def __iter__(self) -> Iterator[Sample]:
        self.reads += 1
        for i in range(40):
            if self.reads > 1 and i == 5:
                raise UserError("broken.jsonl line 6: no 'answer' field")
            yield Sample(id=f"b{i}", input=f"broken: {i}", references=["A"])


def test_a_failing_run_stops_the_others_cleanly(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'fail.db'}")
    rows = BreaksOnSecondRead()
    broken = Task(
        load=lambda d: Loaded(rows),
        prompt=Generate(),
        metrics=["exact_match"],
        name="broken",
    )
    slow = mock("mock/constant?text=A&latency=0.01&concurrency=2")
    runners = plan(store, [slow], [task("slow", 500), broken])
    with pytest.raises(UserError, match="no 'answer' field"):
        asyncio.run(run_all(runners))
    found = statuses(store)
    assert "running" not in found.values()
    assert found[(slow.label, "slow")] == "interrupted"
    assert found.get((slow.label, "broken"), "failed") == "failed"


def test_the_cli_fails_in_one_line_when_a_models_check_fails(
    cli: Any, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(self: MockModel) -> None:
        if self.behaviour == "random":
            raise UserError(f"{self.label}: server not reachable at 127.0.0.1:1; start it first")

    monkeypatch.setattr(MockModel, "check", refuse)
    db = tmp_path / "check.db"
    args = ["run", "mmlu", "gsm8k", "-m", "mock/oracle", "-m", "mock/random"]
    result = cli(*args, "--limit", "5", "--db", db, "--data-dir", data_dir, "--no-progress")
    assert result.code == 2
    assert result.err.strip().count("\n") == 0 and "server not reachable" in result.err
    store = Store(f"sqlite:///{db}")
    assert "running" not in statuses(store).values()


def test_a_prefix_caching_models_runs_go_one_after_another(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'prefix.db'}")
    recorder = Recorder()
    local = recorder.wrap(mock("mock/constant?text=A&latency=0.002&concurrency=1"))
    local.capabilities = dataclasses.replace(local.capabilities, prefix_cache=True)
    api = recorder.wrap(mock("mock/constant?text=B&latency=0.002&concurrency=4"))
    asyncio.run(run_all(plan(store, [local, api], [task("alpha", 20), task("beta", 20)])))
    spans = [s for s in recorder.spans if s[0] == local.label]
    alpha_last_end = max(end for _, name, _, end in spans if name == "alpha")
    beta_first_start = min(start for _, name, start, _ in spans if name == "beta")
    assert alpha_last_end < beta_first_start  # shared prefixes stay adjacent
    assert recorder.most_total > 1  # while the other model's runs went beside it


def test_one_benchmark_named_twice_runs_once_then_resumes(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'twice.db'}")
    model = mock("mock/constant?text=A&latency=0.001")
    same = task("alpha", 15)
    outcomes = asyncio.run(run_all(plan(store, [model], [same, same])))
    first, second = (o.result for o in outcomes)
    assert first is not None and second is not None
    assert first.run_id == second.run_id
    assert (first.executed, second.executed, second.resumed) == (15, 0, 15)
    assert model.calls == 15


class ApiMock(MockModel):
    """A mock standing for an API provider's model: its provider's models share one limit."""

    provider_wide_limit = True


def plan_shared(store: Store, models: list[Model], tasks: list[Task]) -> list[Runner]:
    """As `assay run` plans: one executor per model, the invocation's limits shared."""
    limits = ConcurrencyLimits()
    runners = []
    for model in models:
        executor = Executor(model, limits=limits)
        runners += [
            Runner(store, t, model, executor, data=DataContext(), keep_samples=True) for t in tasks
        ]
    return runners


@pytest.mark.parametrize("api", [True, False], ids=["api-provider", "local"])
def test_an_api_providers_limit_holds_across_all_its_models_runs(tmp_path: Path, api: bool) -> None:
    store = Store(f"sqlite:///{tmp_path / 'provider.db'}")
    recorder = Recorder()
    kind = ApiMock if api else MockModel
    models = [
        recorder.wrap(kind(parse_model_spec(f"mock/constant?text={t}&latency=0.002&concurrency=3")))
        for t in ("A", "B")
    ]
    tasks = [task("alpha", 40), task("beta", 40, offset=100)]
    outcomes = asyncio.run(run_all(plan_shared(store, models, tasks)))
    assert all(o.result is not None and o.result.executed == 40 for o in outcomes)
    limits = {id(o.runner.executor.limit) for o in outcomes}
    if api:
        # two models, four runs, one provider: never more than its 3 requests at once, in all
        assert len(limits) == 1
        assert recorder.most_total == 3
    else:
        # local models: a limit each, so together they go past one model's 3
        assert len(limits) == 2
        assert all(recorder.most[m.label] <= 3 for m in models)
        assert recorder.most_total > 3


def test_many_runs_at_once_write_less_often_each_and_lose_nothing(tmp_path: Path) -> None:
    """Each run writes its finished samples at least every `flush_seconds`; with many runs at
    once the scheduler spaces each run's writes so that the store sees a few a second in all
    (one transaction per run per second blocked the event loop 50 times a second)."""
    from assay.execution.runner import FLUSH_SECONDS
    from assay.execution.scheduler import WRITES_PER_SECOND

    store = Store(f"sqlite:///{tmp_path / 'spaced.db'}")
    models: list[Model] = [mock(f"mock/oracle?latency=0.001&seed={i}") for i in range(3)]
    tasks = [task(f"t{i}", 7, offset=10 * i) for i in range(4)]
    many = plan(store, models, tasks)
    outcomes = asyncio.run(run_all(many))
    lanes = len(many)  # API-like models: one lane per run
    assert lanes > WRITES_PER_SECOND
    assert {r.flush_seconds for r in many} == {FLUSH_SECONDS * lanes / WRITES_PER_SECOND}
    assert all(o.result is not None and o.result.executed == 7 for o in outcomes)
    with store.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(schema.samples)).scalar()
    assert stored == len(many) * 7

    few = plan(Store(f"sqlite:///{tmp_path / 'few.db'}"), models[:1], tasks[:2])
    asyncio.run(run_all(few))
    assert {r.flush_seconds for r in few} == {FLUSH_SECONDS}


def test_every_model_has_requests_under_way_before_the_later_runs_set_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs start one after another, each once the one before it has requests under way, models
    taken in turn: a run's setup (its prompts, cache keys and first store reads) blocks the
    event loop, and starting 50 at once left every model idle for a second. A run in the
    same lane order as given would start model B after all of model A's runs."""
    store = Store(f"sqlite:///{tmp_path / 'stagger.db'}")
    events: list[tuple[str, str]] = []
    begin = Runner._begin

    def logged_begin(self: Runner) -> bool:
        events.append(("begin", self.model.label))
        return begin(self)

    monkeypatch.setattr(Runner, "_begin", logged_begin)
    models = [mock(f"mock/oracle?latency=0.005&seed={i}") for i in range(3)]
    for model in models:
        inner = model.generate

        async def generate(request: Request, inner: Any = inner, label: str = model.label) -> Any:
            events.append(("call", label))
            return await inner(request)

        model.generate = generate  # type: ignore[method-assign]
    runners = plan(store, list(models), [task(f"t{i}", 20, offset=100 * i) for i in range(4)])
    outcomes = asyncio.run(run_all(runners))
    assert all(o.result is not None and o.result.executed == 20 for o in outcomes)
    begins = [label for kind, label in events if kind == "begin"]
    assert begins[:3] == [m.label for m in models]  # one run of each model first
    fourth_begin = [i for i, e in enumerate(events) if e[0] == "begin"][3]
    for model in models:  # every model called before the fourth run began
        assert events.index(("call", model.label)) < fourth_begin
    # a run begins only once the run before it has a call out
    for i, (kind, _) in enumerate(events):
        if kind == "begin" and i > 0:
            assert any(k == "call" for k, _ in events[:i])


def test_a_write_refused_on_the_writer_thread_fails_the_run_and_keeps_what_was_written(
    tmp_path: Path,
) -> None:
    """The scheduler's runs write on a thread beside the event loop; a write the store refuses
    there (a sample id longer than its column, met only at sample 150) fails that run in one
    line like a write made in the loop: the samples written before it stay, nothing is left
    running, and the other runs are stopped cleanly."""
    store = Store(f"sqlite:///{tmp_path / 'refused.db'}")
    samples = [
        Sample(id="x" * 250 if i == 150 else f"s{i}", input=f"long: question {i}", references=["A"])
        for i in range(300)
    ]
    long_ids = Task(
        load=lambda d: Loaded(samples), prompt=Generate(), metrics=["exact_match"], name="long"
    )
    model = mock("mock/constant?text=A&latency=0.001&concurrency=1")
    runners = plan(store, [model], [long_ids, task("other", 2000)])
    with pytest.raises(UserError, match=r"sample id .* at most 200"):
        asyncio.run(run_all(runners))
    found = statuses(store)
    assert found[(model.label, "long")] == "failed"
    assert found[(model.label, "other")] == "interrupted"
    with store.connect() as conn:
        s = schema.samples
        kept = conn.execute(
            sa.select(sa.func.count()).where(s.c.run_id == runners[0].run_id)
        ).scalar_one()
    assert 100 <= kept < 300  # the first flush (100 samples) stayed; the refused one did not


def test_a_run_outpacing_the_writer_thread_writes_itself_and_holds_little(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a model answering at once the event loop is busy and the writer's thread falls
    behind: a run then queues at most WRITES_AHEAD writes there and writes the rest itself,
    FLUSH_ROWS_INLINE samples at a time, so nothing piles up in memory and nothing is lost."""
    import threading

    from assay.execution import runner as runner_module
    from assay.execution.store_writer import StoreWriter
    from assay.store import writes

    queued: list[int] = []
    on_thread: list[int] = []
    inline: list[int] = []
    record = writes.record_samples

    def slow_record(store: Store, samples: Any, *rest: Any) -> None:
        if threading.current_thread() is threading.main_thread():
            inline.append(len(samples))
        else:
            on_thread.append(len(samples))
            threading.Event().wait(0.05)  # a writer thread starved of the GIL
        record(store, samples, *rest)

    monkeypatch.setattr(runner_module.writes, "record_samples", slow_record)
    submit = StoreWriter.submit

    def counted(self: StoreWriter, *args: Any) -> Any:
        future = submit(self, *args)
        queued.append(sum(not w.done() for w in runner._writes) + 1)
        return future

    monkeypatch.setattr(StoreWriter, "submit", counted)
    store = Store(f"sqlite:///{tmp_path / 'outpaced.db'}")
    (runner,) = plan(store, [mock("mock/oracle")], [task("fast", 3000)])
    (outcome,) = asyncio.run(run_all([runner]))
    assert outcome.result is not None and outcome.result.executed == 3000
    assert max(queued[:-1]) <= runner_module.WRITES_AHEAD  # the last write may join them
    assert inline and all(n >= runner_module.FLUSH_ROWS_INLINE for n in inline)
    assert sum(inline) + sum(on_thread) == 3000
    with store.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(schema.samples)).scalar()
    assert stored == 3000
