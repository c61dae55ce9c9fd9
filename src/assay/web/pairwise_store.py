"""The viewer's reads of `pairwise_judgments` (what `assay pairwise` stored), bounded: every
query names the runs it reads, so it walks the table's primary key (run_a, run_b, sample_id)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from assay.store import schema
from assay.store.db import Store
from assay.store.payloads import expand

# run_a, run_b, sample, judge key, order, status, winner, reason
Verdict = tuple[str, str, str, str, str, str, str | None, str | None]


@dataclass(frozen=True)
class Judge:
    key: str
    label: str
    spec: dict[str, Any]


def contestants(store: Store, suite: str, benchmark: str) -> dict[str, str]:
    """Each model's newest finished run of the benchmark variant in the suite, in the order
    `assay pairwise` takes them (a model's first finish), model -> run id."""
    r, sr = schema.runs, schema.suite_runs
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(r.c.id, r.c.model)
            .join(sr, sr.c.run_id == r.c.id)
            .where(sr.c.suite == suite, r.c.status == "finished", r.c.benchmark == benchmark)
            .order_by(r.c.finished_at, r.c.id)
        ).all()
    return {row.model: row.id for row in rows}  # the last (newest) run wins


def _among(runs: Sequence[str]) -> sa.ColumnElement[bool]:
    t = schema.pairwise_judgments
    return sa.and_(t.c.run_a.in_(list(runs)), t.c.run_b.in_(list(runs)))


def has_verdicts(store: Store, runs: Sequence[str]) -> bool:
    if len(runs) < 2:
        return False
    t = schema.pairwise_judgments
    with store.connect() as conn:
        return conn.execute(sa.select(t.c.run_a).where(_among(runs)).limit(1)).first() is not None


def judged_benchmarks(store: Store, runs: Sequence[dict[str, Any]]) -> list[str]:
    """The benchmark variants of `runs` (a suite's) with pairwise verdicts between two of them:
    one primary-key lookup per variant, never a scan of the verdicts."""
    by_benchmark: dict[str, list[str]] = {}
    for run in runs:
        by_benchmark.setdefault(str(run["benchmark"]), []).append(str(run["id"]))
    return sorted(b for b, ids in by_benchmark.items() if has_verdicts(store, ids))


def fingerprint(store: Store, runs: Sequence[str]) -> tuple[int, float]:
    """Changes whenever a verdict among `runs` is written (a key for cached results)."""
    t = schema.pairwise_judgments
    with store.connect() as conn:
        count, latest = conn.execute(
            sa.select(sa.func.count(), sa.func.max(t.c.created_at)).where(_among(runs))
        ).one()
    return int(count), float(latest or 0.0)


def judges(store: Store, runs: Sequence[str]) -> list[Judge]:
    """The judges with verdicts among `runs`, by label."""
    t = schema.pairwise_judgments
    keys = (
        sa.select(t.c.judge_key, sa.func.min(t.c.judge).label("judge"))
        .where(_among(runs))
        .group_by(t.c.judge_key)
    )
    with store.connect() as conn:
        found = conn.execute(keys).all()
        out = []
        for key, label in found:
            spec = conn.execute(
                sa.select(t.c.judge_spec).where(t.c.judge_key == key, _among(runs)).limit(1)
            ).scalar_one()
            out.append(Judge(str(key), str(label), dict(spec or {})))
    return sorted(out, key=lambda j: (j.label, j.key))


def verdicts(store: Store, runs: Sequence[str]) -> list[Verdict]:
    """Every stored order's verdict among `runs`: what the tallies are computed from."""
    t = schema.pairwise_judgments
    query = sa.select(
        t.c.run_a, t.c.run_b, t.c.sample_id, t.c.judge_key, t.c.order, t.c.status, t.c.winner,
        t.c.reason,
    ).where(_among(runs))  # fmt: skip
    with store.connect() as conn:
        return [(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]) for r in conn.execute(query)]


def pair_samples(
    store: Store,
    run_a: str,
    run_b: str,
    *,
    judge: str | None,
    unscored: bool,
    limit: int,
    offset: int,
) -> tuple[list[str], int]:
    """One page of the pair's judged sample ids in run_a's order, and how many there are.
    `unscored`: only samples with an order unread or failed."""
    t, s = schema.pairwise_judgments, schema.samples
    where = [t.c.run_a == run_a, t.c.run_b == run_b]
    if judge:
        where.append(t.c.judge_key == judge)
    if unscored:
        where.append(t.c.status != "ok")
    ids = sa.select(t.c.sample_id).where(*where).distinct().subquery()
    with store.connect() as conn:
        total = int(conn.execute(sa.select(sa.func.count()).select_from(ids)).scalar_one())
        page = conn.execute(
            sa.select(ids.c.sample_id)
            .join(s, sa.and_(s.c.run_id == run_a, s.c.sample_id == ids.c.sample_id))
            .order_by(s.c.idx)
            .limit(limit)
            .offset(offset)
        ).all()
    return [str(sid) for (sid,) in page], total


def pair_rows(
    store: Store, run_a: str, run_b: str, sample_ids: Sequence[str], *, full: bool = False
) -> list[dict[str, Any]]:
    """The stored orders of the pair on these samples; `full`: with the raw request and the
    response as received."""
    t = schema.pairwise_judgments
    columns = (
        [t]
        if full
        else [
            t.c.sample_id, t.c.judge_key, t.c.judge, t.c.order, t.c.status, t.c.winner,
            t.c.reason,
        ]
    )  # fmt: skip
    query = (
        sa.select(*columns)
        .where(t.c.run_a == run_a, t.c.run_b == run_b, t.c.sample_id.in_(list(sample_ids)))
        .order_by(t.c.sample_id, t.c.judge, t.c.judge_key, t.c.order)
    )
    with store.connect() as conn:
        rows = [dict(m) for m in conn.execute(query).mappings()]
    for row in rows:
        if full and row.get("response") is not None:
            row["response"] = expand(row["response"], row.get("text"))
    return rows


def sample_pairs(store: Store, run_id: str, others: Sequence[str], sample_id: str) -> list[str]:
    """The runs among `others` that `run_id` was judged against on this sample."""
    t = schema.pairwise_judgments
    runs = [run_id, *others]
    query = (
        sa.select(t.c.run_a, t.c.run_b)
        .where(_among(runs), t.c.sample_id == sample_id)
        .where(sa.or_(t.c.run_a == run_id, t.c.run_b == run_id))
        .distinct()
    )
    with store.connect() as conn:
        found = conn.execute(query).all()
    return sorted({b if a == run_id else a for a, b in found})
