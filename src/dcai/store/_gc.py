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
from dcai.store._objects import LocalObjectStore
from dcai.store._tables import OBJECT_REFERENCES

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
    objects: LocalObjectStore,
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
    cutoff = time.time() - grace_seconds
    keep = referenced_digests(meta)
    removed = kept = freed = 0
    candidates: list[Path] = []
    for path in (objects.root / "sha256").glob("*/*"):
        digest = path.name.split(".", 1)[0]
        if digest in keep:
            kept += 1
        elif path.stat().st_mtime < cutoff:
            candidates.append(path)
        else:
            kept += 1
    staging = objects.root / "tmp"
    if staging.exists():
        candidates += [p for p in staging.iterdir() if p.stat().st_mtime < cutoff]
    born = meta.created_at()
    oldest = min((p.stat().st_mtime for p in candidates), default=None)
    if not force and born is not None and oldest is not None and oldest < born - 1.0:
        raise WorkspaceError(
            f"refusing to collect garbage: {len(candidates)} unreferenced object(s) are older "
            "than the metadata database, which looks replaced or recreated",
            path=str(objects.root),
            hint="Restore the database from a backup first; add --force only if those "
            "objects are truly unwanted.",
        )
    for path in candidates:
        size = path.stat().st_size
        if not dry_run:
            path.unlink(missing_ok=True)
        removed += 1
        freed += size
    return GcReport(removed=removed, bytes_freed=freed, kept=kept, dry_run=dry_run)
