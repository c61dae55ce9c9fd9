"""Per-run counts for the viewer: a finished run's sample count and main-metric histogram.

The run page counted both on its first load of each run (one pass over the run's samples, one
over its scores: 400k SQLite steps for a 60k-sample run). The table is written when a run
stops; this revision also counts the runs already stopped, once, so an upgraded store gets the
fast page too. The counting is frozen here (10 equal bins, [0, 1] when every score is in it),
as `store.browse.histogram_of` does it today; a row is read only while its `finished_at` and
`metric` match the run's, and anything else is counted afresh by the viewer.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008_run_stats"
down_revision = "0007_prediction_span"
branch_labels = None
depends_on = None

BINS = 10
# frozen here, as in the baseline: later schema changes need their own revision
Json = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    bind = op.get_bind()
    if sa.inspect(bind).has_table("run_stats"):
        return
    stats = op.create_table(
        "run_stats",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("finished_at", sa.Float, nullable=False, comment="the run's when counted"),
        sa.Column("metric", sa.String(100), nullable=False, comment="the histogram's metric"),
        sa.Column("n_samples", sa.Integer, nullable=False, comment="samples stored"),
        sa.Column("histogram", Json, nullable=False, comment="[[low, high, count], ...]"),
        sa.Column("keyed", Json, nullable=False, comment="per sort: the samples with a key"),
    )
    runs = sa.table(
        "runs",
        sa.column("id"),
        sa.column("status"),
        sa.column("main_metric"),
        sa.column("finished_at"),
    )
    stopped = sa.select(runs.c.id, runs.c.main_metric, runs.c.finished_at).where(
        runs.c.status != "running", runs.c.finished_at.is_not(None)
    )
    for run_id, metric, finished_at in bind.execute(stopped).all():
        row = {
            "run_id": run_id,
            "finished_at": finished_at,
            "metric": metric,
            "n_samples": _size(bind, run_id),
            "histogram": _histogram(bind, run_id, metric),
            "keyed": _keyed(bind, run_id, metric),
        }
        bind.execute(sa.insert(stats), [row])


def _size(bind: sa.Connection, run_id: str) -> int:
    s = sa.table("samples", sa.column("run_id"))
    query = sa.select(sa.func.count()).select_from(s).where(s.c.run_id == run_id)
    return int(bind.execute(query).scalar_one())


def _keyed(bind: sa.Connection, run_id: str, metric: str) -> dict[str, int]:
    """Per sort of the samples list: the run's samples with a key (a score of the main metric,
    a first request with a latency, with output tokens)."""
    sc = sa.table("scores", sa.column("run_id"), sa.column("metric"))
    rq = sa.table(
        "requests",
        sa.column("run_id"),
        sa.column("idx"),
        sa.column("latency_s"),
        sa.column("output_tokens"),
    )
    first = sa.and_(rq.c.run_id == run_id, rq.c.idx == 0)
    wheres = {
        "score": (sc, sa.and_(sc.c.run_id == run_id, sc.c.metric == metric)),
        "latency": (rq, sa.and_(first, rq.c.latency_s.is_not(None))),
        "tokens": (rq, sa.and_(first, rq.c.output_tokens.is_not(None))),
    }
    out = {}
    for sort, (table, where) in wheres.items():
        query = sa.select(sa.func.count()).select_from(table).where(where)
        out[sort] = int(bind.execute(query).scalar_one())
    return out


def _histogram(bind: sa.Connection, run_id: str, metric: str) -> list[list[float]]:
    sc = sa.table("scores", sa.column("run_id"), sa.column("metric"), sa.column("value"))
    where = sa.and_(sc.c.run_id == run_id, sc.c.metric == metric)
    lo, hi = bind.execute(
        sa.select(sa.func.min(sc.c.value), sa.func.max(sc.c.value)).where(where)
    ).one()
    if lo is None:
        return []
    lo, hi = float(lo), float(hi)
    if lo >= 0.0 and hi <= 1.0:
        lo, hi = 0.0, 1.0
    width = (hi - lo) / BINS or 1.0
    edges = [lo + b * width for b in range(BINS + 1)]
    counts = []
    for b in range(BINS):
        upper = sc.c.value < edges[b + 1] if b < BINS - 1 else sa.true()
        query = (
            sa.select(sa.func.count()).select_from(sc).where(where, sc.c.value >= edges[b], upper)
        )
        counts.append(int(bind.execute(query).scalar_one()))
    return [[edges[b], edges[b + 1], counts[b]] for b in range(BINS)]


def downgrade() -> None:
    raise NotImplementedError("assay stores are upgraded only")
