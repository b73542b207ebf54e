"""Alembic migrations of the metadata database, run as a library (no ``alembic.ini``).

One hand-written revision per schema version dcai has shipped (``versions/``); each creates
that version's tables and records the version in ``dcai_meta.schema_version`` too, which
older dcai and :meth:`~dcai.store.MetadataStore.schema_version` read. The caller —
:meth:`dcai.store.MetadataStore.migrate` — opens one connection, takes the write lock, and
passes the connection to Alembic in ``config.attributes["connection"]``; ``env.py`` runs the
revisions on it, inside the caller's transaction. Importing this package loads Alembic, so
the metadata store imports it only when a database needs migrating.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command, op
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

__all__ = [
    "alembic_config",
    "downgrade",
    "meta_table",
    "revisions",
    "run_environment",
    "set_schema_version",
    "stamp",
    "upgrade",
]

#: This package, as Alembic's ``script_location`` (found through the import system, so an
#: installed wheel and an editable install both work).
SCRIPT_LOCATION = "dcai.store:migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, built in code, running on ``connection``."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    return config


def revisions() -> list[str]:
    """Every revision id, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [s.revision for s in reversed(list(script.walk_revisions()))]


def stamp(connection: Connection, revision: str) -> None:
    """Record ``revision`` as applied without running it (a database made before Alembic)."""
    command.stamp(alembic_config(connection), revision)


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Apply the revisions up to ``revision``, in the connection's transaction."""
    command.upgrade(alembic_config(connection), revision)


def downgrade(connection: Connection, revision: str) -> None:
    """Undo the revisions after ``revision`` (``"base"``: all of them)."""
    command.downgrade(alembic_config(connection), revision)


def run_environment(config: Config) -> None:
    """The body of ``env.py``: run the migrations Alembic chose on the caller's connection."""
    from alembic import context

    from dcai.store import schema as t

    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "dcai migrations run on a connection the caller opened and locked: pass it in "
            "config.attributes['connection'] (see dcai.store.MetadataStore.migrate)"
        )
    # Autogenerate (alembic.autogenerate.compare_metadata) compares against these tables.
    context.configure(connection=connection, target_metadata=t.metadata)
    # The caller's transaction is open, so this adds none: every revision and the
    # alembic_version row commit together, or none of them does.
    with context.begin_transaction():
        context.run_migrations()


def meta_table() -> sa.TableClause:
    """``dcai_meta`` as the revisions see it (frozen here: never the live table definition)."""
    return sa.table("dcai_meta", sa.column("key", sa.String), sa.column("value", sa.Text))


def set_schema_version(version: int) -> None:
    """Record ``version`` in ``dcai_meta.schema_version`` (inside a revision)."""
    meta = meta_table()
    op.execute(meta.delete().where(meta.c.key == "schema_version"))
    op.execute(meta.insert().values(key="schema_version", value=str(version)))
