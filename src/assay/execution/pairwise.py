"""Judging finished runs pairwise (`assay pairwise`): for one benchmark of a suite, every pair of
models' stored answers to the same samples, each pair judged in both orders by one judge model.

The judge's requests go through its executor (cached under its identity, retried, rate
limited) and are stored in `pairwise_judgments`, one row per (pair, sample, judge, order),
with the order, the raw response and the verdict read from it. A rerun skips what is stored
(judge errors are asked again) and reads every verdict back from the store.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from assay.errors import UserError
from assay.execution.executor import Executor
from assay.hashing import content_hash
from assay.metrics.judge import DEFAULT_JUDGE_SETTINGS, JudgePrompt, JudgeSettings
from assay.metrics.metric import Unparsed
from assay.metrics.pairwise import ORDERS, PAIRWISE, Order, Winner, pairwise_request, read_order
from assay.requests import Response
from assay.samples import Sample
from assay.store import schema
from assay.store.db import Store, now, upsert
from assay.store.payloads import compact, is_large

WINDOW = 64  # judge requests in flight per batch (the executor limits concurrency itself)


@dataclass(frozen=True)
class Contestant:
    """A model's run of the benchmark in the suite, and its stored answers by sample id."""

    model: str
    run_id: str
    answers: dict[str, str]


@dataclass(frozen=True)
class Judgment:
    """One stored order's verdict (`winner` None when unread: `status` says why)."""

    run_a: str
    run_b: str
    sample_id: str
    order: Order
    status: str
    winner: Winner | None
    reason: str | None


def judge_spec(
    judge: Executor,
    prompt: JudgePrompt = PAIRWISE,
    settings: JudgeSettings = DEFAULT_JUDGE_SETTINGS,
) -> dict[str, Any]:
    """What the verdicts depend on: the judge's identity, the prompt (hashed) and settings."""
    return {
        "model": judge.identity,
        "label": judge.model.label,
        "prompt": prompt.spec(),
        "temperature": settings.temperature,
        "seed": settings.seed,
    }


def find_contestants(
    store: Store, suite: str, benchmark: str, models: Sequence[str] | None
) -> list[Contestant]:
    """The newest finished run of `benchmark` (a variant name, or a bare name with one variant
    in the suite) per model, with each sample's answer (the model's first response)."""
    r, sr = schema.runs, schema.suite_runs
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(r.c.id, r.c.model, r.c.benchmark, r.c.benchmark_name)
            .join(sr, sr.c.run_id == r.c.id)
            .where(
                sr.c.suite == suite,
                r.c.status == "finished",
                sa.or_(r.c.benchmark == benchmark, r.c.benchmark_name == benchmark),
            )
            .order_by(r.c.finished_at, r.c.id)
        ).all()
    if not rows:
        raise UserError(
            f"suite {suite!r} has no finished run of {benchmark!r}: run it first "
            f"(assay run {benchmark} -m MODEL --suite {suite})"
        )
    variants = sorted({row.benchmark for row in rows})
    if len(variants) > 1:
        raise UserError(
            f"{benchmark!r} has several variants in suite {suite!r} ({', '.join(variants)}): "
            "name one with --benchmark"
        )
    newest = {row.model: row.id for row in rows}  # ordered by finish: the last wins
    if models:
        missing = [m for m in models if m not in newest]
        if missing:
            raise UserError(
                f"no finished run of {variants[0]} in suite {suite!r} for "
                f"{', '.join(missing)}; models with one: {', '.join(sorted(newest))}"
            )
        newest = {m: newest[m] for m in models}
    if len(newest) < 2:
        raise UserError(
            f"pairwise judging needs two or more models with a finished run of {variants[0]} "
            f"in suite {suite!r}; found {', '.join(newest) or 'none'}"
        )
    contestants = [
        Contestant(model, run_id, _answers(store, run_id)) for model, run_id in newest.items()
    ]
    silent = [c.model for c in contestants if not c.answers]
    if silent:
        raise UserError(
            f"{variants[0]}: no generated answers stored for {', '.join(silent)} (a "
            "log-likelihood format, or every request failed): pairwise judging compares "
            "generated text"
        )
    return contestants


def _answers(store: Store, run_id: str) -> dict[str, str]:
    """Each answered sample's generated text (its first request's; errored samples and
    log-likelihood requests have none)."""
    s, rq = schema.samples, schema.requests
    query = (
        sa.select(rq.c.sample_id, rq.c.text)
        .join(s, sa.and_(s.c.run_id == rq.c.run_id, s.c.sample_id == rq.c.sample_id))
        .where(
            rq.c.run_id == run_id,
            rq.c.idx == 0,
            s.c.status != "error",
            rq.c.text.is_not(None),
            rq.c.request["continuation"].as_string().is_(None),  # not a log-likelihood ask
        )
    )
    with store.connect() as conn:
        return {str(sid): str(text) for sid, text in conn.execute(query)}


def select_samples(ids: Iterable[str], limit: int | None, seed: int) -> list[str]:
    """Up to `limit` sample ids, the same for every pair: bottom-k by a seeded hash of the id
    (so a smaller limit picks a subset of a larger one)."""

    def rank(sample_id: str) -> bytes:
        return hashlib.blake2b(f"{seed}\x00{sample_id}".encode(), digest_size=8).digest()

    ordered = sorted(set(ids), key=rank)
    return ordered if limit is None else ordered[:limit]


def _samples(store: Store, run_id: str, ids: Sequence[str]) -> dict[str, Sample]:
    s = schema.samples
    out: dict[str, Sample] = {}
    with store.connect() as conn:
        for start in range(0, len(ids), 500):
            part = list(ids[start : start + 500])
            query = sa.select(s.c.sample_id, s.c.input, s.c.references).where(
                s.c.run_id == run_id, s.c.sample_id.in_(part)
            )
            for sid, value, references in conn.execute(query):
                out[sid] = Sample(id=sid, input=value, references=list(references or []))
    return out


@dataclass
class _Pending:
    row: dict[str, Any]
    request: Any
    key: str


async def judge_pairs(
    store: Store,
    contestants: Sequence[Contestant],
    judge: Executor,
    *,
    limit: int | None = None,
    seed: int = 0,
    prompt: JudgePrompt = PAIRWISE,
    settings: JudgeSettings = DEFAULT_JUDGE_SETTINGS,
) -> list[Judgment]:
    """Judge every pair on the samples both answered (of the selected ones), both orders;
    store each verdict; return all of them (stored earlier or now)."""
    spec = judge_spec(judge, prompt, settings)
    judge_key = content_hash(spec, 32)
    union = set().union(*(c.answers for c in contestants))
    chosen = select_samples(union, limit, seed)
    pairs = [
        tuple(sorted((x, y), key=lambda c: c.run_id))
        for x, y in itertools.combinations(contestants, 2)
    ]
    chat = judge.model.capabilities.chat
    pending: list[_Pending] = []
    done = _stored(store, judge_key)
    for a, b in pairs:
        shared = [sid for sid in chosen if sid in a.answers and sid in b.answers]
        samples = _samples(store, a.run_id, shared)
        for sid in shared:
            sample = samples[sid]
            for order in ORDERS:
                if (a.run_id, b.run_id, sid, order) in done:
                    continue
                request = pairwise_request(
                    prompt,
                    sample.input_text,
                    sample.references,
                    a.answers[sid],
                    b.answers[sid],
                    order,
                    chat=chat,
                    settings=settings,
                )
                row = {
                    "run_a": a.run_id,
                    "run_b": b.run_id,
                    "sample_id": sid,
                    "judge_key": judge_key,
                    "order": order,
                    "judge": judge.model.label,
                    "judge_spec": spec,
                    "request": {**request.canonical(), "role": "judge", "judge": spec["label"]},
                }
                pending.append(_Pending(row, request, judge.key(request)))
    for start in range(0, len(pending), WINDOW):
        batch = pending[start : start + WINDOW]
        judge.cache.prefetch(store, [p.key for p in batch])
        answers = await asyncio.gather(*(judge.execute(p.request, p.key) for p in batch))
        _write(store, judge, prompt, batch, answers)
    return _load(store, judge_key, {(a.run_id, b.run_id) for a, b in pairs}, set(chosen))


def _stored(store: Store, judge_key: str) -> set[tuple[str, str, str, str]]:
    """What need not be asked again: every stored verdict but the judge's errors."""
    t = schema.pairwise_judgments
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(t.c.run_a, t.c.run_b, t.c.sample_id, t.c.order).where(
                t.c.judge_key == judge_key, t.c.status != "error"
            )
        )
        return {(r[0], r[1], r[2], r[3]) for r in rows}


def _write(
    store: Store,
    judge: Executor,
    prompt: JudgePrompt,
    batch: Sequence[_Pending],
    answers: Sequence[Response],
) -> None:
    stamp = now()
    rows: list[dict[str, Any]] = []
    cache: list[dict[str, Any]] = []
    for item, response in zip(batch, answers, strict=True):
        verdict = read_order(prompt, response, item.row["order"])
        payload = None if response.error else response.payload()
        failed = isinstance(verdict, Unparsed)
        rows.append(
            {
                **item.row,
                "cache_key": item.key,
                "response": None if payload is None else compact(payload),
                "text": None if response.error else response.text,
                "error": response.error.to_dict() if response.error else None,
                "winner": None if isinstance(verdict, Unparsed) else verdict,
                "status": "error" if response.error else ("unparsed" if failed else "ok"),
                "reason": verdict.reason if isinstance(verdict, Unparsed) else None,
                "latency_s": response.latency_s,
                "input_tokens": response.input_tokens,
                "output_tokens": response.output_tokens,
                "cached": response.cached,
                "attempts": response.attempts,
                "created_at": stamp,
            }
        )
        if payload is not None and not response.cached and not is_large(payload):
            cache.append(
                {
                    "key": item.key,
                    "model": judge.model.label,
                    "response": payload,
                    "created_at": stamp,
                }
            )
        judge.cache.discard(item.key)
    with store.begin() as conn:
        upsert(conn, schema.pairwise_judgments, rows)
        upsert(conn, schema.cache, cache, update=False)


def _load(
    store: Store, judge_key: str, pairs: set[tuple[str, str]], chosen: set[str]
) -> list[Judgment]:
    t = schema.pairwise_judgments
    runs = {run for pair in pairs for run in pair}
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(
                t.c.run_a, t.c.run_b, t.c.sample_id, t.c.order, t.c.status, t.c.winner, t.c.reason
            ).where(t.c.judge_key == judge_key, t.c.run_a.in_(runs), t.c.run_b.in_(runs))
        ).all()
    return [
        Judgment(*row)
        for row in rows
        if (row.run_a, row.run_b) in pairs and row.sample_id in chosen
    ]
