"""Alembic environment: runs the revisions on the connection the store hands over (no ini needed)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from formcheck.storage import metadata

config = context.config
connection = config.attributes.get("connection")


def _run(conn: sa.Connection) -> None:
    context.configure(connection=conn, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    # formcheck.storage opened the connection and its write transaction (and, on PostgreSQL, took
    # the migration lock); the revisions run inside that transaction.
    _run(connection)
else:
    # A developer's ``alembic -c some.ini upgrade head`` names the database in the ini.
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()
