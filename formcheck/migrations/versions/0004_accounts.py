"""Accounts (coach, athlete), roster, named athletes, session owner (schema version 4).

A database whose version-1 tables were made by a later release already has sessions.owner_id.
Existing sessions keep owner_id NULL until an athlete account of their athlete's name adopts them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DESCRIPTION = "accounts (coach, athlete), roster, named athletes, session owner"


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if "owner_id" not in {c["name"] for c in inspector.get_columns("sessions")}:
        op.add_column("sessions", sa.Column("owner_id", sa.Integer, nullable=True))
        op.create_index("ix_sessions_owner_id", "sessions", ["owner_id"])
    if not inspector.has_table("users"):
        op.create_table(
            "users",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("name", sa.String(80), nullable=False, unique=True),
            sa.Column("role", sa.String(16), nullable=False),
            sa.Column("password_hash", sa.String(255), nullable=False),
            sa.Column("created_at", sa.DateTime, nullable=False),
        )
    if not inspector.has_table("roster"):
        op.create_table(
            "roster",
            sa.Column("coach_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
            sa.Column("athlete_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True,
                      index=True),
        )
    if not inspector.has_table("athletes"):
        op.create_table(
            "athletes",
            sa.Column("name", sa.String(80), primary_key=True),
            sa.Column("created_at", sa.DateTime, nullable=False),
        )


def downgrade() -> None:
    raise NotImplementedError("formcheck migrates forward only; restore a backup to go back")
