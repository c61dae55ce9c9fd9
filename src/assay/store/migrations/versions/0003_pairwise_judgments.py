"""Pairwise judging: the judge's verdict on two runs' answers to a sample, in each order
(`assay pairwise`)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_pairwise_judgments"
down_revision = "0002_adopt_older_stores"
branch_labels = None
depends_on = None

# frozen here, as in the baseline: later schema changes need their own revision
Json = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("pairwise_judgments"):
        return  # a store adopted at the baseline that already has it
    op.create_table(
        "pairwise_judgments",
        sa.Column("run_a", sa.String(32), primary_key=True),
        sa.Column("run_b", sa.String(32), primary_key=True),
        sa.Column("sample_id", sa.String(200), primary_key=True),
        sa.Column("judge_key", sa.String(32), primary_key=True, comment="hash of the judge spec"),
        sa.Column("order", sa.String(2), primary_key=True, comment="ab: run_a's answer first"),
        sa.Column("judge", sa.String(500), nullable=False),
        sa.Column("judge_spec", Json, nullable=False, comment="model identity, prompt, settings"),
        sa.Column("cache_key", sa.String(64), nullable=False),
        sa.Column("request", Json, nullable=False),
        sa.Column("response", Json),
        sa.Column("text", sa.Text),
        sa.Column("error", Json),
        sa.Column("winner", sa.String(4), comment="a | b | tie; null when unread"),
        sa.Column("status", sa.String(20), nullable=False, comment="ok | unparsed | error"),
        sa.Column("reason", sa.Text),
        sa.Column("latency_s", sa.Float),
        sa.Column("input_tokens", sa.Integer),
        sa.Column("output_tokens", sa.Integer),
        sa.Column("cached", sa.Boolean, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.ForeignKeyConstraint(["run_a", "sample_id"], ["samples.run_id", "samples.sample_id"]),
        sa.ForeignKeyConstraint(["run_b", "sample_id"], ["samples.run_id", "samples.sample_id"]),
    )


def downgrade() -> None:
    raise NotImplementedError("assay stores are upgraded only")
