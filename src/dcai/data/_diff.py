"""Compare two dataset versions example by example."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dcai.data._content import row_hashes
from dcai.data._schema import EXAMPLE_ID, ColumnRoles

__all__ = ["VersionDiff", "diff_frames"]


@dataclass(frozen=True)
class VersionDiff:
    """What changed from version ``a`` to version ``b``.

    Each table holds ``example_id`` plus the relevant values: ``added``/``removed`` the
    label, ``relabeled`` ``old_label``/``new_label``, ``changed`` the names of the data
    columns whose values differ, ``moved`` ``old_split``/``new_split``.
    """

    a: str
    b: str
    added: pd.DataFrame
    removed: pd.DataFrame
    relabeled: pd.DataFrame
    changed: pd.DataFrame
    moved: pd.DataFrame
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)
    annotations_added: int = 0
    annotations_removed: int = 0
    annotations_changed: int = 0

    @property
    def counts(self) -> dict[str, int]:
        """How many examples fall in each kind of change."""
        return {
            "added": len(self.added),
            "removed": len(self.removed),
            "relabeled": len(self.relabeled),
            "changed": len(self.changed),
            "moved": len(self.moved),
            "annotations_added": self.annotations_added,
            "annotations_removed": self.annotations_removed,
            "annotations_changed": self.annotations_changed,
        }

    @property
    def is_empty(self) -> bool:
        return not any(self.counts.values()) and not self.columns_added and not self.columns_removed

    def to_dict(self, *, max_rows: int | None = None) -> dict[str, Any]:
        """JSON-ready form; ``max_rows`` caps each row list."""

        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            part = frame if max_rows is None else frame.head(max_rows)
            return [{k: _plain(v) for k, v in row.items()} for row in part.to_dict("records")]

        return {
            "a": self.a,
            "b": self.b,
            "counts": self.counts,
            "columns_added": self.columns_added,
            "columns_removed": self.columns_removed,
            "added": records(self.added),
            "removed": records(self.removed),
            "relabeled": records(self.relabeled),
            "changed": records(self.changed),
            "moved": records(self.moved),
        }


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return value


def diff_frames(
    a: pd.DataFrame,
    b: pd.DataFrame,
    roles_a: ColumnRoles,
    roles_b: ColumnRoles,
    *,
    a_name: str = "a",
    b_name: str = "b",
    annotations_a: pd.DataFrame | None = None,
    annotations_b: pd.DataFrame | None = None,
) -> VersionDiff:
    """Diff two canonical frames by ``example_id``.

    >>> import pandas as pd
    >>> from dcai.data._schema import ColumnRoles
    >>> r = ColumnRoles(label="y", features=("x",))
    >>> a = pd.DataFrame({"example_id": ["1", "2", "3"], "x": [1, 2, 3], "y": ["a", "b", "c"]})
    >>> b = pd.DataFrame({"example_id": ["2", "3", "4"], "x": [2, 9, 4], "y": ["z", "c", "d"]})
    >>> diff_frames(a, b, r, r).counts["relabeled"], diff_frames(a, b, r, r).counts["changed"]
    (1, 1)
    """
    ids_a = a[EXAMPLE_ID]
    ids_b = b[EXAMPLE_ID]
    in_b = ids_a.isin(ids_b).to_numpy()
    in_a = ids_b.isin(ids_a).to_numpy()
    added = b.loc[~in_a, [EXAMPLE_ID, roles_b.label]].rename(columns={roles_b.label: "label"})
    removed = a.loc[~in_b, [EXAMPLE_ID, roles_a.label]].rename(columns={roles_a.label: "label"})

    left = a.loc[in_b].set_index(EXAMPLE_ID)
    right = b.loc[in_a].set_index(EXAMPLE_ID).reindex(left.index)
    ids = left.index

    old_label = left[roles_a.label]
    new_label = right[roles_b.label]
    relabel_mask = ~_same(old_label, new_label)
    relabeled = pd.DataFrame(
        {
            EXAMPLE_ID: ids[relabel_mask],
            "old_label": old_label[relabel_mask].to_numpy(),
            "new_label": new_label[relabel_mask].to_numpy(),
        }
    )

    common = [c for c in roles_a.data_columns if c in set(roles_b.data_columns)]
    changed_mask = np.zeros(len(ids), dtype=bool)
    changed_columns: list[list[str]] = [[] for _ in range(len(ids))]
    if common:
        whole = row_hashes(left[common]) != row_hashes(right[common])
        changed_mask = whole
        if whole.any():
            positions = np.flatnonzero(whole)
            for column in common:
                differs = ~_same(left[column].iloc[positions], right[column].iloc[positions])
                for pos in positions[differs]:
                    changed_columns[pos].append(column)
    changed = pd.DataFrame(
        {
            EXAMPLE_ID: ids[changed_mask],
            "columns": [changed_columns[i] for i in np.flatnonzero(changed_mask)],
        }
    )

    moved = pd.DataFrame(columns=[EXAMPLE_ID, "old_split", "new_split"])
    if roles_a.split and roles_b.split:
        old_split, new_split = left[roles_a.split], right[roles_b.split]
        move_mask = ~_same(old_split, new_split)
        moved = pd.DataFrame(
            {
                EXAMPLE_ID: ids[move_mask],
                "old_split": old_split[move_mask].to_numpy(),
                "new_split": new_split[move_mask].to_numpy(),
            }
        )

    cols_a = set(roles_a.data_columns) | ({roles_a.split} if roles_a.split else set())
    cols_b = set(roles_b.data_columns) | ({roles_b.split} if roles_b.split else set())
    ann = _diff_annotations(annotations_a, annotations_b)
    return VersionDiff(
        a=a_name,
        b=b_name,
        added=added.reset_index(drop=True),
        removed=removed.reset_index(drop=True),
        relabeled=relabeled,
        changed=changed,
        moved=moved,
        columns_added=sorted(cols_b - cols_a),
        columns_removed=sorted(cols_a - cols_b),
        annotations_added=ann[0],
        annotations_removed=ann[1],
        annotations_changed=ann[2],
    )


def _same(x: pd.Series, y: pd.Series) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Element-wise equality where two missing values count as equal."""
    xs, ys = x.reset_index(drop=True), y.reset_index(drop=True)
    both_missing = (xs.isna() & ys.isna()).to_numpy()
    try:
        equal = (xs == ys).fillna(False).to_numpy(dtype=bool)
    except TypeError:
        equal = (xs.astype(str) == ys.astype(str)).to_numpy(dtype=bool)
    return np.asarray(equal | both_missing, dtype=bool)


def _diff_annotations(a: pd.DataFrame | None, b: pd.DataFrame | None) -> tuple[int, int, int]:
    key = [EXAMPLE_ID, "annotator"]
    empty = pd.DataFrame(columns=[*key, "label"])
    a = empty if a is None else a
    b = empty if b is None else b
    merged = a[[*key, "label"]].merge(b[[*key, "label"]], on=key, how="outer", indicator=True)
    added = int((merged["_merge"] == "right_only").sum())
    removed = int((merged["_merge"] == "left_only").sum())
    both = merged[merged["_merge"] == "both"]
    changed = int((~_same(both["label_x"], both["label_y"])).sum())
    return added, removed, changed
