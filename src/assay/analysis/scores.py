"""Reading per-sample scores from the store, with the cluster each sample belongs to.

Samples share a source when their metadata names one: `cluster` (any benchmark can set it),
else `subject` (MMLU and its kin), else `template` (BBQ). Confidence intervals are clustered by
that label when a run has at least two clusters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa
from numpy.typing import NDArray
from sqlalchemy.engine import Connection

from assay.store import schema

CLUSTER_KEYS = ("cluster", "subject", "template")


def cluster_expression() -> sa.ColumnElement[Any]:
    meta = schema.samples.c.metadata
    return sa.func.coalesce(*(meta[key].as_string() for key in CLUSTER_KEYS))


@dataclass
class RunScores:
    """One metric of one run: values in sample order, with sample ids and cluster labels."""

    sample_ids: list[str]
    values: NDArray[np.float64]
    clusters: list[str | None]

    @property
    def clustered(self) -> list[str | None] | None:
        """Cluster labels when any sample has one, else None (i.i.d. samples)."""
        return self.clusters if any(c is not None for c in self.clusters) else None


def load_run_scores(conn: Connection, run_id: str, metric: str) -> RunScores:
    sc, s = schema.scores, schema.samples
    query = (
        sa.select(sc.c.sample_id, sc.c.value, cluster_expression())
        .select_from(
            sc.join(s, sa.and_(s.c.run_id == sc.c.run_id, s.c.sample_id == sc.c.sample_id))
        )
        .where(sc.c.run_id == run_id, sc.c.metric == metric)
        .order_by(s.c.idx)
    )
    rows = conn.execute(query).all()
    return RunScores(
        [r[0] for r in rows],
        np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows)),
        [None if r[2] is None else str(r[2]) for r in rows],
    )


def load_all_run_scores(conn: Connection, run_id: str) -> dict[str, RunScores]:
    """Every metric of a run."""
    sc, s = schema.scores, schema.samples
    query = (
        sa.select(sc.c.metric, sc.c.sample_id, sc.c.value, cluster_expression())
        .select_from(
            sc.join(s, sa.and_(s.c.run_id == sc.c.run_id, s.c.sample_id == sc.c.sample_id))
        )
        .where(sc.c.run_id == run_id)
        .order_by(sc.c.metric, s.c.idx)
    )
    grouped: dict[str, tuple[list[str], list[float], list[str | None]]] = {}
    for metric, sample_id, value, cluster in conn.execute(query):
        ids, values, clusters = grouped.setdefault(metric, ([], [], []))
        ids.append(sample_id)
        values.append(value)
        clusters.append(None if cluster is None else str(cluster))
    return {
        m: RunScores(ids, np.asarray(values, dtype=np.float64), clusters)
        for m, (ids, values, clusters) in grouped.items()
    }
