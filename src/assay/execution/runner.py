"""One run end to end: load, select, prompt, call, score, store, summarise.

Results are written in small transactions as they arrive, through the store's write API
(`assay.store.writes`; the runner writes no SQL), on the scheduler's writer thread when it has
one. A sample's row, requests and scores are written together, so a run killed at any moment
and started again skips the samples already finished and redoes the rest (errored samples
included), with nothing lost or duplicated.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa

from assay import __version__
from assay.benchmarks.base import DataContext, Task
from assay.benchmarks.selection import Selection
from assay.errors import UserError
from assay.execution.executor import Executor
from assay.execution.identity import Fingerprints, run_spec
from assay.execution.overrides import Overrides
from assay.execution.store_writer import StoreWriter
from assay.execution.summary import summarise
from assay.hashing import content_hash
from assay.metrics.calibration import calibration_run_metrics
from assay.metrics.judge import DEFAULT_JUDGE_SETTINGS, JudgeMetric, JudgeSettings
from assay.metrics.metric import Metric, Unparsed
from assay.metrics.panel import PanelAggregate, aggregate
from assay.metrics.registry import get_metric
from assay.models.base import Model
from assay.models.batch import BatchPending, run_batch
from assay.provenance import collect
from assay.requests import Request, Response
from assay.samples import Sample
from assay.store import writes
from assay.store.db import Store, now
from assay.store.payloads import compact, is_large
from assay.store.queries import superseded_runs

# Samples whose prompts and cache keys are built (and cached answers looked up) at a time.
CHUNK = 64
# A run writes its finished samples every FLUSH_ROWS samples or FLUSH_SECONDS, whichever is
# first. In the scheduler the writes go to a thread beside the event loop, at most WRITES_AHEAD
# queued per run. A run whose writes are queued that deep has a busy loop (a model answering
# at once): that thread then gets Python's lock rarely, so the run writes FLUSH_ROWS_INLINE
# samples at a time itself (bench/suite.py and bench/overhead.py chose these numbers).
FLUSH_ROWS = 100
FLUSH_ROWS_INLINE = 500
FLUSH_SECONDS = 1.0
WRITES_AHEAD = 2


class Progress(Protocol):
    def start(self, label: str, total: int | None, done: int) -> None: ...
    def advance(self, n: int, errors: int) -> None: ...
    def finish(self) -> None: ...


class _NoProgress:
    def start(self, label: str, total: int | None, done: int) -> None:
        pass

    def advance(self, n: int, errors: int) -> None:
        pass

    def finish(self) -> None:
        pass


@dataclass(frozen=True)
class BatchOptions:
    """Use the provider's batch API: cheaper, slower; `max_wait` None waits until it is done."""

    poll_interval: float = 60.0
    max_wait: float | None = None


@dataclass
class RunResult:
    run_id: str
    benchmark: str
    model: str
    summary: dict[str, Any]
    main_metric: str
    resumed: int
    executed: int
    wall_s: float
    # runs of this benchmark and model in the suite that this new one (other inputs) supersedes
    supersedes: list[str] = field(default_factory=list)


@dataclass
class _Item:
    position: int
    sample: Sample
    requests: list[Request]
    keys: list[str]
    judge_calls: list[_JudgeCall] | None = None  # set once the judge has answered


@dataclass
class _JudgeCall:
    """One judge request for a sample's answer, shared by the judged metrics that ask it."""

    request: Request
    key: str
    judge: Executor
    metrics: list[str] = field(default_factory=list)
    response: Response | None = None


@dataclass
class _Buffer:
    samples: list[writes.SampleRow] = field(default_factory=list)
    requests: list[writes.RequestRow] = field(default_factory=list)
    scores: list[writes.ScoreRow] = field(default_factory=list)
    cache: list[writes.CacheRow] = field(default_factory=list)
    last_flush: float = field(default_factory=time.monotonic)

    def take(self) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
        """The rows held, handed over (the buffer starts new lists)."""
        rows = (self.samples, self.requests, self.scores, self.cache)
        self.samples, self.requests, self.scores, self.cache = [], [], [], []
        return rows

    def clear(self) -> None:
        self.samples.clear()
        self.requests.clear()
        self.scores.clear()
        self.cache.clear()
        self.last_flush = time.monotonic()

    def due(self, seconds: float = FLUSH_SECONDS, rows: int = FLUSH_ROWS) -> bool:
        return len(self.samples) >= rows or time.monotonic() - self.last_flush >= seconds


def _prompt_order(item: _Item) -> tuple[str, int]:
    """A sample's first prompt as text (chat turns joined in order), then its position."""
    first = item.requests[0]
    if first.messages is not None:
        text = "\x00".join(f"{m.get('role')}\x01{m.get('content')}" for m in first.messages)
    else:
        text = first.prompt or ""
    return text, item.position


class Runner:
    def __init__(
        self,
        store: Store,
        task: Task,
        model: Model,
        executor: Executor,
        *,
        data: DataContext,
        limit: int | None = None,
        seed: int = 0,
        suite: str = "default",
        progress: Progress | None = None,
        overrides: Overrides | None = None,
        batch: BatchOptions | None = None,
        fingerprints: Fingerprints | None = None,
        keep_samples: bool = False,
        judge: Executor | None = None,
        judges: Sequence[Executor] = (),
        panel_aggregate: PanelAggregate = "mean",
        judge_settings: JudgeSettings = DEFAULT_JUDGE_SETTINGS,
    ) -> None:
        """`judges`: the panel for judged metrics (`judge`: a panel of one), each judge's
        scores aggregated by `panel_aggregate`."""
        self.store = store
        self.task = task
        self.model = model
        self.executor = executor
        self.data = data
        self.limit = limit
        self.seed = seed
        self.suite = suite
        self.progress = progress or _NoProgress()
        self.chat = model.capabilities.chat
        self.batch = batch
        self.overrides = overrides if overrides and overrides.to_spec() else None
        # the samples are read and hashed before the id exists: changed data is a new run
        # (`keep_samples`: other runs of this invocation read the same samples; keep them)
        self.fingerprints = fingerprints or Fingerprints()
        self.data_identity = self.fingerprints.data(task, data, keep=keep_samples)
        self.metrics = {name: get_metric(name) for name in task.metrics}
        # judged metrics are scored from a judge model's verdict, the others from the answer
        self.judged = {n: m for n, m in self.metrics.items() if isinstance(m, JudgeMetric)}
        self.plain = {n: m for n, m in self.metrics.items() if n not in self.judged}
        panel = list(judges) or ([judge] if judge is not None else [])
        if self.judged and not panel:
            raise UserError(
                f"{task.name} is scored by a judge model ({', '.join(self.judged)}): "
                "pass --judge MODEL (e.g. --judge llamacpp/smollm2)"
            )
        self.judges = panel if self.judged else []
        self.panel_aggregate = panel_aggregate
        self.judge_settings = judge_settings
        self.spec = run_spec(
            task,
            model,
            limit=limit,
            seed=seed,
            chat=self.chat,
            data=self.data_identity,
            judges=[judge_spec(j, self.judged, judge_settings) for j in self.judges],
        )
        if len(self.judges) > 1:  # how a panel's scores become one is part of its results
            self.spec["panel_aggregate"] = panel_aggregate
        if self.overrides is not None:
            self.spec["overrides"] = self.overrides.to_spec()
        self.run_id = content_hash(self.spec, 20)
        # only log-likelihood formats give confidences; reading every sample row for nothing
        # would cost a large run time and memory
        gives_confidence = task.prompt.kind == "multiple_choice_logprob"
        self.run_metrics = (
            (*task.run_metrics, calibration_run_metrics) if gives_confidence else task.run_metrics
        )
        scores_prompts = task.prompt.kind == "multiple_choice_logprob" or (
            task.prompt.needs_prompt_logprobs
        )
        if scores_prompts and not model.capabilities.prompt_logprobs:
            raise UserError(
                f"{model.label} cannot score log-likelihoods, which {task.name} asks for: use a "
                "backend with prompt log-probabilities (llamacpp, hf, or a server that returns "
                "them) or the multiple_choice format"
            )
        self.supersedes = self._superseded()
        self._written: list[str] = []  # sample ids written by this invocation
        # at most this long between writes (the scheduler lengthens it when many runs share
        # the store, so their writes do not each cost a transaction every second)
        self.flush_seconds = FLUSH_SECONDS
        # set by the scheduler: finished samples are written on its thread (`_writes` pending)
        self.writer: StoreWriter | None = None
        self._writes: list[asyncio.Future[None]] = []
        self._errors = 0
        # set once the run has its first requests under way (or has stopped): the scheduler
        # starts the next run then, so each run's setup overlaps the others' model calls
        self.sending = asyncio.Event()

    async def run(self) -> RunResult:
        try:
            return await self._run()
        except sa.exc.DBAPIError as exc:  # the server went away, or refused a write
            if self.store.is_sqlite:
                raise  # the command line explains SQLite's own errors (busy, full, read-only)
            raise self.store.failure(exc) from None
        finally:
            self.sending.set()

    async def _run(self) -> RunResult:
        started = time.monotonic()
        # a missing file or column found while loading: before the run exists, so none is left
        loaded = self.fingerprints.loaded(self.task, self.data)
        selection = Selection(loaded.samples, self.limit, self.seed, where=self.task.name)
        total = self._expected_total(loaded.samples)
        created = self._begin()
        done = self._finished_ids()
        self.progress.start(f"{self.task.name} · {self.model.label}", total, len(done))
        buffer = _Buffer()
        executed = 0
        status = "interrupted"
        failure: str | None = None
        summary: dict[str, Any] = {}
        store_lost = False
        items = self._items(selection, done, loaded.fewshot)
        answered = self._dispatch(items) if self.batch is None else self._batched(items)
        try:
            async for item, responses in answered:
                await self._judge(item, responses)  # batch runs: judged here, one at a time
                self._record(item, responses, buffer)
                executed += 1
                if buffer.due(self.flush_seconds):
                    self._write_due(buffer)
            status = "finished"
        except BatchPending:
            status = "waiting"  # the provider is still working; the same command resumes it
            raise
        except sa.exc.DBAPIError:
            store_lost = True  # nothing more can be written; what was flushed stays
            raise
        except UserError as exc:  # bad data found only as it streams (a bad row, a repeated id)
            status, failure = "failed", str(exc)
            raise
        finally:
            await answered.aclose()
            self.progress.finish()
            if not store_lost:  # else nothing more can be written
                self._flush(buffer, inline=False)
                await self._writes_done()
                if failure is not None and created and not done and not executed:
                    self._discard()  # nothing of it was stored: leave no run behind
                else:
                    n_selected = len(done) + executed if status == "finished" else None
                    summary = self._finish(
                        status,
                        selection.content_hash,
                        n_selected,
                        time.monotonic() - started,
                        failure,
                    )
        return RunResult(
            run_id=self.run_id,
            benchmark=self.task.name,
            model=self.model.label,
            summary=summary,
            main_metric=self.task.main_metric or "",
            resumed=len(done),
            executed=executed,
            wall_s=time.monotonic() - started,
            supersedes=self.supersedes,
        )

    def _expected_total(self, samples: object) -> int | None:
        size = len(samples) if hasattr(samples, "__len__") else None
        if size is None:
            return self.limit
        return size if self.limit is None else min(size, self.limit)

    # -- store --------------------------------------------------------------------------------
    def _begin(self) -> bool:
        """Mark the run running (creating it if new); True when it is new."""
        return writes.begin_run(
            self.store,
            writes.NewRun(
                run_id=self.run_id,
                benchmark=self.task.name,
                benchmark_version=self.task.version,
                benchmark_source=self.task.source,
                model=self.model.label,
                spec=self.spec,
                groups=list(self.task.groups),
                main_metric=self.task.main_metric or "",
                higher_is_better=self.task.higher_is_better is not False,
                suite=self.suite,
                assay_version=__version__,
                provenance=collect(self.spec),
            ),
        )

    def _discard(self) -> None:
        """Remove a run created by this invocation that failed before storing any sample."""
        writes.discard_run(self.store, self.run_id)

    def _superseded(self) -> list[str]:
        """For a run not stored yet: the suite's runs of the same benchmark and model (other
        inputs, so other ids), newest first; the new run supersedes them."""
        return superseded_runs(
            self.store,
            run_id=self.run_id,
            suite=self.suite,
            benchmark=self.task.name,
            model=self.model.label,
            source=self.task.source,
        )

    def _forget(self, sample_ids: Sequence[str]) -> None:
        """Delete samples written under this run id (from data that no longer matches it)."""
        writes.forget_samples(self.store, self.run_id, sample_ids)

    def _finished_ids(self) -> set[str]:
        """Samples not to redo: all but errored ones, and those whose judge call failed (their
        model answer comes from the cache; the judge is asked again)."""
        return writes.finished_sample_ids(self.store, self.run_id)

    def _prefetch(self, keys: Sequence[str]) -> None:
        self.executor.cache.prefetch(self.store, keys)

    def _write_due(self, buffer: _Buffer) -> None:
        """A write is due: hand it to the writer's thread, or (no writer, or this run's writes
        queued WRITES_AHEAD deep there) write it here once FLUSH_ROWS_INLINE samples are held.
        Raises the failure of a write the thread has made."""
        while self._writes and self._writes[0].done():
            self._writes.pop(0).result()
        if self.writer is not None and len(self._writes) < WRITES_AHEAD:
            self._flush(buffer, inline=False)
        elif self.writer is None or buffer.due(self.flush_seconds, FLUSH_ROWS_INLINE):
            self._flush(buffer)

    def _flush(self, buffer: _Buffer, *, inline: bool = True) -> None:
        """Write the buffer in one transaction: here, or (`inline` False) on the writer's thread.
        It is emptied even when the write fails (a value the store refuses): the run then ends,
        and the samples it held are redone on resume."""
        if not inline and self.writer is not None:
            if buffer.samples or buffer.cache:
                rows = buffer.take()
                self._writes.append(self.writer.submit(writes.record_samples, self.store, *rows))
            buffer.clear()
            return
        try:
            if buffer.samples or buffer.cache:
                writes.record_samples(
                    self.store, buffer.samples, buffer.requests, buffer.scores, buffer.cache
                )
        finally:
            buffer.clear()

    async def _writes_done(self) -> None:
        """Wait for this run's writes on the writer's thread (the first failure raised)."""
        pending, self._writes = self._writes, []
        outcomes = await asyncio.gather(*pending, return_exceptions=True)
        failed = next((o for o in outcomes if isinstance(o, BaseException)), None)
        if failed is not None:
            raise failed

    def _finish(
        self,
        status: str,
        data_hash: str | None,
        n_selected: int | None,
        wall: float,
        failure: str | None = None,
    ) -> dict[str, Any]:
        # the samples read now are not the ones hashed into the id: what this invocation wrote
        # from them is removed, and the run is left as it was
        changed = data_hash is not None and data_hash != self.data_identity.content_hash
        if changed:
            self._forget(self._written)
            status, data_hash, n_selected = "interrupted", None, None
        summary = writes.finish_run(
            self.store,
            self.run_id,
            status=status,
            summarise=lambda conn: summarise(
                conn,
                self.run_id,
                self.task.main_metric or "",
                self.run_metrics,
                batch=self.batch is not None,
            ),
            duration_s=wall,
            dataset_hash=data_hash,
            n_samples=n_selected,
            failure=failure,
        )
        if changed:
            raise UserError(
                f"{self.task.name}: its data changed while it ran (it was read twice and "
                "differed); this run's new samples were removed: run the command again"
            )
        return summary

    # -- work -----------------------------------------------------------------------------------
    def _items(self, selection: Selection, done: set[str], fewshot: Any) -> Iterator[_Item]:
        items = self._built(selection, done, fewshot)
        if self.model.capabilities.prefix_cache and self.batch is None:
            # A backend that reuses the previous prompt's KV cache answers fastest when prompts
            # sharing a prefix (instructions, few-shot examples) come one after another; sorted
            # prompts put every shared prefix next to itself.
            items = iter(sorted(items, key=_prompt_order))
        chunk: list[_Item] = []
        for item in items:
            chunk.append(item)
            if len(chunk) >= CHUNK:
                self._prefetch([k for item in chunk for k in item.keys])
                yield from chunk
                chunk = []
        if chunk:
            self._prefetch([k for item in chunk for k in item.keys])
            yield from chunk

    def _built(self, selection: Selection, done: set[str], fewshot: Any) -> Iterator[_Item]:
        shots_wanted = self.task.prompt.shots
        for position, sample in selection:
            if sample.id in done:
                continue
            shots = list(fewshot(sample))[:shots_wanted] if (fewshot and shots_wanted) else []
            requests = self.task.prompt.build(sample, shots, self.chat)
            if self.overrides is not None:
                for request in requests:
                    self.overrides.apply(request)
            keys = [self.executor.key(r) for r in requests]
            yield _Item(position, sample, requests, keys)

    async def _dispatch(self, items: Iterator[_Item]) -> Any:
        window = max(2 * self.executor.concurrency, 16)

        async def work(item: _Item) -> tuple[_Item, list[Response]]:
            if len(item.requests) == 1:
                responses = [await self.executor.execute(item.requests[0], item.keys[0])]
            else:
                responses = list(
                    await asyncio.gather(
                        *(
                            self.executor.execute(r, k)
                            for r, k in zip(item.requests, item.keys, strict=True)
                        )
                    )
                )
            await self._judge(item, responses)
            return item, responses

        # Finished tasks arrive on a queue from their done callbacks: `asyncio.wait` over the
        # window instead re-registered a callback on every pending task at each completion.
        Done = asyncio.Task[tuple[_Item, list[Response]]]
        started: set[Done] = set()
        finished: asyncio.Queue[Done] = asyncio.Queue()
        unread = 0  # started and not yet yielded
        try:
            for item in items:
                task = asyncio.ensure_future(work(item))
                started.add(task)
                task.add_done_callback(finished.put_nowait)
                unread += 1
                while unread >= window or (unread and not finished.empty()):
                    self.sending.set()
                    task = await finished.get()
                    started.discard(task)
                    unread -= 1
                    yield task.result()
            self.sending.set()
            while unread:
                task = await finished.get()
                started.discard(task)
                unread -= 1
                yield task.result()
        finally:
            for task in started:
                task.cancel()
            # let them unwind (release their slots) before the caller moves on
            await asyncio.gather(*started, return_exceptions=True)

    async def _batched(self, items: Iterator[_Item]) -> Any:
        """Send every uncached request as one provider batch; yield samples once it is done."""
        assert self.batch is not None
        pending = list(items)
        cache = self.executor.cache
        todo = {
            k: r
            for item in pending
            for r, k in zip(item.requests, item.keys, strict=True)
            if cache.get(k) is None
        }
        answers: dict[str, Response] = {}
        if todo:
            answers = await run_batch(
                writes.BatchLedger(self.store),
                self.model,
                sorted(todo.items()),
                poll_interval=self.batch.poll_interval,
                max_wait=self.batch.max_wait,
            )
        for item in pending:
            yield (
                item,
                [
                    Response.from_payload(p, cached=True)
                    if (p := cache.get(k)) is not None
                    else answers[k]
                    for k in item.keys
                ],
            )

    def _record(self, item: _Item, responses: list[Response], buffer: _Buffer) -> None:
        sample = item.sample
        stamp = now()
        failed = next((r.error for r in responses if r.error is not None), None)
        details: dict[str, Any] = {}
        prediction = None
        confidence = None
        scores: dict[str, float] = {}
        if failed is None:
            read = self.task.prompt.read(sample, responses)
            references = self.task.prompt.references(sample)
            prediction = read.answer
            own = self.task.prompt.scores(sample, responses)
            if own is not None:  # the format scores itself (lm-eval tasks)
                scores, own_details = own
                details.update(own_details)
            else:
                scores = {name: fn(read.answer, references) for name, fn in self.plain.items()}
                if self.judges:
                    verdicts = self._judged_scores(item, responses[0], scores)
                    details["judge"] = verdicts
                    details["judge_status"] = _judge_status(verdicts)
                details.update(self._details(read.answer, references))
            for variant, answer in read.variants.items():
                for name, fn in self.plain.items():
                    scores[f"{name}_{variant}"] = fn(answer, references)
            for name, metric in self.plain.items() if read.worst_of else ():
                values = [scores[name], *(scores[f"{name}_{v}"] for v in read.worst_of)]
                scores[f"{name}_worst"] = self._worst_of(metric, values)
            confidence = read.confidence
            status = "ok" if read.parsed else "unparsed"
        else:
            status = "error"
            self._errors += 1
        buffer.samples.append(
            {
                "run_id": self.run_id,
                "sample_id": sample.id,
                "idx": item.position,
                "input": sample.input,
                "references": sample.references,
                "choices": sample.choices,
                "correct": sample.correct,
                "metadata": {**sample.metadata, **details} if details else sample.metadata,
                "split": sample.split,
                "status": status,
                "prediction": prediction,
                "confidence": confidence,
                "error": None if failed is None else f"{failed.kind}: {failed.message}",
                "updated_at": stamp,
            }
        )
        for idx, (request, key, response) in enumerate(
            zip(item.requests, item.keys, responses, strict=True)
        ):
            self._store_request(
                buffer, sample.id, idx, key, request.canonical(), response, stamp, self.executor
            )
        self._record_judge_calls(item, stamp, buffer)
        for name, value in scores.items():
            buffer.scores.append(
                {
                    "run_id": self.run_id,
                    "sample_id": sample.id,
                    "metric": name,
                    "value": value,
                }
            )
        self._written.append(sample.id)
        self.progress.advance(1, self._errors)

    def _details(self, answer: str | None, references: list[str]) -> dict[str, Any]:
        """What metrics with an `explain` hook say about this answer (HumanEval: the sandbox's
        result per program), stored in the sample's metadata; each hook runs once."""
        out: dict[str, Any] = {}
        hooks = {id(m.explain): m.explain for m in self.plain.values() if m.explain is not None}
        for hook in hooks.values():
            out.update(hook(answer, references))
        return out

    def _worst_of(self, metric: Metric, values: list[float]) -> float:
        """The worst of an answer's scores and its perturbed variants', by the metric's own
        direction; the main metric's is the task's (`Task.higher_is_better`, the run row's)."""
        if metric.name == self.task.main_metric:
            return min(values) if self.task.higher_is_better else max(values)
        return metric.worst(values)

    # -- judges ---------------------------------------------------------------------------------
    async def _judge(self, item: _Item, responses: list[Response]) -> None:
        """Ask the judge about the sample's answer (once per distinct judge request); an answer
        the model failed to give is not judged."""
        if not self.judges or item.judge_calls is not None:
            return
        item.judge_calls = []
        if any(r.error is not None for r in responses):
            return
        calls: dict[tuple[int, str], _JudgeCall] = {}
        for index, judge in enumerate(self.judges):
            chat = judge.model.capabilities.chat
            for name, metric in self.judged.items():
                asked = metric.requests(
                    item.sample, responses[0], chat=chat, settings=self.judge_settings
                )
                for request in asked:
                    key = judge.key(request)
                    call = calls.setdefault((index, key), _JudgeCall(request, key, judge))
                    call.metrics.append(name)
            judge.cache.prefetch(self.store, [k for i, k in calls if i == index])
        answers = await asyncio.gather(*(c.judge.execute(c.request, c.key) for c in calls.values()))
        for call, answer in zip(calls.values(), answers, strict=True):
            call.response = answer
        item.judge_calls = list(calls.values())

    def _judged_scores(
        self, item: _Item, response: Response, scores: dict[str, float]
    ) -> dict[str, dict[str, Any]]:
        """Each judged metric's score into `scores`, or (unparsed verdict, judge error) nothing:
        such a sample is left out of that metric's mean, never scored 0. Returns what each
        metric's judge said, for the sample's metadata; a panel's entry also holds what each
        of its judges said (`judges`), and its score is theirs aggregated."""
        out: dict[str, dict[str, Any]] = {}
        for name, metric in self.judged.items():
            said = {
                judge.model.label: _one_judge(metric, item, response, judge, name)
                for judge in self.judges
            }
            if len(said) == 1:
                (out[name],) = said.values()
            else:
                out[name] = panel_verdict(said, self.panel_aggregate)
            if "score" in out[name]:
                scores[name] = out[name]["score"]
        return out

    def _record_judge_calls(self, item: _Item, stamp: Any, buffer: _Buffer) -> None:
        """The judge's requests, stored after the sample's own with role `judge` in the request
        JSON (and the judge model and metrics), so the viewer lists them beside the sample's."""
        if not self.judges:
            return
        first = len(item.requests)
        for offset, call in enumerate(item.judge_calls or ()):
            assert call.response is not None
            request = {
                **call.request.canonical(),
                "role": "judge",
                "judge": call.judge.model.label,
                "metrics": call.metrics,
            }
            self._store_request(
                buffer,
                item.sample.id,
                first + offset,
                call.key,
                request,
                call.response,
                stamp,
                call.judge,
            )

    def _store_request(
        self,
        buffer: _Buffer,
        sample_id: str,
        idx: int,
        key: str,
        request: dict[str, Any],
        response: Response,
        stamp: Any,
        executor: Executor,
    ) -> None:
        """A request row, and a cache row (under the model that answered) for a new answer."""
        payload = None if response.error else response.payload()
        buffer.requests.append(
            {
                "run_id": self.run_id,
                "sample_id": sample_id,
                "idx": idx,
                "cache_key": key,
                "request": request,
                "response": None if payload is None else compact(payload),
                "text": None if response.error else response.text,
                "error": response.error.to_dict() if response.error else None,
                "latency_s": response.latency_s,
                "input_tokens": response.input_tokens,
                "output_tokens": response.output_tokens,
                "cached": response.cached,
                "attempts": response.attempts,
                "created_at": stamp,
            }
        )
        # a large response is cached by its request row (see store.payloads), not copied
        if payload is not None and not response.cached and not is_large(payload):
            buffer.cache.append(
                {
                    "key": key,
                    "model": executor.label,
                    "response": payload,
                    "created_at": stamp,
                }
            )
        executor.cache.discard(key)


def _one_judge(
    metric: JudgeMetric, item: _Item, response: Response, judge: Executor, name: str
) -> dict[str, Any]:
    """What one judge said about one metric: its score, or why there is none."""
    answers = [
        c.response
        for c in item.judge_calls or ()
        if c.judge is judge and name in c.metrics and c.response
    ]
    value = metric.score(item.sample, response, answers)
    failed = next((a.error for a in answers if a.error is not None), None)
    if failed is not None:
        return {"status": "error", "error": f"{failed.kind}: {failed.message}"}
    if isinstance(value, Unparsed):
        return {"status": "unparsed", "reason": value.reason}
    return {"status": "ok", "score": value}


def panel_verdict(said: dict[str, dict[str, Any]], how: PanelAggregate) -> dict[str, Any]:
    """A panel's verdict on one metric from its judges' (by label): scored from the judges that
    gave a score; `partial` when scored although some judge failed (asked again on a rerun);
    `split` when their scores have no majority; else error or unparsed as the judges were."""
    values = [v["score"] for v in said.values() if v["status"] == "ok"]
    value = aggregate(values, how)
    statuses = {v["status"] for v in said.values()}
    if value is not None:
        status = "partial" if "error" in statuses else "ok"
        return {"status": status, "score": value, "judges": said}
    status = "split" if values else ("error" if "error" in statuses else "unparsed")
    return {"status": status, "judges": said}


# a sample's judge status over its metrics: the first of these found, else ok; `error` and
# `partial` samples are judged again on a rerun (only the failed calls reach a judge)
JUDGE_STATUS_ORDER = ("error", "partial", "unparsed", "split")


def _judge_status(verdicts: dict[str, dict[str, Any]]) -> str:
    """A sample's judge outcome over its judged metrics."""
    statuses = {v["status"] for v in verdicts.values()}
    return next((s for s in JUDGE_STATUS_ORDER if s in statuses), "ok")


def judge_spec(
    judge: Executor,
    metrics: dict[str, JudgeMetric],
    settings: JudgeSettings = DEFAULT_JUDGE_SETTINGS,
) -> dict[str, Any]:
    """The judge's part of the run spec: its model identity, each metric's prompt and the
    settings it is called with (another judge, prompt or setting is another run)."""
    return {
        "model": judge.identity,
        "label": judge.model.label,
        "prompts": {name: m.prompt.spec() for name, m in metrics.items()},
        "temperature": settings.temperature,
        "seed": settings.seed,
    }
