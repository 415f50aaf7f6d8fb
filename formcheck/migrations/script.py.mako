"""${message}

Revision ${up_revision} (schema version ${int(up_revision) if up_revision.isdigit() else up_revision}),
after ${down_revision | comma,n}. Created ${create_date}.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    raise NotImplementedError("formcheck migrates forward only; restore a backup to go back")
