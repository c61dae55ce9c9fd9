"""Read-side queries shared by the CLI and the viewer."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from assay.store import schema
from assay.store.db import Store


def suite_names(store: Store) -> list[str]:
    with store.connect() as conn:
        return [r[0] for r in conn.execute(sa.select(schema.suites.c.name).order_by("name"))]


def default_suite(store: Store, *, prefer: str | None = None) -> str | None:
    """The suite to show when none is named: `prefer` if the store has it, else the most
    recently updated suite (a run of it added, started or finished last), else None.

    The CLI prefers `default` (where `assay run` writes without `--suite`); the viewer's
    front page prefers nothing and opens the suite that changed last.
    """
    names = suite_names(store)
    if prefer is not None and prefer in names:
        return prefer
    if len(names) <= 1:
        return names[0] if names else None
    s, r, sr = schema.suites, schema.runs, schema.suite_runs
    query = (
        sa.select(
            s.c.name,
            s.c.created_at,
            sa.func.max(sr.c.added_at),
            sa.func.max(sa.func.coalesce(r.c.finished_at, r.c.started_at, r.c.created_at)),
        )
        .select_from(s.outerjoin(sr, sr.c.suite == s.c.name).outerjoin(r, r.c.id == sr.c.run_id))
        .group_by(s.c.name, s.c.created_at)
    )
    with store.connect() as conn:
        rows = conn.execute(query).all()
    latest: dict[str, float] = {
        str(name): max(float(t) for t in times if t is not None) for name, *times in rows
    }
    return max(sorted(latest), key=lambda name: latest[name])


def latest_suite_runs(store: Store, suite: str) -> list[dict[str, Any]]:
    """The newest run with a summary for each (benchmark, model) in the suite."""
    r, sr = schema.runs, schema.suite_runs
    query = (
        sa.select(
            r.c.id,
            r.c.benchmark,
            r.c.model,
            r.c.main_metric,
            r.c.higher_is_better,
            r.c.groups,
            r.c.status,
            r.c.summary,
            r.c.finished_at,
            r.c.benchmark_version,
            r.c.dataset_hash,
        )
        .join(sr, sr.c.run_id == r.c.id)
        .where(sr.c.suite == suite, r.c.summary.is_not(None))
        .order_by(r.c.finished_at)
    )
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    with store.connect() as conn:
        for row in conn.execute(query).mappings():
            latest[(row["benchmark"], row["model"])] = dict(row)
    return list(latest.values())


def run_provenance(store: Store, run_id: str) -> dict[str, Any] | None:
    """A run's recorded provenance with its dataset hash, or None for an unknown run."""
    r, p = schema.runs, schema.run_provenance
    query = (
        sa.select(r.c.dataset_hash, r.c.benchmark_version, r.c.assay_version, p.c.provenance)
        .select_from(r.outerjoin(p, p.c.run_id == r.c.id))
        .where(r.c.id == run_id)
    )
    with store.connect() as conn:
        row = conn.execute(query).mappings().first()
    if row is None:
        return None
    out: dict[str, Any] = dict(row["provenance"] or {})
    out.setdefault("assay_version", row["assay_version"])
    out.setdefault("benchmark_version", row["benchmark_version"])
    out["dataset_hash"] = row["dataset_hash"]
    return out


def option_loglikelihoods(store: Store, model: str) -> dict[tuple[str, int], tuple[float, int]]:
    """(sample id, option) -> (log-likelihood, tokens) from a model's log-likelihood requests."""
    r, rq = schema.runs, schema.requests
    query = (
        sa.select(rq.c.sample_id, rq.c.idx, rq.c.response)
        .join(r, r.c.id == rq.c.run_id)
        .where(r.c.model == model, rq.c.response.is_not(None))
    )
    with store.connect() as conn:
        return {
            (sample_id, idx): (response["loglikelihood"], response["continuation_tokens"])
            for sample_id, idx, response in conn.execute(query)
            if response.get("loglikelihood") is not None
        }
