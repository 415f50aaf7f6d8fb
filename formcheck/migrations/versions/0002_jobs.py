"""Analysis jobs, to tell interrupted ones after a restart (schema version 2)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DESCRIPTION = "analysis jobs, to tell interrupted ones after a restart"


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("jobs"):
        return
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.DateTime, nullable=False, index=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("stage", sa.String(100), nullable=False),
        sa.Column("owner", sa.String(300), nullable=False),
        sa.Column("source_name", sa.String(200), nullable=False),
        sa.Column("source_kind", sa.String(16), nullable=False),
        sa.Column("request_json", sa.Text, nullable=False),
        sa.Column("session_id", sa.String(32), nullable=True),
        sa.Column("message", sa.Text, nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("formcheck migrates forward only; restore a backup to go back")
