"""Alembic's environment for the metadata database: migrations run on the caller's connection.

dcai runs Alembic as a library (:mod:`dcai.store.migrations`): the caller opens the
connection, takes the write lock and passes the connection in
``config.attributes["connection"]``; this script never opens one of its own.
"""

from __future__ import annotations

from alembic import context

from dcai.store.migrations import run_environment

# Alembic installs ``context`` while it runs this script; merely importing the module (a test
# collector, a doc tool) must do nothing.
if getattr(context, "_proxy", None) is not None:
    run_environment(context.config)
