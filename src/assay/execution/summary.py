"""A run's summary, computed from the store so a resumed run summarises all of its samples.

Besides the mean of every per-sample metric it holds efficiency figures (latency percentiles,
tokens, throughput, cost where priced) and "run_metrics": numbers that only exist for the run as
a whole (corpus BLEU, BBQ's bias scores, calibration), computed from the scored sample rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.analysis.scores import load_all_run_scores
from assay.analysis.stats import mean_ci
from assay.benchmarks.base import RunMetric
from assay.metrics.efficiency import efficiency
from assay.requests import TRUNCATED_FINISH_REASONS
from assay.store import schema
from assay.store.payloads import prediction_of


def summarise(
    conn: Connection,
    run_id: str,
    main_metric: str,
    run_metrics: Sequence[RunMetric] = (),
    *,
    batch: bool = False,
) -> dict[str, Any]:
    """`batch`: the run went through a provider batch API, so it is priced at the batch rate."""
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
    # the model's own requests; a judge's (role "judge" in the request JSON) are counted apart
    own = rq.c.request["role"].as_string().is_(None)
    usage = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.sum(rq.c.input_tokens),
            sa.func.sum(rq.c.output_tokens),
            sa.func.sum(sa.cast(rq.c.cached, sa.Integer)),
        ).where(rq.c.run_id == run_id, own)
    ).one()
    truncated = conn.execute(
        sa.select(sa.func.count()).where(
            rq.c.run_id == run_id,
            own,
            rq.c.error.is_(None),
            rq.c.response["finish_reason"].as_string().in_(TRUNCATED_FINISH_REASONS),
        )
    ).scalar_one()
    errors_by_kind: dict[str, int] = {}
    for (error,) in conn.execute(
        sa.select(rq.c.error).where(rq.c.run_id == run_id, own, rq.c.error.is_not(None))
    ):
        if error:
            errors_by_kind[error["kind"]] = errors_by_kind.get(error["kind"], 0) + 1
    answered = conn.execute(
        sa.select(rq.c.latency_s, rq.c.input_tokens, rq.c.output_tokens).where(
            rq.c.run_id == run_id, own, rq.c.error.is_(None)
        )
    ).all()
    model = conn.execute(sa.select(schema.runs.c.model).where(schema.runs.c.id == run_id)).scalar()
    figures = efficiency(
        model or "",
        [r[0] for r in answered],
        [r[1] for r in answered],
        [r[2] for r in answered],
        batch=batch,
    )
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
        "n_truncated": int(truncated or 0),
        "errors_by_kind": errors_by_kind,
        "requests": int(usage[0] or 0),
        "input_tokens": int(usage[1] or 0),
        "output_tokens": int(usage[2] or 0),
        "cache_hits": int(usage[3] or 0),
        **figures,
        "batch": batch,
        "run_metrics": _run_metrics(conn, run_id, run_metrics),
        **_judge_counts(conn, run_id),
    }


def _judge_counts(conn: Connection, run_id: str) -> dict[str, int]:
    """For a judged run: samples whose judge verdict could not be read (`judge_unparsed`) or
    whose judge call failed (`judge_errors`), left out of the judged metrics' means, and the
    judge's requests. Nothing for a run without a judge."""
    s, rq = schema.samples, schema.requests
    status = s.c.metadata["judge_status"].as_string()
    counts: dict[str | None, int] = dict(
        conn.execute(
            sa.select(status, sa.func.count())
            .where(s.c.run_id == run_id, status.is_not(None))
            .group_by(status)
        ).all()
    )
    if not counts:
        return {}
    judge_requests = conn.execute(
        sa.select(sa.func.count()).where(
            rq.c.run_id == run_id, rq.c.request["role"].as_string() == "judge"
        )
    ).scalar_one()
    return {
        "judge_ok": int(counts.get("ok", 0)),
        "judge_unparsed": int(counts.get("unparsed", 0)),
        "judge_errors": int(counts.get("error", 0)),
        "judge_requests": int(judge_requests or 0),
    }


def scored_rows(conn: Connection, run_id: str) -> list[dict[str, Any]]:
    """The sample rows a run-level metric reads: every sample that got an answer (not errors)."""
    s = schema.samples
    columns = (
        prediction_of(s).label("prediction"),
        s.c.correct,
        s.c.choices,
        s.c.references,
        s.c.metadata,
    )
    query = (
        sa.select(*columns, s.c.confidence)
        .where(s.c.run_id == run_id, s.c.status != "error")
        .order_by(s.c.idx)
    )
    return [dict(row._mapping) for row in conn.execute(query)]


def _run_metrics(
    conn: Connection, run_id: str, run_metrics: Sequence[RunMetric]
) -> dict[str, float | None]:
    if not run_metrics:
        return {}
    rows = scored_rows(conn, run_id)
    out: dict[str, float | None] = {}
    for metric in run_metrics:
        for name, value in metric(rows).items():
            out[name] = None if math.isnan(value) else float(value)  # JSON has no NaN
    return out
