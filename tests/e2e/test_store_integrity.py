"""Stored data is verified when read, checked by `dcai verify`, copied by `dcai backup`, and
never silently lost: a missing database, gc after a database swap, odd folder names, a full
or read-only disk. Everything through the real CLI in subprocesses."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import run_dcai
from tests.e2e.test_cli_bad_input import assert_rejected, base_frame, ok, ok_json, snapshot


def _objects(ws: Path) -> dict[str, Path]:
    return {
        p.name.split(".", 1)[0]: p
        for p in (ws / "objects" / "sha256").glob("*/*")
        if not p.name.endswith(".check")
    }


def _data_object(ws: Path, seq: int) -> str:
    with closing(sqlite3.connect(ws / "metadata.db")) as conn:
        row = conn.execute(
            "SELECT data_object FROM dataset_versions WHERE seq = ?", (seq,)
        ).fetchone()
    return str(row[0])


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("integrity")
    ws = root / "ws"
    source = root / "ds.csv"
    base_frame().to_csv(source, index=False)
    ok(run_dcai("init", workspace=ws))
    ok(run_dcai("data", "add", "ds", str(source), "--id", "uid", workspace=ws))
    ok(run_dcai("data", "split", "ds", "--dev", "0.2", "--test", "0.2", workspace=ws))
    return ws


@pytest.fixture
def ws(template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "ws"
    shutil.copytree(template, target)
    return target


def _writable(path: Path) -> None:
    """Objects are stored read-only; a test that damages one makes it writable first."""
    path.chmod(0o644)


def test_a_flipped_byte_is_one_line_naming_version_and_object(ws: Path) -> None:
    digest = _data_object(ws, 1)
    path = _objects(ws)[digest]
    _writable(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    line = assert_rejected(
        run_dcai("data", "export", "ds@v1", str(ws.parent / "out.csv"), workspace=ws),
        "ds@",
        digest[:12],
        "dcai verify",
    )
    assert "damaged" in line
    assert not (ws.parent / "out.csv").exists()


def test_another_versions_bytes_are_never_served_as_this_version(ws: Path) -> None:
    """The worst case: valid Parquet of another version copied over this one."""
    v1, v2 = _data_object(ws, 1), _data_object(ws, 2)
    objects = _objects(ws)
    _writable(objects[v1])
    shutil.copyfile(objects[v2], objects[v1])
    before = snapshot(ws, "ds").tables
    # An audit would read the data and store results: it must refuse and store nothing.
    assert_rejected(run_dcai("audit", "ds@v1", workspace=ws), v1[:12], "dcai verify")
    # The other version still reads.
    assert snapshot(ws, "ds").tables == before
    ok(run_dcai("data", "export", "ds@v2", str(ws.parent / "v2.csv"), workspace=ws))


def test_data_add_repairs_a_corrupt_object(ws: Path, tmp_path: Path) -> None:
    digest = _data_object(ws, 1)
    path = _objects(ws)[digest]
    _writable(path)
    path.write_bytes(b"garbage")
    source = tmp_path / "again.csv"
    base_frame().to_csv(source, index=False)
    result = ok_json(
        run_dcai("data", "add", "ds", str(source), "--id", "uid", "--json", workspace=ws)
    )
    assert result["new"] is False
    ok(run_dcai("data", "export", "ds@v1", str(tmp_path / "v1.csv"), workspace=ws))
    assert ok_json(run_dcai("verify", "--json", workspace=ws))["clean"] is True


def test_verify_reports_and_changes_nothing_without_repair(ws: Path) -> None:
    report = ok_json(run_dcai("verify", "--json", workspace=ws))
    assert report["clean"] is True and report["objects_checked"] >= 2
    objects = _objects(ws)
    # One corrupt, one missing, one old orphan.
    corrupt = _data_object(ws, 2)
    _writable(objects[corrupt])
    objects[corrupt].write_bytes(objects[corrupt].read_bytes()[:-1])
    missing = _data_object(ws, 1)
    objects[missing].unlink()
    content = b"left by a killed commit"
    name = hashlib.sha256(content).hexdigest()
    orphan = ws / "objects" / "sha256" / name[:2] / name
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(content)
    # Past a 2-second grace period, yet younger than the database (as a killed commit's
    # object is): gc's refusal of objects older than the database must not apply.
    with closing(sqlite3.connect(ws / "metadata.db")) as conn:
        (born,) = conn.execute("SELECT value FROM dcai_meta WHERE key = 'created_at'").fetchone()
    old = float(born) + 1.0
    time.sleep(max(0.0, old + 3.0 - time.time()))
    os.utime(orphan, (old, old))
    before = sorted(str(p) for p in (ws / "objects").rglob("*"))
    result = run_dcai("verify", "--json", "--grace", "2", workspace=ws)
    assert result.returncode == 1, result
    report = json.loads(result.stdout)
    assert report["clean"] is False
    assert [c["digest"] for c in report["corrupt"]] == [corrupt]
    assert report["corrupt"][0]["used_by"][0]["table"] == "dataset_versions"
    assert {m["digest"] for m in report["missing"]} == {missing}
    assert [o["digest"] for o in report["orphans"]] == [orphan.name]
    assert sorted(str(p) for p in (ws / "objects").rglob("*")) == before
    # Table output names the problems too.
    text = run_dcai("verify", "--grace", "2", workspace=ws)
    assert text.returncode == 1 and corrupt[:12] in text.stdout and missing[:12] in text.stdout
    # --repair removes the orphan only.
    repaired = json.loads(
        run_dcai("verify", "--repair", "--grace", "2", "--json", workspace=ws).stdout
    )
    assert repaired["repaired"]["orphans_removed"] == 1
    assert not orphan.exists() and objects[corrupt].exists()


def test_verify_sees_a_damaged_database(ws: Path) -> None:
    with closing(sqlite3.connect(ws / "metadata.db")) as conn:
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("UPDATE dataset_versions SET dataset_id = 999 WHERE seq = 2")
        conn.commit()
    result = run_dcai("verify", "--json", workspace=ws)
    assert result.returncode == 1
    assert any("dataset_versions" in line for line in json.loads(result.stdout)["database"])


def test_a_missing_database_is_refused_not_recreated(ws: Path) -> None:
    (ws / "metadata.db").unlink()
    for extra in ("metadata.db-wal", "metadata.db-shm"):
        (ws / extra).unlink(missing_ok=True)
    result = run_dcai("data", "list", "--json", workspace=ws)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "metadata database is missing" in result.stderr and "backup" in result.stderr
    assert not (ws / "metadata.db").exists()


def test_gc_refuses_when_objects_predate_the_database(ws: Path, tmp_path: Path) -> None:
    """Objects older than the database (it was recreated, or old objects were copied in) look
    unreferenced: gc must not delete them unless told to."""
    fresh = tmp_path / "fresh"
    ok(run_dcai("init", workspace=fresh))
    shutil.copytree(ws / "objects", fresh / "objects", dirs_exist_ok=True)
    old = time.time() - 7200
    copied = list((fresh / "objects" / "sha256").glob("*/*"))
    for path in copied:
        os.utime(path, (old, old))
    line = assert_rejected(
        run_dcai("gc", "--grace", "0", workspace=fresh), "older than the metadata database", code=1
    )
    assert "--force" in line
    assert len(list((fresh / "objects" / "sha256").glob("*/*"))) == len(copied)
    # verify --repair is garbage collection too, with the same refusal.
    assert_rejected(
        run_dcai("verify", "--repair", "--grace", "0", workspace=fresh),
        "older than the metadata database",
        code=1,
    )
    assert len(list((fresh / "objects" / "sha256").glob("*/*"))) == len(copied)
    ok(run_dcai("gc", "--grace", "0", "--force", workspace=fresh))
    assert not list((fresh / "objects" / "sha256").glob("*/*"))
    # An ordinary workspace's gc is unaffected.
    ok(run_dcai("gc", "--grace", "0", workspace=ws))


@pytest.mark.parametrize("name", ["odd?name", "odd#name", "odd%41name", "with space"])
def test_workspace_paths_are_paths_not_urls(tmp_path: Path, name: str) -> None:
    ws = tmp_path / name / "ws"
    source = tmp_path / "ds.csv"
    base_frame().to_csv(source, index=False)
    ok(run_dcai("init", workspace=ws))
    ok(run_dcai("data", "add", "ds", str(source), "--id", "uid", workspace=ws))
    listed = ok_json(run_dcai("data", "list", "--json", workspace=ws))
    assert [d["name"] for d in listed] == ["ds"]
    assert (ws / "metadata.db").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "ds.csv"])


def test_backup_is_a_workspace_that_opens(ws: Path, tmp_path: Path) -> None:
    dest = tmp_path / "backups" / "monday"
    dest.parent.mkdir()
    report = ok_json(run_dcai("backup", str(dest), "--json", workspace=ws))
    assert report["objects"] == len(_objects(ws)) and not report["skipped_corrupt"]
    assert ok_json(run_dcai("data", "log", "ds", "--json", workspace=dest)) == ok_json(
        run_dcai("data", "log", "ds", "--json", workspace=ws)
    )
    assert ok_json(run_dcai("verify", "--json", workspace=dest))["clean"] is True
    # Refusals: inside the workspace, an existing non-empty folder.
    assert_rejected(run_dcai("backup", str(ws / "b"), workspace=ws), "inside the workspace")
    assert_rejected(run_dcai("backup", str(dest), workspace=ws), "not an empty folder")


# Full and read-only disks: a real small file system (needs permission to mount). -----------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_one_line_with_the_free_space(small_disk: Path, tmp_path: Path) -> None:
    ws = small_disk / "ws"
    ok(run_dcai("init", workspace=ws))
    small = tmp_path / "small.csv"
    base_frame().to_csv(small, index=False)
    ok(run_dcai("data", "add", "small", str(small), "--id", "uid", workspace=ws))
    # Fill the disk, then ask for more.
    filler = small_disk / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
        except OSError:
            pass
    big = tmp_path / "big.csv"
    frame = pd.concat([base_frame()] * 40, ignore_index=True)
    frame["uid"] = [f"r{i}" for i in range(len(frame))]
    frame.to_csv(big, index=False)
    line = assert_rejected(
        run_dcai("data", "add", "big", str(big), "--id", "uid", workspace=ws),
        "no space left on device",
        "MB free",
    )
    assert str(small_disk) in line
    filler.unlink()
    listed = ok_json(run_dcai("data", "list", "--json", workspace=ws))
    assert [d["name"] for d in listed] == ["small"]
    assert ok_json(run_dcai("verify", "--json", workspace=ws))["clean"] is True


def test_a_read_only_store_is_one_line(small_disk: Path, tmp_path: Path) -> None:
    ws = small_disk / "ws"
    ok(run_dcai("init", workspace=ws))
    source = tmp_path / "ds.csv"
    base_frame().to_csv(source, index=False)
    ok(run_dcai("data", "add", "ds", str(source), "--id", "uid", workspace=ws))
    proc = subprocess.run(
        ["mount", "-o", "remount,ro", str(small_disk)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        pytest.skip("cannot remount read-only here")
    frame = base_frame()
    frame.loc[0, "label"] = "dog" if frame.loc[0, "label"] != "dog" else "cat"
    frame.to_csv(source, index=False)
    result = run_dcai("data", "add", "ds", str(source), "--id", "uid", workspace=ws)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert "read-only" in result.stderr and len(result.stderr.strip().splitlines()) == 1
