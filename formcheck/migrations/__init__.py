"""The database schema's migrations, run by Alembic (see ``formcheck.storage.Store.migrate``).

The store upgrades its database itself every time it is opened, so users never run Alembic and need
no ``alembic.ini``: this package is the Alembic script folder (``env.py``, ``versions/``) and ships
inside the installed package.

Revisions are numbered like the schema version they make: ``0001`` ... ``0004`` are the four
migrations of the hand-written runner that came before Alembic; a database made by that runner
(``schema_migrations`` up to version N, no ``alembic_version``) is stamped ``000N`` on first open and
upgraded from there. Each revision keeps its own copy of the tables it creates (never the current
``formcheck.storage`` tables, which change), and its checks whether a column or table already exists
(databases of earlier releases made the later tables' columns up front).

A new schema change: add ``versions/NNNN_<what>.py`` (revision ``"NNNN"``, down_revision the previous
one), change the tables in ``formcheck/storage.py`` to match and raise ``SCHEMA_VERSION``;
tests/test_migrations.py checks that the revisions build exactly the tables storage.py declares, on
SQLite and PostgreSQL. Developers may also use the ``alembic`` command with ``-c`` pointing at an ini
whose ``script_location`` is ``formcheck:migrations`` and ``sqlalchemy.url`` names the database.
"""
