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

from assay.analysis.agreement import KappaWeights, Level, cohen_kappa, krippendorff_alpha
from assay.analysis.scores import load_all_run_scores
from assay.analysis.stats import mean_ci
from assay.benchmarks.base import RunMetric
from assay.metrics.efficiency import efficiency
from assay.metrics.panel import same_family
from assay.metrics.registry import describe
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


def _judge_counts(conn: Connection, run_id: str) -> dict[str, Any]:
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
    extra = {f"judge_{k}": int(counts.get(k, 0)) for k in ("partial", "split") if counts.get(k)}
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
        **extra,
        **_judges(conn, run_id),
    }


def _judges(conn: Connection, run_id: str) -> dict[str, Any]:
    """Who judged: `same_family_judges`, the judges of the run's model's own family (they may
    prefer it); for a panel, `panel`: each judge's samples by outcome (its worst over the
    metrics: error, unparsed, ok) and, per judged metric, the judges'
    agreement (Cohen's kappa for two, Krippendorff's alpha for more) over the samples scored."""
    r, s = schema.runs, schema.samples
    found = conn.execute(sa.select(r.c.model, r.c.spec).where(r.c.id == run_id)).first()
    if found is None:
        return {}
    model, spec = found
    labels = [str(j.get("label", "")) for j in (spec or {}).get("judges", [])]
    out: dict[str, Any] = {"same_family_judges": [j for j in labels if same_family(j, model)]}
    if len(labels) < 2:
        return out
    per_judge = {label: {"ok": 0, "unparsed": 0, "error": 0} for label in labels}
    ratings: dict[str, dict[str, list[float | None]]] = {}
    status = s.c.metadata["judge_status"].as_string()
    rows = conn.execute(
        sa.select(s.c.metadata).where(s.c.run_id == run_id, status.is_not(None)).order_by(s.c.idx)
    )
    for (meta,) in rows:
        seen: dict[str, set[str]] = {label: set() for label in labels}
        for metric, verdict in (meta.get("judge") or {}).items():
            said = verdict.get("judges") or {}
            table = ratings.setdefault(metric, {label: [] for label in labels})
            for label in labels:
                one = said.get(label) or {}
                seen[label].add(str(one.get("status")))
                table[label].append(one.get("score") if one.get("status") == "ok" else None)
        for label, statuses in seen.items():  # per sample: its worst verdict over the metrics
            worst = next((k for k in ("error", "unparsed", "ok") if k in statuses), None)
            if worst is not None:
                per_judge[label][worst] += 1
    out["panel"] = {
        "aggregate": spec.get("panel_aggregate", "mean"),
        "judges": per_judge,
        "agreement": {metric: agreement(metric, table) for metric, table in ratings.items()},
    }
    return out


def agreement(metric: str, table: dict[str, list[float | None]]) -> dict[str, Any]:
    """The judges' agreement on one metric: kappa for two judges (samples both scored; weighted
    quadratically for graded metrics), alpha for more (nominal for 0/1 metrics, interval
    otherwise); None where undefined."""
    columns = list(table.values())
    described = describe(metric)
    level: Level = "nominal" if described is not None and described.binary else "interval"
    if len(columns) == 2:
        pairs = [(a, b) for a, b in zip(*columns, strict=True) if a is not None and b is not None]
        # graded scores: a near miss counts less than a far one
        weights: KappaWeights = "none" if level == "nominal" else "quadratic"
        left, right = [a for a, _ in pairs], [b for _, b in pairs]
        value = cohen_kappa(left, right, weights) if pairs else math.nan
        return {
            "statistic": "cohen_kappa",
            "weights": weights,
            "value": _finite(value),
            "n": len(pairs),
        }
    pairable = sum(1 for unit in zip(*columns, strict=True) if sum(v is not None for v in unit) > 1)
    try:
        value = krippendorff_alpha(columns, level) if pairable else math.nan
    except ValueError:
        value = math.nan
    return {
        "statistic": "krippendorff_alpha",
        "level": level,
        "value": _finite(value),
        "n": pairable,
    }


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else float(value)  # JSON has no NaN


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
