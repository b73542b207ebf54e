"""``dcai backup DEST``: a consistent, self-contained copy of a workspace.

The metadata database is copied first with SQLite's online backup API, which gives a
snapshot of one committed state even while other processes write. Objects are written before
the metadata that names them commits, so every object the snapshot names is already stored;
they are then copied with their hashes checked on the way (a damaged object is not copied
as if it were sound: it is reported). The copy is assembled in a temporary folder beside
``DEST`` and renamed into place, so ``DEST`` is either a whole workspace or absent.

>>> import tempfile, pathlib, pandas as pd, dcai
>>> ws = dcai.Workspace(tempfile.mkdtemp())
>>> _ = ws.data.add("toy", pd.DataFrame({"x": [1, 2], "label": ["a", "b"]}))
>>> dest = pathlib.Path(tempfile.mkdtemp()) / "copy"
>>> report = backup_workspace(ws.meta, ws.objects, dest, workspace_root=ws.path)
>>> [d.name for d in dcai.Workspace(dest, create=False).data.datasets()]
['toy']
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcai._progress import ProgressCallback
from dcai.config import CONFIG_FILE, DEFAULT_CONFIG
from dcai.errors import InvalidInputError, WorkspaceError
from dcai.store._metadata import MetadataStore
from dcai.store._objects import LocalObjectStore, ObjectStore, storage_error

__all__ = ["BackupReport", "backup_workspace"]

_CHUNK = 1 << 20


@dataclass
class BackupReport:
    """What ``dcai backup`` copied."""

    destination: str
    objects: int = 0
    bytes: int = 0
    #: Objects whose bytes no longer match their hash: not copied (see ``dcai verify``).
    skipped_corrupt: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "destination": self.destination,
            "objects": self.objects,
            "bytes": self.bytes,
            "skipped_corrupt": self.skipped_corrupt,
            "seconds": round(self.seconds, 3),
        }


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def _copy_verified(source: Path, target: Path, digest: str) -> bool:
    """Copy ``source`` to ``target`` while hashing; False (and nothing left) on a mismatch."""
    hasher = hashlib.sha256()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as src, open(target, "wb") as dst:
        while chunk := src.read(_CHUNK):
            hasher.update(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    if hasher.hexdigest() != digest:
        target.unlink()
        return False
    os.chmod(target, 0o444)
    shutil.copystat(source, target)  # keep the times: gc's safety check compares them
    return True


def backup_workspace(
    meta: MetadataStore,
    objects: ObjectStore,
    dest: Path,
    *,
    workspace_root: Path,
    progress: ProgressCallback | None = None,
) -> BackupReport:
    """Write a consistent copy of the workspace to the new folder ``dest``."""
    started = time.perf_counter()
    database = meta.sqlite_path()
    if database is None or not isinstance(objects, LocalObjectStore):
        raise WorkspaceError(
            "dcai backup copies SQLite workspaces with local objects",
            path=meta.url,
            hint="Back up PostgreSQL with pg_dump and object storage with its own versioning.",
        )
    dest = Path(dest).absolute()
    root = Path(workspace_root).resolve()
    if _inside(dest.resolve(), root) or _inside(dest.resolve(), objects.root.resolve()):
        raise InvalidInputError(
            "the backup cannot go inside the workspace",
            path=str(dest),
            hint="Choose a folder outside it, ideally on another disk.",
        )
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InvalidInputError(
            "exists and is not an empty folder",
            path=str(dest),
            hint="Give a new folder name for the backup.",
        )
    if not dest.parent.is_dir():
        raise InvalidInputError(
            "the folder to hold the backup does not exist",
            path=str(dest.parent),
            hint="Create it first.",
        )
    staging = dest.parent / f".{dest.name}.partial-{os.getpid()}"
    report = BackupReport(destination=str(dest))
    try:
        staging.mkdir()
        with sqlite3.connect(database) as source, sqlite3.connect(staging / "metadata.db") as copy:
            source.backup(copy)
        source.close()
        copy.close()
        entries = list(objects.iter_objects())
        total = sum(e.size for e in entries)
        for entry in entries:
            relative = Path(entry.location).relative_to(objects.root)
            if _copy_verified(Path(entry.location), staging / "objects" / relative, entry.digest):
                report.objects += 1
                report.bytes += entry.size
            else:
                report.skipped_corrupt.append(entry.digest)
            if progress is not None:
                progress("copy objects", report.bytes, total)
        (staging / "objects").mkdir(exist_ok=True)
        (staging / CONFIG_FILE).write_text(DEFAULT_CONFIG, encoding="utf-8")
        if dest.exists():
            dest.rmdir()
        os.replace(staging, dest)
    except OSError as exc:
        error = storage_error(exc, dest)
        if error is None:
            raise
        raise error from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    report.seconds = time.perf_counter() - started
    return report
