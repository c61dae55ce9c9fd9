"""Human evaluation: the items annotators rate and their ratings (`assay annotate`).

A table already there is left as it is: a store adopted from before migrations is stamped at the
baseline and upgraded through every revision, and may have been made by an assay that had these
tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_annotations"
down_revision = "0004_pairwise_judgments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("annotation_items"):
        _items()
    if not inspector.has_table("annotation_ratings"):
        _ratings()


def _items() -> None:
    op.create_table(
        "annotation_items",
        sa.Column(
            "id",
            sa.String(length=32),
            nullable=False,
            comment="hash of kind, rubric, runs, sample",
        ),
        sa.Column("kind", sa.String(length=20), nullable=False, comment="rating | pairwise"),
        sa.Column("rubric", sa.String(length=40), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("other_run_id", sa.String(length=32), nullable=True, comment="pairwise: B"),
        sa.Column("sample_id", sa.String(length=200), nullable=False),
        sa.Column(
            "left_run_id",
            sa.String(length=32),
            nullable=True,
            comment="pairwise: the run shown first (left)",
        ),
        sa.Column(
            "seed", sa.BigInteger(), nullable=True, comment="pairwise: the seed that drew the order"
        ),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
        sa.ForeignKeyConstraint(["other_run_id"], ["runs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_annotation_items_run", "annotation_items", ["run_id", "sample_id"], unique=False
    )


def _ratings() -> None:
    op.create_table(
        "annotation_ratings",
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("annotator", sa.String(length=100), nullable=False),
        sa.Column(
            "value",
            sa.Float(),
            nullable=False,
            comment="the rubric's value; pairwise: 1 run_id better, 0 other_run_id better, 0.5 tie",
        ),
        sa.Column("source", sa.String(length=20), nullable=False, comment="web | import"),
        sa.Column("rated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["annotation_items.id"]),
        sa.PrimaryKeyConstraint("item_id", "annotator"),
    )
    op.create_index(
        "ix_annotation_ratings_annotator",
        "annotation_ratings",
        ["annotator", "item_id"],
        unique=False,
    )


def downgrade() -> None:
    raise NotImplementedError("assay stores are upgraded only")
