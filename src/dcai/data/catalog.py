"""The dataset catalogue: which datasets exist and their newest versions, read with SQL only.

Kept apart from :mod:`dcai.data.versions` so that listing datasets (``dcai data list``)
loads neither pandas nor pyarrow.

>>> import tempfile, pandas as pd, dcai
>>> ws = dcai.Workspace(tempfile.mkdtemp())
>>> _ = ws.data.add("toy", pd.DataFrame({"x": [1, 2], "label": ["a", "b"]}))
>>> [(d.name, d.versions, d.rows) for d in list_datasets(ws)]
[('toy', 1, 2)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from dcai.store import schema as t

if TYPE_CHECKING:
    from dcai.store import Stores

__all__ = ["SHORT_ID_LENGTH", "DatasetSummary", "list_datasets"]

#: Characters of a version's content hash shown in refs (``name@3f2a9c1``).
SHORT_ID_LENGTH = 7


@dataclass(frozen=True)
class DatasetSummary:
    """One line of ``dcai data list``."""

    name: str
    versions: int
    latest: str
    rows: int
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "versions": self.versions,
            "latest": self.latest,
            "rows": self.rows,
            "updated_at": self.updated_at,
        }


def list_datasets(stores: Stores) -> list[DatasetSummary]:
    """Every dataset with its number of versions and its latest version."""
    out = []
    with stores.meta.read() as conn:
        latest = (
            select(
                t.versions.c.dataset_id,
                func.max(t.versions.c.seq).label("seq"),
                func.count().label("n"),
            )
            .group_by(t.versions.c.dataset_id)
            .subquery()
        )
        rows = conn.execute(
            select(
                t.datasets.c.name,
                latest.c.n,
                t.versions.c.version_hash,
                t.versions.c.rows,
                t.versions.c.created_at,
            )
            .select_from(
                t.datasets.join(latest, latest.c.dataset_id == t.datasets.c.id).join(
                    t.versions,
                    (t.versions.c.dataset_id == latest.c.dataset_id)
                    & (t.versions.c.seq == latest.c.seq),
                )
            )
            .order_by(t.datasets.c.name)
        ).all()
    for r in rows:
        out.append(
            DatasetSummary(
                name=r.name,
                versions=int(r.n),
                latest=f"{r.name}@{r.version_hash[:SHORT_ID_LENGTH]}",
                rows=int(r.rows),
                updated_at=r.created_at,
            )
        )
    return out
