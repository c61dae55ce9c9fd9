"""A large prediction stored once: as a span of its request's response text.

Three nullable columns on samples; rows written before keep their prediction as it is (a null
span means the prediction column holds it), so nothing is rewritten.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_prediction_span"
down_revision = "0006_viewer_indexes"
branch_labels = None
depends_on = None

COLUMNS = {
    "prediction_request": "request idx whose text holds it",
    "prediction_start": "0-based character offset there",
    "prediction_length": "its length in characters",
}


def upgrade() -> None:
    found = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("samples")}
    for name, comment in COLUMNS.items():
        if name not in found:
            op.add_column("samples", sa.Column(name, sa.Integer, nullable=True, comment=comment))


def downgrade() -> None:
    raise NotImplementedError("assay stores are upgraded only")
