"""Garbage collection: remove objects that no committed metadata row references.

Objects are written before their metadata commits, so an object younger than the grace period
may belong to a commit in progress in another process; it is kept. Unreferenced objects come
from killed or failed commits.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from dcai.errors import WorkspaceError
from dcai.store._metadata import MetadataStore
from dcai.store._objects import LocalObjectStore, ObjectEntry, ObjectStore
from dcai.store.schema import OBJECT_REFERENCES

__all__ = ["GcReport", "collect_garbage"]

DEFAULT_GRACE_SECONDS = 3600.0


@dataclass(frozen=True)
class GcReport:
    """What garbage collection removed (or would remove, in a dry run)."""

    removed: int
    bytes_freed: int
    kept: int
    dry_run: bool

    def to_dict(self) -> dict[str, int | bool]:
        return {
            "removed": self.removed,
            "bytes_freed": self.bytes_freed,
            "kept": self.kept,
            "dry_run": self.dry_run,
        }


def referenced_digests(meta: MetadataStore) -> set[str]:
    """Every object digest named by a committed metadata row."""
    digests: set[str] = set()
    with meta.read() as conn:
        for column in OBJECT_REFERENCES:
            digests.update(v for (v,) in conn.execute(select(column).where(column.is_not(None))))
    return digests


def collect_garbage(
    meta: MetadataStore,
    objects: ObjectStore,
    *,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    dry_run: bool = False,
    force: bool = False,
) -> GcReport:
    """Delete unreferenced objects (and stale temporary files) older than ``grace_seconds``.

    Refuses (unless ``force``) when an object it would delete is older than the metadata
    database itself: the database was then replaced or recreated, and those objects may be
    all that is left of the lost one's data.
    """
    now = time.time()
    cutoff = now - grace_seconds
    keep = referenced_digests(meta)
    kept = 0
    candidates: list[ObjectEntry] = []
    for entry in objects.iter_objects():
        if entry.digest in keep or entry.mtime >= cutoff:
            kept += 1
        else:
            candidates.append(entry)
    # Stale temporaries of a killed local write (object stores upload under a temporary
    # name and move, so only a local store leaves them).
    stale: list[Path] = []
    if isinstance(objects, LocalObjectStore) and (objects.root / "tmp").exists():
        stale = [p for p in (objects.root / "tmp").iterdir() if p.stat().st_mtime < cutoff]
    born = meta.created_at()
    oldest = min((e.mtime for e in candidates), default=None)
    if not force and born is not None and oldest is not None and oldest < born - 1.0:
        raise WorkspaceError(
            f"refusing to collect garbage: {len(candidates)} unreferenced object(s) are older "
            "than the metadata database, which looks replaced or recreated",
            path=objects.url,
            hint="Restore the database from a backup first; add --force only if those "
            "objects are truly unwanted.",
        )
    removed = freed = 0
    for entry in candidates:
        if not dry_run:
            objects.delete(entry.digest, suffix=entry.suffix)
        removed += 1
        freed += entry.size
    for path in stale:
        size = path.stat().st_size
        if not dry_run:
            path.unlink(missing_ok=True)
        removed += 1
        freed += size
    return GcReport(removed=removed, bytes_freed=freed, kept=kept, dry_run=dry_run)
