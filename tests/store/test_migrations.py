"""Alembic migrations of the metadata database: the upgrade from every shipped schema, the
migrated schema against ``metadata.create_all``, concurrent first opens, ``dcai migrate``."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, inspect

import dcai
from dcai.errors import WorkspaceError
from dcai.store import migrations
from dcai.store import schema as t
from dcai.store._metadata import (
    HEAD_REVISION,
    REVISIONS,
    SCHEMA_VERSION,
    MetadataStore,
    MigrationStatus,
)
from tests.conftest import run_dcai

ALL_TABLES = {table.name for tables in t.TABLES_BY_SCHEMA_VERSION.values() for table in tables}


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def _old_rows(version: int) -> dict[str, list[dict[str, Any]]]:
    """A few rows in the tables of schema ``version`` and every earlier one."""
    rows: dict[str, list[dict[str, Any]]] = {
        "datasets": [{"id": 1, "name": "old", "created_at": "2026-01-01", "created_by": "me"}],
        "dataset_versions": [
            {
                "id": 1,
                "dataset_id": 1,
                "version_hash": "a" * 64,
                "seq": 1,
                "rows": 3,
                "data_object": "b" * 64,
                "annotations_object": None,
                "n_annotations": 0,
                "schema_json": "{}",
                "operation": "add",
                "params_json": "{}",
                "message": "first",
                "author": "me",
                "created_at": "2026-01-01",
            }
        ],
    }
    if version >= 2:
        rows["audits"] = [
            {
                "id": 1,
                "audit_hash": "c" * 64,
                "version_id": 1,
                "params_json": "{}",
                "summary_json": "{}",
                "scores_object": "d" * 64,
                "issues_object": "e" * 64,
                "probs_object": None,
                "author": "me",
                "created_at": "2026-01-02",
            }
        ]
    if version >= 3:
        rows["guidelines"] = [
            {
                "id": 1,
                "name": "animals",
                "seq": 1,
                "content_object": "f" * 64,
                "message": "m",
                "author": "me",
                "created_at": "2026-01-03",
            }
        ]
    if version >= 4:
        rows["experiments"] = [{"id": 1, "name": "default", "created_at": "2026-01-04"}]
    return rows


def _make_old_database(path: Path, version: int) -> dict[str, list[dict[str, Any]]]:
    """A database as dcai at schema ``version`` made it (before Alembic), with rows."""
    engine = create_engine(_url(path))
    rows = _old_rows(version)
    with engine.begin() as conn:
        for v in range(1, version + 1):
            t.metadata.create_all(conn, tables=t.TABLES_BY_SCHEMA_VERSION[v])
        conn.execute(t.meta.insert().values(key="schema_version", value=str(version)))
        for name, values in rows.items():
            conn.execute(t.metadata.tables[name].insert(), values)
    engine.dispose()
    return rows


def _tables(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _alembic_rows(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as conn:
        return [r[0] for r in conn.execute("SELECT version_num FROM alembic_version")]


def _dump(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as conn:
        return list(conn.iterdump())


def test_the_revisions_are_one_per_schema_version() -> None:
    assert migrations.revisions() == list(REVISIONS)
    assert len(REVISIONS) == SCHEMA_VERSION == max(t.TABLES_BY_SCHEMA_VERSION)
    assert HEAD_REVISION == "0007_monitor"


def test_a_new_database_is_at_head_with_created_at(tmp_path: Path) -> None:
    before = time.time()
    store = MetadataStore(_url(tmp_path / "m.db"))
    status = store.migration_status()
    assert (status.revision, status.schema_version, status.pending) == (
        HEAD_REVISION,
        SCHEMA_VERSION,
        [],
    )
    created = store.created_at()
    assert created is not None and created >= before - 1
    store.dispose()
    assert _tables(tmp_path / "m.db") == ALL_TABLES | {"alembic_version"}
    assert _alembic_rows(tmp_path / "m.db") == [HEAD_REVISION]


@pytest.mark.parametrize("version", [1, 2, 3, 4, 5])
def test_every_shipped_schema_is_stamped_then_upgraded(tmp_path: Path, version: int) -> None:
    path = tmp_path / "m.db"
    rows = _make_old_database(path, version)
    store = MetadataStore(_url(path), migrate=False)
    status = store.migration_status()
    assert status == MigrationStatus(revision=None, schema_version=version)
    assert status.current == REVISIONS[version - 1]
    assert status.pending == list(REVISIONS[version:])

    assert store.migrate() == list(REVISIONS[version:])
    assert store.schema_version() == SCHEMA_VERSION
    assert store.migration_status().up_to_date
    assert store.migrate() == []
    store.dispose()

    assert _tables(path) == ALL_TABLES | {"alembic_version"}
    assert _alembic_rows(path) == [HEAD_REVISION]
    engine = create_engine(_url(path))
    with engine.connect() as conn:
        for name, values in rows.items():
            stored = [dict(r._mapping) for r in conn.execute(t.metadata.tables[name].select())]
            assert stored == values, name
    engine.dispose()
    # The migrated database is what the rest of dcai expects: it opens and works.
    store = MetadataStore(_url(path))
    with store.transaction() as conn:
        conn.execute(t.datasets.insert().values(name="new", created_at="x", created_by="me"))
    store.dispose()


def _describe(engine: Engine) -> dict[str, Any]:
    """Tables, columns, keys, indexes and unique constraints, as SQLAlchemy reflects them."""
    insp = inspect(engine)
    shape: dict[str, Any] = {}
    for name in sorted(set(insp.get_table_names()) - {"alembic_version"}):
        shape[name] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], bool(c.get("primary_key")))
                for c in insp.get_columns(name)
            ],
            "pk": insp.get_pk_constraint(name)["constrained_columns"],
            "fks": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                for f in insp.get_foreign_keys(name)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in insp.get_indexes(name)
            ),
            "uniques": sorted(
                (u["name"] or "", tuple(u["column_names"]))
                for u in insp.get_unique_constraints(name)
            ),
        }
    return shape


@pytest.mark.parametrize("start", [0, 1, 3])
def test_the_migrated_schema_is_the_create_all_schema(tmp_path: Path, start: int) -> None:
    """From empty and from old schemas, Alembic ends where ``metadata.create_all`` does."""
    reference = create_engine(_url(tmp_path / "reference.db"))
    t.metadata.create_all(reference)
    if start:
        _make_old_database(tmp_path / "m.db", start)
    MetadataStore(_url(tmp_path / "m.db")).dispose()
    migrated = create_engine(_url(tmp_path / "m.db"))
    expected, actual = _describe(reference), _describe(migrated)
    assert set(actual) == ALL_TABLES
    assert actual == expected
    # And the SQL of every table and index, byte for byte.
    sql = "SELECT name, sql FROM sqlite_master WHERE type IN ('table', 'index')"
    with closing(sqlite3.connect(tmp_path / "reference.db")) as a:
        ref = dict(a.execute(sql).fetchall())
    with closing(sqlite3.connect(tmp_path / "m.db")) as b:
        got = dict(b.execute(sql).fetchall())
    got.pop("alembic_version")
    got.pop("sqlite_autoindex_alembic_version_1", None)
    assert got == ref
    reference.dispose()
    migrated.dispose()


def test_autogenerate_finds_no_differences(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    MetadataStore(_url(tmp_path / "m.db")).dispose()
    engine = create_engine(_url(tmp_path / "m.db"))
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, t.metadata) == []
    engine.dispose()


def test_downgrade_to_base_and_back(tmp_path: Path) -> None:
    store = MetadataStore(_url(tmp_path / "m.db"))
    with store.transaction() as conn:
        migrations.downgrade(conn, "0003_labels")
    assert store.migration_status() == MigrationStatus(revision="0003_labels", schema_version=3)
    with store.transaction() as conn:
        migrations.downgrade(conn, "base")
    assert _tables(tmp_path / "m.db") == {"alembic_version"}
    assert store.migrate() == list(REVISIONS)
    store.dispose()
    assert _tables(tmp_path / "m.db") == ALL_TABLES | {"alembic_version"}


def test_an_unknown_revision_is_refused_with_upgrade_hint(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    MetadataStore(_url(path)).dispose()
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099_future'")
    with pytest.raises(WorkspaceError, match="0099_future") as error:
        MetadataStore(_url(path))
    assert "Upgrade dcai" in str(error.value)


def test_status_of_a_missing_file_creates_nothing(tmp_path: Path) -> None:
    store = MetadataStore(_url(tmp_path / "m.db"), migrate=False)
    assert store.migration_status().pending == list(REVISIONS)
    store.dispose()
    assert not (tmp_path / "m.db").exists()


_OPENER = """
import json, os, sys, time
from dcai.store import MetadataStore
from dcai.store import migrations  # load everything before the start line
print("ready", flush=True)
go = sys.argv[2]
while not os.path.exists(go):
    time.sleep(0.005)
store = MetadataStore(sys.argv[1], migrate=False)
applied = store.migrate()
MetadataStore(sys.argv[1]).dispose()
print(json.dumps(applied), flush=True)
"""


def test_concurrent_first_opens_migrate_once(tmp_path: Path) -> None:
    path, go = tmp_path / "m.db", tmp_path / "go"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DCAI_")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, _url(path), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(6)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
    go.touch()
    applied = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        applied.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(applied, key=len) == [[]] * 5 + [list(REVISIONS)]
    assert _tables(path) == ALL_TABLES | {"alembic_version"}
    assert _alembic_rows(path) == [HEAD_REVISION]
    with closing(sqlite3.connect(path)) as conn:
        meta = conn.execute("SELECT key, value FROM dcai_meta ORDER BY key").fetchall()
    assert [k for k, _ in meta] == ["created_at", "schema_version"]
    assert dict(meta)["schema_version"] == str(SCHEMA_VERSION)


def test_dcai_migrate_dry_run_then_apply(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    dcai.Workspace(ws).close()
    for suffix in ("", "-wal", "-shm"):
        (ws / f"metadata.db{suffix}").unlink(missing_ok=True)
    _make_old_database(ws / "metadata.db", 2)
    before = _dump(ws / "metadata.db")

    dry = run_dcai("migrate", "--dry-run", "--json", workspace=ws)
    assert dry.returncode == 0, dry
    report = json.loads(dry.stdout)
    assert report["dry_run"] is True and report["applied"] == []
    assert (report["current"], report["head"]) == ("0002_audits", HEAD_REVISION)
    assert report["pending"] == [
        "0003_labels",
        "0004_runs",
        "0005_registry",
        "0006_deployments",
        "0007_monitor",
    ]
    assert report["stamped"] is False and report["schema_version"] == 2
    assert _dump(ws / "metadata.db") == before  # (opening it switched it to WAL: not content)
    assert "alembic_version" not in _tables(ws / "metadata.db")

    human = run_dcai("migrate", "--dry-run", workspace=ws)
    assert human.returncode == 0, human
    assert (
        "pending: 0003_labels, 0004_runs, 0005_registry, 0006_deployments, 0007_monitor"
        in human.stdout
    )
    assert "nothing was changed" in human.stdout

    done = run_dcai("migrate", "--json", workspace=ws)
    assert done.returncode == 0, done
    report = json.loads(done.stdout)
    assert report["applied"] == [
        "0003_labels",
        "0004_runs",
        "0005_registry",
        "0006_deployments",
        "0007_monitor",
    ]
    assert report["now"] == HEAD_REVISION
    assert _alembic_rows(ws / "metadata.db") == [HEAD_REVISION]

    again = run_dcai("migrate", workspace=ws)
    assert again.returncode == 0 and "up to date" in again.stdout, again


def test_dcai_migrate_refuses_a_newer_workspace(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    dcai.Workspace(ws).close()
    with closing(sqlite3.connect(ws / "metadata.db")) as conn, conn:
        conn.execute(
            "UPDATE dcai_meta SET value = ? WHERE key = 'schema_version'",
            (str(SCHEMA_VERSION + 1),),
        )
    result = run_dcai("migrate", "--dry-run", workspace=ws)
    assert result.returncode == 1, result
    assert "newer than this dcai" in result.stderr and "Upgrade dcai" in result.stderr


def test_help_and_opening_a_current_workspace_load_no_alembic(tmp_path: Path) -> None:
    MetadataStore(_url(tmp_path / "m.db")).dispose()
    code = (
        "import sys\n"
        "from dcai.cli.main import main\n"
        "try:\n"
        "    main(['migrate', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert 'alembic' not in sys.modules and 'sqlalchemy' not in sys.modules\n"
        "from dcai.store import MetadataStore\n"
        f"MetadataStore({_url(tmp_path / 'm.db')!r}).dispose()\n"
        "print('ALEMBIC=' + str('alembic' in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "ALEMBIC=False"
