"""Adopt a store made before migrations: add the columns and indexes it lacks.

Such a store is stamped at the baseline (its tables exist) and upgraded through this revision;
on a store created at the baseline every step finds its column or index already there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_adopt_older_stores"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None

# Nullable columns added to their tables after the tables first shipped.
COLUMNS = (
    ("samples", "confidence", sa.Float),
    ("runs", "benchmark_source", sa.Text),
)
# name: (table, columns), as the baseline has them
INDEXES = {
    "ix_samples_run_idx": ("samples", ["run_id", "idx", "sample_id"]),
    "ix_samples_run_status": ("samples", ["run_id", "status"]),
    "ix_requests_run_latency": (
        "requests",
        ["run_id", "idx", "latency_s", "sample_id", "output_tokens"],
    ),
    "ix_requests_cache_key": ("requests", ["cache_key"]),
    "ix_scores_run_metric_value": ("scores", ["run_id", "metric", "value", "sample_id"]),
}
RETIRED_INDEXES = ("ix_scores_run_metric",)


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, name, kind in COLUMNS:
        if name not in {c["name"] for c in inspector.get_columns(table)}:
            op.add_column(table, sa.Column(name, kind, nullable=True))
    for name, (table, columns) in INDEXES.items():
        found = {ix["name"]: ix["column_names"] for ix in inspector.get_indexes(table)}
        if name in found and list(found[name]) != columns:
            op.drop_index(name, table_name=table)
            del found[name]
        if name not in found:
            op.create_index(name, table, columns)
    for table in ("scores",):
        found_names = {ix["name"] for ix in inspector.get_indexes(table)}
        for name in RETIRED_INDEXES:
            if name in found_names:
                op.drop_index(name, table_name=table)


def downgrade() -> None:
    raise NotImplementedError("assay stores are upgraded only")
