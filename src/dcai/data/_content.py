"""Canonical content of a dataset version: example ids, column order, and content hashes.

A version's id is the sha256 of its canonical content, so the same data always gets the
same id, wherever and however often it is added. The hash covers each column's name, role
and dtype and the multiset of row hashes: row order does not change the version id.

Row hashes use :func:`pandas.util.hash_pandas_object` (SipHash with a fixed key), which
is deterministic across processes and machines.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pandas as pd

from dcai.data._schema import EXAMPLE_ID, ColumnRoles

__all__ = ["canonical_frame", "content_hash", "derive_example_ids", "row_hashes"]


def row_hashes(frame: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """One uint64 per row, combining every column's value (not the index).

    >>> import pandas as pd
    >>> a = row_hashes(pd.DataFrame({"x": [1, 2]}))
    >>> b = row_hashes(pd.DataFrame({"x": [1, 3]}))
    >>> bool(a[0] == b[0]), bool(a[1] == b[1])
    (True, False)
    """
    if frame.shape[1] == 0:
        return np.zeros(len(frame), dtype=np.uint64)
    hashes: np.ndarray[Any, np.dtype[np.uint64]] = pd.util.hash_pandas_object(
        frame, index=False
    ).to_numpy(dtype=np.uint64)
    return hashes


def derive_example_ids(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Deterministic ids from the content of ``columns``: ``h<16 hex>``, ``-2``, ``-3`` on repeats.

    Ids depend only on the input columns, not on the label, so relabeling keeps every id;
    repeated identical rows are told apart by their order of appearance.

    >>> import pandas as pd
    >>> ids = derive_example_ids(pd.DataFrame({"x": [1, 1, 2]}), ["x"])
    >>> ids.str.len().tolist(), ids[1].endswith("-2")
    ([17, 19, 17], True)
    """
    hashes = row_hashes(frame[columns])
    base = pd.Series(
        np.char.add("h", np.char.zfill(np.char.mod("%x", hashes), 16)), index=frame.index
    )
    occurrence = base.groupby(base, sort=False).cumcount().to_numpy()
    repeated = occurrence > 0
    if repeated.any():
        base = base.copy()
        base[repeated] = base[repeated] + "-" + (occurrence[repeated] + 1).astype(str)
    return base.astype(str)


def canonical_frame(frame: pd.DataFrame, roles: ColumnRoles) -> pd.DataFrame:
    """Order columns as ``example_id``, data columns in input order, label, split.

    The id column's values (as strings) become ``example_id``; without one, ids are derived
    from the input columns (features and text), or from all data columns when there are none.
    """
    data_columns = [c for c in frame.columns if c in set(roles.data_columns)]
    if roles.id is not None:
        ids = frame[roles.id].astype(str)
    else:
        basis = list(roles.inputs) or data_columns or [roles.label]
        ids = derive_example_ids(frame, basis)
    columns: dict[str, Any] = {EXAMPLE_ID: ids.to_numpy()}
    for column in data_columns:
        columns[column] = frame[column]
    columns[roles.label] = frame[roles.label]
    if roles.split is not None:
        columns[roles.split] = frame[roles.split].astype(str)
    out = pd.DataFrame(columns, index=pd.RangeIndex(len(frame)), copy=False)
    out[EXAMPLE_ID] = out[EXAMPLE_ID].astype(str)
    return out


def _dtype_family(series: pd.Series) -> str:
    # object and str dtypes holding the same strings are the same content.
    if pd.api.types.is_string_dtype(series.dtype):
        return "string"
    return str(series.dtype)


def content_hash(
    frame: pd.DataFrame,
    roles: ColumnRoles,
    *,
    annotations_digest: str | None = None,
) -> str:
    """sha256 over column names, roles, dtypes and the sorted row hashes (plus annotations)."""
    digest = hashlib.sha256()
    header = {
        "format": 1,
        "columns": [
            [str(c), roles.role_of(str(c)), _dtype_family(frame[c])] for c in frame.columns
        ],
        "annotations": annotations_digest,
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    digest.update(np.sort(row_hashes(frame)).tobytes())
    return digest.hexdigest()
