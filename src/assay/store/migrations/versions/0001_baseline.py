"""Baseline: the schema of the first assay store managed by migrations.

Frozen here, not read from `assay.store.schema`, so later schema changes need their own revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

Json = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "cache",
        sa.Column(
            "key", sa.String(length=64), nullable=False, comment="hash of model identity + request"
        ),
        sa.Column("model", sa.String(length=500), nullable=False),
        sa.Column("response", Json, nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(length=32), nullable=False, comment="hash of the run spec"),
        sa.Column(
            "benchmark", sa.String(length=300), nullable=False, comment="variant, e.g. mmlu:shots=0"
        ),
        sa.Column("benchmark_name", sa.String(length=100), nullable=False),
        sa.Column("benchmark_version", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=500), nullable=False),
        sa.Column("spec", Json, nullable=False),
        sa.Column("groups", Json, nullable=False),
        sa.Column("main_metric", sa.String(length=100), nullable=False),
        sa.Column("higher_is_better", sa.Boolean(), nullable=False),
        sa.Column("dataset_hash", sa.String(length=32), nullable=True),
        sa.Column("assay_version", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("n_samples", sa.Integer(), nullable=True),
        sa.Column("summary", Json, nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=True),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column(
            "benchmark_source",
            sa.Text(),
            nullable=True,
            comment="file of a file-defined benchmark; empty for a registered name, "
            "null if unknown",
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "suites",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "run_provenance",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("provenance", Json, nullable=False, comment="versions, git revision, hashes"),
        sa.Column("recorded_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
        ),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_table(
        "samples",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("sample_id", sa.String(length=200), nullable=False),
        sa.Column(
            "idx", sa.Integer(), nullable=False, comment="position in the run's sample order"
        ),
        sa.Column("input", Json, nullable=False),
        sa.Column("references", Json, nullable=False),
        sa.Column("choices", Json, nullable=True),
        sa.Column("correct", sa.Integer(), nullable=True),
        sa.Column("metadata", Json, nullable=False),
        sa.Column("split", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False, comment="ok | unparsed | error"),
        sa.Column(
            "prediction",
            sa.Text(),
            nullable=True,
            comment="the answer read from the output; null if unread",
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column(
            "confidence",
            sa.Float(),
            nullable=True,
            comment="probability the model gave its answer, if known",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
        ),
        sa.PrimaryKeyConstraint("run_id", "sample_id"),
    )
    op.create_index("ix_samples_run_idx", "samples", ["run_id", "idx", "sample_id"], unique=False)
    op.create_index("ix_samples_run_status", "samples", ["run_id", "status"], unique=False)
    op.create_table(
        "suite_runs",
        sa.Column("suite", sa.String(length=200), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("added_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
        ),
        sa.ForeignKeyConstraint(
            ["suite"],
            ["suites.name"],
        ),
        sa.PrimaryKeyConstraint("suite", "run_id"),
    )
    op.create_table(
        "requests",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("sample_id", sa.String(length=200), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False, comment="request number within the sample"),
        sa.Column("cache_key", sa.String(length=64), nullable=False),
        sa.Column("request", Json, nullable=False),
        sa.Column("response", Json, nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("error", Json, nullable=True),
        sa.Column("latency_s", sa.Float(), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("cached", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id", "sample_id"],
            ["samples.run_id", "samples.sample_id"],
        ),
        sa.PrimaryKeyConstraint("run_id", "sample_id", "idx"),
    )
    op.create_index(
        "ix_requests_run_latency",
        "requests",
        ["run_id", "idx", "latency_s", "sample_id", "output_tokens"],
        unique=False,
    )
    op.create_index("ix_requests_cache_key", "requests", ["cache_key"], unique=False)
    op.create_table(
        "scores",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("sample_id", sa.String(length=200), nullable=False),
        sa.Column("metric", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id", "sample_id"],
            ["samples.run_id", "samples.sample_id"],
        ),
        sa.PrimaryKeyConstraint("run_id", "sample_id", "metric"),
    )
    op.create_index(
        "ix_scores_run_metric_value",
        "scores",
        ["run_id", "metric", "value", "sample_id"],
        unique=False,
    )
    meta = sa.table("meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.bulk_insert(meta, [{"key": "schema_version", "value": "1"}])


def downgrade() -> None:
    raise NotImplementedError("assay stores are upgraded only")
