"""Human evaluation in the store: the items annotators rate and their ratings (the only code
that reads or writes the two annotation tables)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from assay.store import schema
from assay.store.db import Store, now, upsert

ITEMS, RATINGS = schema.annotation_items, schema.annotation_ratings
_CHUNK = 500  # ids per IN (...) list


def available(store: Store) -> bool:
    """Whether the store has the annotation tables (a store an older assay wrote, opened
    read-only, has not)."""
    with store.connect() as conn:
        return sa.inspect(conn).has_table(RATINGS.name)


def register_items(store: Store, items: Sequence[dict[str, Any]]) -> None:
    """Record items (rows of `annotation_items` without `created_at`). An item already there is
    kept as it was first recorded, so a pairwise item keeps the order its annotators saw."""
    stamp = now()
    rows = [{**item, "created_at": stamp} for item in items]
    with store.begin() as conn:
        for start in range(0, len(rows), _CHUNK):
            upsert(conn, ITEMS, rows[start : start + _CHUNK], update=False)


def items_by_id(store: Store, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    wanted = list(dict.fromkeys(ids))
    out: dict[str, dict[str, Any]] = {}
    with store.connect() as conn:
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            for row in conn.execute(sa.select(ITEMS).where(ITEMS.c.id.in_(chunk))).mappings():
                out[row["id"]] = dict(row)
    return out


def save_ratings(store: Store, ratings: Sequence[dict[str, Any]], *, source: str) -> None:
    """Write ratings ({item_id, annotator, value}) in one transaction: all or none. A rating an
    annotator gave before for the same item is replaced."""
    stamp = now()
    rows = [
        {
            "item_id": r["item_id"],
            "annotator": r["annotator"],
            "value": float(r["value"]),
            "source": source,
            "rated_at": stamp,
        }
        for r in ratings
    ]
    with store.begin() as conn:
        for start in range(0, len(rows), _CHUNK):
            upsert(conn, RATINGS, rows[start : start + _CHUNK])


def ratings_of(
    store: Store, item_ids: Iterable[str] | None = None, *, annotator: str | None = None
) -> list[dict[str, Any]]:
    """Ratings (item_id, annotator, value, source, rated_at): of these items, or all; of one
    annotator, or all."""
    query = sa.select(RATINGS).order_by(RATINGS.c.item_id, RATINGS.c.annotator)
    if annotator is not None:
        query = query.where(RATINGS.c.annotator == annotator)
    with store.connect() as conn:
        if item_ids is None:
            return [dict(r) for r in conn.execute(query).mappings()]
        wanted = list(dict.fromkeys(item_ids))
        out: list[dict[str, Any]] = []
        for start in range(0, len(wanted), _CHUNK):
            chunk = query.where(RATINGS.c.item_id.in_(wanted[start : start + _CHUNK]))
            out += [dict(r) for r in conn.execute(chunk).mappings()]
        return out


def values_of(store: Store, annotator: str) -> dict[str, float]:
    """item id -> value of every rating one annotator gave (the page reads this per request:
    two columns through the annotator's index, no row objects)."""
    query = sa.select(RATINGS.c.item_id, RATINGS.c.value).where(RATINGS.c.annotator == annotator)
    with store.connect() as conn:
        return {str(item): float(value) for item, value in conn.execute(query)}


def rated_items(store: Store) -> list[dict[str, Any]]:
    """Every item with at least one rating, with its run's benchmark and model (and the other
    run's model for a pairwise item)."""
    r, other = schema.runs, schema.runs.alias("other")
    has_rating = sa.exists().where(RATINGS.c.item_id == ITEMS.c.id)
    query = (
        sa.select(
            ITEMS,
            r.c.benchmark,
            r.c.model,
            other.c.model.label("other_model"),
        )
        .join(r, r.c.id == ITEMS.c.run_id)
        .outerjoin(other, other.c.id == ITEMS.c.other_run_id)
        .where(has_rating)
        .order_by(r.c.benchmark, ITEMS.c.rubric, ITEMS.c.id)
    )
    with store.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def sample_texts(
    store: Store, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """For (run, sample) pairs: the sample's input and references, and the model's answer
    (its first request's text; the answer read from it when the request has no text). Read a
    run and a few hundred samples at a time."""
    s, rq = schema.samples, schema.requests
    by_run: dict[str, list[str]] = {}
    for run_id, sample_id in dict.fromkeys(keys):
        by_run.setdefault(run_id, []).append(sample_id)
    first_request = sa.and_(
        rq.c.run_id == s.c.run_id, rq.c.sample_id == s.c.sample_id, rq.c.idx == 0
    )
    columns = (s.c.sample_id, s.c.input, s.c.references, s.c.status, s.c.prediction, rq.c.text)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    with store.connect() as conn:
        for run_id, sample_ids in by_run.items():
            for start in range(0, len(sample_ids), _CHUNK):
                chunk = sample_ids[start : start + _CHUNK]
                query = (
                    sa.select(*columns)
                    .select_from(s.outerjoin(rq, first_request))
                    .where(s.c.run_id == run_id, s.c.sample_id.in_(chunk))
                )
                for row in conn.execute(query):
                    text = row.text if row.text is not None else (row.prediction or "")
                    out[(run_id, row.sample_id)] = {
                        "input": row.input,
                        "references": row.references or [],
                        "status": row.status,
                        "response": text,
                    }
    return out


def answered_samples(store: Store, run_id: str) -> list[str]:
    """A run's sample ids in run order, leaving out samples whose request failed (no answer to
    rate)."""
    s = schema.samples
    query = (
        sa.select(s.c.sample_id)
        .where(s.c.run_id == run_id, s.c.status != "error")
        .order_by(s.c.idx, s.c.sample_id)
    )
    with store.connect() as conn:
        return [str(v) for v in conn.execute(query).scalars()]


def judge_requests(store: Store, keys: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """The judge requests stored for (run, sample) pairs (request JSON with `role: judge`):
    run_id, sample_id, judge (its model label), metrics, text, error."""
    rq = schema.requests
    wanted = sorted(set(keys))
    runs: dict[str, set[str]] = {}
    for run_id, sample_id in wanted:
        runs.setdefault(run_id, set()).add(sample_id)
    out: list[dict[str, Any]] = []
    with store.connect() as conn:
        for run_id, sample_ids in runs.items():
            query = sa.select(rq.c.sample_id, rq.c.request, rq.c.text, rq.c.error).where(
                rq.c.run_id == run_id, rq.c.idx > 0
            )
            for sample_id, request, text, error in conn.execute(query):
                if sample_id not in sample_ids or not isinstance(request, dict):
                    continue
                if request.get("role") != "judge":
                    continue
                out.append(
                    {
                        "run_id": run_id,
                        "sample_id": sample_id,
                        "judge": str(request.get("judge") or "judge"),
                        "metrics": list(request.get("metrics") or []),
                        "text": text,
                        "error": error,
                    }
                )
    return out


def pairwise_verdicts(store: Store, keys: Iterable[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """`assay pairwise`'s stored verdicts for (run_a, run_b, sample) triples (run ids in sorted
    order, as both tables keep them): judge (its model label), order, winner, status, reason."""
    t = schema.pairwise_judgments
    wanted = set(keys)
    pairs = sorted({(a, b) for a, b, _ in wanted})
    out: list[dict[str, Any]] = []
    with store.connect() as conn:
        if not sa.inspect(conn).has_table(t.name):
            return []
        for run_a, run_b in pairs:
            query = sa.select(
                t.c.sample_id, t.c.judge, t.c.order, t.c.winner, t.c.status, t.c.reason
            ).where(t.c.run_a == run_a, t.c.run_b == run_b)
            for row in conn.execute(query).mappings():
                if (run_a, run_b, row["sample_id"]) in wanted:
                    out.append({"run_a": run_a, "run_b": run_b, **row})
    return out
