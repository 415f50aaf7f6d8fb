"""Alembic revisions of the formcheck schema, one per schema version (a package so that it ships in wheels)."""
