"""Sessions, flags with review state, comments (schema version 1).

The tables as version 1 made them; later columns come from later revisions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

DESCRIPTION = "sessions, flags with review state, comments"


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.DateTime, nullable=False, index=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("athlete", sa.String(80), nullable=False, index=True),
        sa.Column("source_kind", sa.String(16), nullable=False),
        sa.Column("source_name", sa.String(200), nullable=False),
        sa.Column("video_sha256", sa.String(64), nullable=False),
        sa.Column("analysis_key", sa.String(64), nullable=False, index=True),
        sa.Column("lift", sa.String(16), nullable=False),
        sa.Column("view", sa.String(16), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("rep_count", sa.Integer, nullable=False),
        sa.Column("flag_count", sa.Integer, nullable=False),
        sa.Column("duration_ms", sa.Float, nullable=True),
        sa.Column("reviewed_at", sa.DateTime, nullable=True),
        sa.Column("report_json", sa.Text, nullable=False),
        sa.Column("files_json", sa.Text, nullable=False),
    )
    op.create_table(
        "flags",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(32), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("rep", sa.Integer, nullable=False),
        sa.Column("code", sa.String(40), nullable=False, index=True),
        sa.Column("phase", sa.String(64), nullable=False),
        sa.Column("t_ms", sa.Float, nullable=True),
        sa.Column("frame", sa.Integer, nullable=True),
        sa.Column("measured", sa.Float, nullable=True),
        sa.Column("limit_value", sa.Float, nullable=True),
        sa.Column("units", sa.String(16), nullable=False),
        sa.Column("auto_severity", sa.String(8), nullable=True),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("measure", sa.String(64), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("origin", sa.String(8), nullable=False),
        sa.Column("review_status", sa.String(12), nullable=False, index=True),
        sa.Column("reviewed_at", sa.DateTime, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("session_id", "rep", "code", name="uq_flag_session_rep_code"),
    )
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("flag_id", sa.Integer, sa.ForeignKey("flags.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("formcheck migrates forward only; restore a backup to go back")
