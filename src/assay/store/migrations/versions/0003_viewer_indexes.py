"""Viewer indexes for large runs: samples by status in sample order, and by time of writing.

`ix_samples_run_status_idx` replaces `ix_samples_run_status` (run, status): the same lookups,
and it lists a run's samples of one status in sample order with their ids, so a status filter
and the tail of a sorted list (the samples without a score, usually the errors) read a few
index entries instead of probing every sample of the run. `ix_samples_run_updated` gives the
live page's latest samples without sorting the whole run.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_viewer_indexes"
down_revision = "0002_adopt_older_stores"
branch_labels = None
depends_on = None

NEW = {
    "ix_samples_run_status_idx": ["run_id", "status", "idx", "sample_id"],
    "ix_samples_run_updated": ["run_id", "updated_at"],
}
RETIRED = "ix_samples_run_status"


def upgrade() -> None:
    found = {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes("samples")}
    for name, columns in NEW.items():
        if name not in found:
            op.create_index(name, "samples", columns)
    if RETIRED in found:
        op.drop_index(RETIRED, table_name="samples")


def downgrade() -> None:
    raise NotImplementedError("assay stores are upgraded only")
