"""The metadata database: engine set-up, schema versions and migrations, transactions.

SQLite (the default) runs in WAL mode so readers never block the writer, and every write
transaction starts with ``BEGIN IMMEDIATE`` so two writers queue on the lock instead of
deadlocking half-way. A writer that waits longer than the lock timeout gets
:class:`~dcai.errors.WorkspaceBusyError`, which callers may retry. Any other SQLAlchemy
URL (PostgreSQL) uses the same tables and migrations.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, exc, func, select

from dcai.errors import StorageError, WorkspaceBusyError, WorkspaceError
from dcai.store import _tables as t
from dcai.store._objects import storage_error

__all__ = ["SCHEMA_VERSION", "MetadataStore"]

#: The schema this dcai writes. Workspaces with an older schema are migrated on open.
SCHEMA_VERSION = 5

_DEFAULT_LOCK_TIMEOUT_S = 30.0


def _migration_for(version: int) -> Callable[[Connection], None]:
    def migrate(conn: Connection) -> None:
        t.metadata.create_all(conn, tables=t.TABLES_BY_SCHEMA_VERSION[version])

    return migrate


#: schema version → function that upgrades the schema from version-1 to version.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    v: _migration_for(v) for v in range(1, SCHEMA_VERSION + 1)
}


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

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = self._create_engine(url)
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
        engine = create_engine(
            target, connect_args={"timeout": timeout, "isolation_level": None}
        )

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

    def _migrate(self) -> None:
        try:
            current = self.schema_version()
        except exc.DatabaseError as error:
            storage = self._storage_error(error)
            if storage is not None:
                raise storage from error
            raise WorkspaceError(
                f"cannot open the metadata database: {getattr(error, 'orig', error)}",
                path=self.url,
                hint="Check that the file is a dcai workspace database and is not damaged.",
            ) from error
        if current > SCHEMA_VERSION:
            raise WorkspaceError(
                f"the workspace has schema version {current}, newer than this dcai "
                f"understands ({SCHEMA_VERSION})",
                path=self.url,
                hint="Upgrade dcai: pip install --upgrade dcai",
            )
        if current == SCHEMA_VERSION:
            return
        with self.transaction() as conn:
            # Re-read inside the write lock: another process may have migrated meanwhile.
            has_meta = self.engine.dialect.has_table(conn, t.meta.name)
            current = 0
            if has_meta:
                value = conn.execute(
                    select(t.meta.c.value).where(t.meta.c.key == "schema_version")
                ).scalar_one_or_none()
                current = int(value) if value is not None else 0
            for version in range(current + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[version](conn)
            if current == 0:
                # When this database began: gc refuses to delete objects older than it.
                conn.execute(t.meta.insert().values(key="created_at", value=repr(time.time())))
            conn.execute(t.meta.delete().where(t.meta.c.key == "schema_version"))
            conn.execute(t.meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))

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
