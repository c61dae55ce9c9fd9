"""Viewer indexes for large runs: samples by status in sample order, and by time of writing.

`ix_samples_run_status_idx` replaces `ix_samples_run_status` (run, status): the same lookups,
and it lists a run's samples of one status in sample order with their ids, so a status filter
and the tail of a sorted list (the samples without a score, usually the errors) read a few
index entries instead of probing every sample of the run. `ix_samples_run_updated` gives the
live page's latest samples without sorting the whole run, and `ix_requests_run_tokens` the
samples list sorted by output tokens without sorting the whole run.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_viewer_indexes"
down_revision = "0005_annotations"
branch_labels = None
depends_on = None

NEW = {
    "ix_samples_run_status_idx": ("samples", ["run_id", "status", "idx", "sample_id"]),
    "ix_samples_run_updated": ("samples", ["run_id", "updated_at"]),
    "ix_requests_run_tokens": ("requests", ["run_id", "idx", "output_tokens", "sample_id"]),
}
RETIRED = "ix_samples_run_status"


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    found = {ix["name"] for table in ("samples", "requests") for ix in inspector.get_indexes(table)}
    for name, (table, columns) in NEW.items():
        if name not in found:
            op.create_index(name, table, columns)
    if RETIRED in found:
        op.drop_index(RETIRED, table_name="samples")


def downgrade() -> None:
    raise NotImplementedError("assay stores are upgraded only")
