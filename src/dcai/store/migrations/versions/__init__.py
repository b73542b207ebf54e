"""Alembic revisions of the metadata database, one per shipped schema version (written by hand)."""
