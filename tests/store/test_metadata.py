"""Metadata database: WAL, schema versions, migrations, refusal of newer schemas."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dcai.errors import WorkspaceError
from dcai.store import SCHEMA_VERSION, MetadataStore


def test_new_database_is_wal_and_at_current_schema(tmp_path: Path) -> None:
    store = MetadataStore(f"sqlite:///{tmp_path / 'm.db'}")
    assert store.schema_version() == SCHEMA_VERSION
    store.dispose()
    with sqlite3.connect(tmp_path / "m.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"datasets", "dataset_versions", "version_parents", "dcai_meta"} <= tables


def test_reopening_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    MetadataStore(url).dispose()
    store = MetadataStore(url)
    assert store.schema_version() == SCHEMA_VERSION


def test_a_newer_schema_is_refused_with_upgrade_hint(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    MetadataStore(url).dispose()
    with sqlite3.connect(tmp_path / "m.db") as conn:
        conn.execute(
            "UPDATE dcai_meta SET value = ? WHERE key = 'schema_version'",
            (str(SCHEMA_VERSION + 1),),
        )
    with pytest.raises(WorkspaceError, match="Upgrade dcai"):
        MetadataStore(url)


def test_a_damaged_database_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "m.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(WorkspaceError, match="cannot open the metadata database"):
        MetadataStore(f"sqlite:///{tmp_path / 'm.db'}")


def test_a_schema_1_workspace_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    from dcai.store import schema as t

    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        t.metadata.create_all(conn, tables=t.TABLES_BY_SCHEMA_VERSION[1])
        conn.execute(t.meta.insert().values(key="schema_version", value="1"))
        conn.execute(
            t.datasets.insert().values(name="old", created_at="2026-01-01", created_by="me")
        )
    engine.dispose()
    store = MetadataStore(url)
    assert store.schema_version() == SCHEMA_VERSION >= 2
    store.dispose()
    with sqlite3.connect(tmp_path / "m.db") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        names = [r[0] for r in conn.execute("SELECT name FROM datasets")]
    assert {"audits", "review_decisions", "review_applications", "guidelines"} <= tables
    assert names == ["old"]
