"""A run's summary, computed from the store so a resumed run summarises all of its samples."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.analysis.scores import load_all_run_scores
from assay.analysis.stats import mean_ci
from assay.store import schema


def summarise(conn: Connection, run_id: str, main_metric: str) -> dict[str, Any]:
    s, rq = schema.samples, schema.requests
    status_counts: dict[str, int] = dict(
        conn.execute(
            sa.select(s.c.status, sa.func.count()).where(s.c.run_id == run_id).group_by(s.c.status)
        ).all()
    )
    metrics = {
        name: mean_ci(scores.values, clusters=scores.clustered).to_dict()
        for name, scores in sorted(load_all_run_scores(conn, run_id).items())
    }
    usage = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.sum(rq.c.input_tokens),
            sa.func.sum(rq.c.output_tokens),
            sa.func.avg(rq.c.latency_s),
            sa.func.sum(sa.cast(rq.c.cached, sa.Integer)),
        ).where(rq.c.run_id == run_id)
    ).one()
    errors_by_kind: dict[str, int] = {}
    for (error,) in conn.execute(
        sa.select(rq.c.error).where(rq.c.run_id == run_id, rq.c.error.is_not(None))
    ):
        if error:
            errors_by_kind[error["kind"]] = errors_by_kind.get(error["kind"], 0) + 1
    n_errors = int(status_counts.get("error", 0))
    n_unparsed = int(status_counts.get("unparsed", 0))
    n_total = int(sum(status_counts.values()))
    return {
        "main_metric": main_metric,
        "metrics": metrics,
        "n_samples": n_total,
        "n_scored": n_total - n_errors,
        "n_errors": n_errors,
        "n_unparsed": n_unparsed,
        "errors_by_kind": errors_by_kind,
        "requests": int(usage[0] or 0),
        "input_tokens": int(usage[1] or 0),
        "output_tokens": int(usage[2] or 0),
        "latency_mean_s": float(usage[3]) if usage[3] is not None else None,
        "cache_hits": int(usage[4] or 0),
    }
