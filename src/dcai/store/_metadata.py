"""The metadata database: engine set-up, schema versions and migrations, transactions.

SQLite (the default) runs in WAL mode so readers never block the writer, and every write
transaction starts with ``BEGIN IMMEDIATE`` so two writers queue on the lock instead of
deadlocking half-way. A writer that waits longer than the lock timeout gets
:class:`~dcai.errors.WorkspaceBusyError`, which callers may retry. Any other SQLAlchemy
URL (PostgreSQL) uses the same tables and migrations.

Migrations are Alembic revisions (:mod:`dcai.store.migrations`), one per schema version.
Opening a database that is at the head revision reads two small tables and loads no Alembic;
anything older is migrated under the write lock (:meth:`MetadataStore.migrate`).
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    URL,
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    event,
    exc,
    func,
    inspect,
    select,
    text,
)

from dcai.errors import StorageError, WorkspaceBusyError, WorkspaceError
from dcai.store import schema as t
from dcai.store._objects import storage_error

__all__ = ["HEAD_REVISION", "REVISIONS", "SCHEMA_VERSION", "MetadataStore", "MigrationStatus"]

#: The schema this dcai writes. Workspaces with an older schema are migrated on open.
SCHEMA_VERSION = 7

#: The Alembic revision of each schema version, oldest first: ``REVISIONS[n - 1]`` made
#: schema ``n``. A test checks this against the revision files in ``migrations/versions``.
REVISIONS: tuple[str, ...] = (
    "0001_datasets",
    "0002_audits",
    "0003_labels",
    "0004_runs",
    "0005_registry",
    "0006_deployments",
    "0007_monitor",
)
HEAD_REVISION = REVISIONS[-1]

_VERSION_TABLE = "alembic_version"
_UPGRADE_HINT = "Upgrade dcai: pip install --upgrade dcai"

_DEFAULT_LOCK_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class MigrationStatus:
    """Where a database's schema stands against this dcai's migrations."""

    #: The revision in ``alembic_version``; None for a database made before Alembic (or empty).
    revision: str | None
    #: ``dcai_meta.schema_version``; 0 for an empty database.
    schema_version: int

    @property
    def current(self) -> str | None:
        """The revision the schema is at (for a database made before Alembic: from its
        schema version, which the migration stamps first)."""
        if self.revision is not None:
            return self.revision
        return REVISIONS[self.schema_version - 1] if self.schema_version else None

    @property
    def head(self) -> str:
        return HEAD_REVISION

    @property
    def pending(self) -> list[str]:
        """The revisions a migration would apply, oldest first."""
        current = self.current
        return list(REVISIONS[REVISIONS.index(current) + 1 :] if current else REVISIONS)

    @property
    def up_to_date(self) -> bool:
        return self.revision == HEAD_REVISION and self.schema_version == SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "head": self.head,
            "pending": self.pending,
            "stamped": self.revision is not None,
            "schema_version": self.schema_version,
            "up_to_date": self.up_to_date,
        }


def _read_status(conn: Connection) -> MigrationStatus:
    """The recorded revision and schema version (plain SQL: no Alembic needed)."""
    dialect = conn.dialect
    schema_version = 0
    if dialect.has_table(conn, t.meta.name):
        value = conn.execute(
            select(t.meta.c.value).where(t.meta.c.key == "schema_version")
        ).scalar_one_or_none()
        schema_version = int(value) if value is not None else 0
    revision: str | None = None
    if dialect.has_table(conn, _VERSION_TABLE):
        found = conn.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalars()
        rows = [str(r) for r in found]
        # Several heads (branches) are nothing this dcai wrote: refused as unknown below.
        revision = ", ".join(sorted(rows)) if rows else None
    return MigrationStatus(revision=revision, schema_version=schema_version)


#: Alembic's own bookkeeping table, as Alembic creates it (for stamping a new database).
_VERSION = Table(
    _VERSION_TABLE,
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def _has_tables(conn: Connection) -> bool:
    return bool(inspect(conn).get_table_names())


def _lock_for_migration(conn: Connection) -> None:
    """Serialise concurrent migrations of one database (first opens racing each other).

    SQLite: nothing to do — the transaction began with ``BEGIN IMMEDIATE``, which holds the
    database's one write lock until it commits. PostgreSQL (issue #12): take a
    transaction-scoped advisory lock here, ``SELECT pg_advisory_xact_lock(<dcai key>)``, so
    the re-read of the revision that follows sees any migration that finished meanwhile.
    """
    if conn.dialect.name == "sqlite":
        return
    # Issue #12: pg_advisory_xact_lock goes here.


def sqlite_file(url: str) -> str | None:
    """The file a ``sqlite:///PATH`` URL names, taken literally (no query, no %-decoding).

    >>> sqlite_file("sqlite:////tmp/my ws?x#1%41/metadata.db")
    '/tmp/my ws?x#1%41/metadata.db'
    >>> sqlite_file("sqlite:///:memory:") is None, sqlite_file("postgresql://h/db") is None
    (True, True)
    """
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    path = url[len(prefix) :]
    return None if not path or path == ":memory:" else path


def _read_only_fs(path: str) -> bool:
    try:
        return bool(os.statvfs(os.path.dirname(path) or ".").f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _free_bytes(path: str) -> int | None:
    try:
        return shutil.disk_usage(os.path.dirname(path) or ".").free
    except OSError:
        return None


def _lock_timeout() -> float:
    raw = os.environ.get("DCAI_LOCK_TIMEOUT")
    try:
        return float(raw) if raw else _DEFAULT_LOCK_TIMEOUT_S
    except ValueError:
        return _DEFAULT_LOCK_TIMEOUT_S


def _is_busy(error: BaseException) -> bool:
    original = getattr(error, "orig", error)
    return isinstance(original, sqlite3.OperationalError) and (
        "locked" in str(original) or "busy" in str(original)
    )


class MetadataStore:
    """Connections and transactions on the metadata database."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine: Engine = self._create_engine(url)
        if migrate:
            self._migrate()

    @staticmethod
    def _create_engine(url: str) -> Engine:
        if not url.startswith("sqlite"):
            return create_engine(url, pool_pre_ping=True)
        timeout = _lock_timeout()
        path = sqlite_file(url)
        # A workspace path is a path, never parsed as a URL: '?', '#', '%41' and spaces in
        # folder names stay as they are.
        target: str | URL = URL.create("sqlite", database=path) if path is not None else url
        engine = create_engine(target, connect_args={"timeout": timeout, "isolation_level": None})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # Writers take the lock up front; readers start a deferred (shared) transaction.
            readonly = conn.get_execution_options().get("dcai_readonly", False)
            conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

        return engine

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction: all of it commits, or none of it does."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except exc.OperationalError as error:
            if _is_busy(error):
                raise WorkspaceBusyError(
                    "the workspace is busy: another process is writing to it",
                    hint="Wait for it to finish and try again (or raise DCAI_LOCK_TIMEOUT).",
                ) from error
            storage = self._storage_error(error)
            if storage is not None:
                raise storage from error
            raise

    def _storage_error(self, error: BaseException) -> StorageError | None:
        """A full disk or read-only file under SQLite, as one line naming the file."""
        text = str(getattr(error, "orig", error)).lower()
        reasons = {
            "database or disk is full": errno.ENOSPC,
            "disk i/o error": errno.EIO,
            "readonly database": errno.EROFS,
            "unable to open database": errno.EACCES,
        }
        code = next((v for k, v in reasons.items() if k in text), None)
        if code is None:
            return None
        path = self.sqlite_path() or self.url
        if code in (errno.EROFS, errno.EACCES) and _read_only_fs(path):
            code = errno.EROFS
        if code == errno.EIO:
            # SQLite reports a full disk during the WAL checkpoint as an I/O error.
            free = _free_bytes(path)
            code = errno.ENOSPC if free is not None and free < 1 << 20 else errno.EIO
        if code == errno.EIO:
            return StorageError(
                f"cannot write the metadata database {path}: disk I/O error",
                hint="Nothing was committed; check the disk, then run `dcai verify`.",
            )
        return storage_error(OSError(code, text), path, what="write the metadata database")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads."""
        with self.engine.connect() as conn:
            conn.execution_options(dcai_readonly=True)
            yield conn

    def schema_version(self) -> int:
        """The schema version recorded in the database (0 for an empty database)."""
        with self.read() as conn:
            if not self.engine.dialect.has_table(conn, t.meta.name):
                return 0
            value = conn.execute(
                select(t.meta.c.value).where(t.meta.c.key == "schema_version")
            ).scalar_one_or_none()
        return int(value) if value is not None else 0

    def migration_status(self) -> MigrationStatus:
        """Where the schema stands; refuses a database written by a newer dcai.

        Changes nothing (a SQLite file that does not exist yet is not created).
        """
        path = self.sqlite_path()
        if path is not None and not os.path.exists(path):
            return MigrationStatus(revision=None, schema_version=0)
        try:
            with self.read() as conn:
                status = _read_status(conn)
        except exc.DatabaseError as error:
            storage = self._storage_error(error)
            if storage is not None:
                raise storage from error
            raise WorkspaceError(
                f"cannot open the metadata database: {getattr(error, 'orig', error)}",
                path=self.url,
                hint="Check that the file is a dcai workspace database and is not damaged.",
            ) from error
        self._refuse_newer(status)
        return status

    def _refuse_newer(self, status: MigrationStatus) -> None:
        if status.revision is not None and status.revision not in REVISIONS:
            raise WorkspaceError(
                f"the workspace has schema revision {status.revision}, which this dcai does "
                f"not know (its newest is {HEAD_REVISION}): a newer dcai wrote it",
                path=self.url,
                hint=_UPGRADE_HINT,
            )
        if status.schema_version > SCHEMA_VERSION:
            raise WorkspaceError(
                f"the workspace has schema version {status.schema_version}, newer than this "
                f"dcai understands ({SCHEMA_VERSION})",
                path=self.url,
                hint=_UPGRADE_HINT,
            )

    def migrate(self) -> list[str]:
        """Bring the schema to the head revision; returns the revisions applied.

        All of it runs in one write transaction on one connection — ``BEGIN IMMEDIATE`` on
        SQLite — so concurrent first opens queue on the lock, and the revision is re-read
        inside it: the second process finds the work done. A database made before Alembic
        (``dcai_meta.schema_version`` N, no ``alembic_version``) is stamped at revision N
        first, then upgraded.
        """
        if self._create_fresh():
            return list(REVISIONS)
        # Load Alembic and the revision files before taking the lock, not while holding it.
        from dcai.store import migrations

        migrations.revisions()
        with self.transaction() as conn:
            _lock_for_migration(conn)
            status = _read_status(conn)  # inside the lock: another process may have migrated
            self._refuse_newer(status)
            if status.up_to_date:
                return []
            current = status.current
            if status.revision is None and current is not None:
                migrations.stamp(conn, current)
            pending = status.pending
            if pending:
                migrations.upgrade(conn, HEAD_REVISION)
            if _read_status(conn).schema_version != SCHEMA_VERSION:
                # alembic_version at head but dcai_meta behind (edited by hand): realign it.
                conn.execute(t.meta.delete().where(t.meta.c.key == "schema_version"))
                conn.execute(
                    t.meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION))
                )
        return pending

    def _create_fresh(self) -> bool:
        """A brand-new (empty) database gets the head schema in one step, without Alembic.

        Creating every table from the table definitions and stamping the head revision is
        what Alembic's documentation recommends for a new database; a test checks that the
        revisions, applied one by one, build exactly the same schema. Returns False (and
        changes nothing) when the database is not empty — then the revisions run.
        """
        if self.migration_status().revision is not None:
            return False
        with self.transaction() as conn:
            _lock_for_migration(conn)
            status = _read_status(conn)  # inside the lock: another process may be first
            if status.revision is not None or status.schema_version or _has_tables(conn):
                return False
            t.metadata.create_all(conn)
            _VERSION.create(conn)
            conn.execute(_VERSION.insert().values(version_num=HEAD_REVISION))
            conn.execute(t.meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
            conn.execute(t.meta.insert().values(key="created_at", value=repr(time.time())))
        return True

    def _migrate(self) -> None:
        # The common case — a database at head — reads two small tables and loads no Alembic.
        if not self.migration_status().up_to_date:
            self.migrate()

    def created_at(self) -> float | None:
        """When this database was created (seconds since the epoch), if known.

        Recorded at creation; for databases made before that, the earliest dataset or
        experiment time stands in.
        """
        with self.read() as conn:
            value = conn.execute(
                select(t.meta.c.value).where(t.meta.c.key == "created_at")
            ).scalar_one_or_none()
            if value is not None:
                return float(value)
            stamps = [
                conn.execute(select(func.min(t.datasets.c.created_at))).scalar_one_or_none(),
                conn.execute(select(func.min(t.experiments.c.created_at))).scalar_one_or_none(),
            ]
        times = [datetime.fromisoformat(s).timestamp() for s in stamps if s]
        return min(times) if times else None

    def sqlite_path(self) -> str | None:
        """The database file of a SQLite URL, else None."""
        return sqlite_file(self.url)

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()
