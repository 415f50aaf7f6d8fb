"""Comments pinned to a time in the rep, comments.t_ms (schema version 3).

A database whose version-1 tables were made by a later release already has the column.
Existing comments keep t_ms NULL (not pinned to a time).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

DESCRIPTION = "comments pinned to a time in the rep (comments.t_ms)"


def upgrade() -> None:
    if "t_ms" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("comments")}:
        op.add_column("comments", sa.Column("t_ms", sa.Float, nullable=True))


def downgrade() -> None:
    raise NotImplementedError("formcheck migrates forward only; restore a backup to go back")
