"""The provider batch ledger joins the schema.

`provider_batches` records each batch submitted to a provider's batch API, so a run killed while
its batch is at the provider resumes that batch instead of paying for a new one. Before this
revision the batch client created the table itself on first use: a store that has it keeps it,
rows and all (its columns are the ones below); any other store gets it empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_batch_ledger"
down_revision = "0002_adopt_older_stores"
branch_labels = None
depends_on = None

TABLE = "provider_batches"


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table(TABLE):
        return  # made by the batch client before this revision: the same table, kept as it is
    op.create_table(
        TABLE,
        sa.Column(
            "key", sa.String(length=64), nullable=False, comment="hash of model + custom ids"
        ),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=500), nullable=False),
        sa.Column("batch_id", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False, comment="running | collected"),
        sa.Column("n_requests", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    raise NotImplementedError("assay stores are upgraded only")
