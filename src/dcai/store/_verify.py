"""``dcai verify``: check a workspace end to end, as ``git fsck`` does for a repository.

Three checks, each read-only:

- **objects** — every stored object is re-hashed; one whose bytes do not hash to its name is
  *corrupt* (a flipped bit, a truncated copy, or another object's bytes put in its place);
- **database** — SQLite's ``PRAGMA integrity_check`` and ``PRAGMA foreign_key_check``;
- **references, both ways** — metadata rows whose object is missing or corrupt, and objects no
  row references (*orphans*, left by killed commits; those younger than the garbage-collection
  grace period may belong to a commit in progress and are not counted as problems).

``repair=True`` changes only what is safe to change: it removes orphans older than the grace
period and stale temporary files. Corrupt objects are reported, never deleted — adding the
same data again (``dcai data add``) rewrites them, and a backup restores the rest.

>>> import tempfile, pandas as pd, dcai
>>> ws = dcai.Workspace(tempfile.mkdtemp())
>>> _ = ws.data.add("toy", pd.DataFrame({"x": [1, 2], "label": ["a", "b"]}))
>>> verify_workspace(ws.meta, ws.objects).clean
True
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from dcai._progress import ProgressCallback
from dcai.store import schema as t
from dcai.store._gc import DEFAULT_GRACE_SECONDS, collect_garbage
from dcai.store._metadata import MetadataStore
from dcai.store._objects import ObjectStore

__all__ = ["VerifyReport", "verify_workspace"]


@dataclass
class VerifyReport:
    """What ``dcai verify`` found (and, with ``repair``, removed)."""

    objects_checked: int = 0
    bytes_checked: int = 0
    #: {digest, suffix, actual, location, used_by: [...]} per object whose bytes changed.
    corrupt: list[dict[str, Any]] = field(default_factory=list)
    #: {table, row, column, digest} per metadata row whose object is not stored.
    missing: list[dict[str, Any]] = field(default_factory=list)
    #: {digest, suffix, size, age_seconds} per unreferenced object older than the grace period.
    orphans: list[dict[str, Any]] = field(default_factory=list)
    #: Unreferenced objects younger than the grace period (a commit may be in progress).
    recent_unreferenced: int = 0
    #: Problems SQLite reports about the database file itself.
    database: list[str] = field(default_factory=list)
    repaired: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        """No corrupt or missing object, no orphan left, a sound database."""
        orphans_left = len(self.orphans) - self.repaired.get("orphans_removed", 0)
        return not (self.corrupt or self.missing or self.database or orphans_left > 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "objects_checked": self.objects_checked,
            "bytes_checked": self.bytes_checked,
            "corrupt": self.corrupt,
            "missing": self.missing,
            "orphans": self.orphans,
            "recent_unreferenced": self.recent_unreferenced,
            "database": self.database,
            "repaired": self.repaired,
            "seconds": round(self.seconds, 3),
        }


def _references(meta: MetadataStore) -> dict[str, list[dict[str, Any]]]:
    """digest → the rows that name it (table, row key, column)."""
    found: dict[str, list[dict[str, Any]]] = {}
    with meta.read() as conn:
        for column in t.OBJECT_REFERENCES:
            table = column.table
            key = next(iter(table.primary_key.columns))
            query = select(key, column).where(column.is_not(None))
            for row_key, digest in conn.execute(query):
                found.setdefault(digest, []).append(
                    {"table": table.name, "row": row_key, "column": column.name}
                )
    return found


def _database_problems(meta: MetadataStore) -> list[str]:
    if meta.sqlite_path() is None:
        return []
    problems: list[str] = []
    with meta.engine.connect() as conn:
        rows = conn.exec_driver_sql("PRAGMA integrity_check").fetchall()
        problems += [str(r[0]) for r in rows if str(r[0]).lower() != "ok"]
        for table, rowid, parent, _ in conn.exec_driver_sql("PRAGMA foreign_key_check"):
            problems.append(f"row {rowid} of {table} points at a missing row of {parent}")
    return problems


def verify_workspace(
    meta: MetadataStore,
    objects: ObjectStore,
    *,
    repair: bool = False,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    progress: ProgressCallback | None = None,
) -> VerifyReport:
    """Check every object against its hash, the database's integrity and the references
    between them; with ``repair``, remove orphans older than ``grace_seconds``."""
    started = time.perf_counter()
    report = VerifyReport()
    report.database = _database_problems(meta)
    references = _references(meta)
    entries = list(objects.iter_objects())
    total = sum(e.size for e in entries)
    stored: set[str] = set()
    now = time.time()
    for entry in entries:
        stored.add(entry.digest)
        actual = objects.check(entry.digest, suffix=entry.suffix)
        report.objects_checked += 1
        report.bytes_checked += entry.size
        if progress is not None:
            progress("verify objects", report.bytes_checked, total)
        if actual is not None:
            report.corrupt.append(
                {
                    "digest": entry.digest,
                    "suffix": entry.suffix,
                    "actual": actual,
                    "location": entry.location,
                    "used_by": references.get(entry.digest, []),
                }
            )
        elif entry.digest not in references:
            age = now - entry.mtime
            if age < grace_seconds:
                report.recent_unreferenced += 1
            else:
                report.orphans.append(
                    {
                        "digest": entry.digest,
                        "suffix": entry.suffix,
                        "size": entry.size,
                        "age_seconds": round(age, 1),
                    }
                )
    for digest, rows in sorted(references.items()):
        if digest not in stored:
            report.missing += [{**row, "digest": digest} for row in rows]
    if repair:
        # The repair is garbage collection itself, with its refusal to delete objects older
        # than the database (a replaced database must not cost the data behind it).
        collected = collect_garbage(meta, objects, grace_seconds=grace_seconds)
        report.repaired = {
            "orphans_removed": len(report.orphans),
            "removed": collected.removed,
            "bytes_freed": collected.bytes_freed,
        }
    report.seconds = time.perf_counter() - started
    return report
