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
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

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
    # A row's hash depends on that row alone, so hashing in slices gives the same result
    # while bounding the temporaries (string columns are hashed as Python objects).
    out = np.empty(len(frame), dtype=np.uint64)
    for start in range(0, len(frame), _HASH_CHUNK_ROWS):
        part = frame.iloc[start : start + _HASH_CHUNK_ROWS]
        out[start : start + len(part)] = _combine_hashes(_column_hashes(part), part.shape[1])
    return out


_HASH_CHUNK_ROWS = 1 << 16


def _column_hashes(frame: pd.DataFrame) -> Iterator[np.ndarray[Any, np.dtype[np.uint64]]]:
    for column, series in frame.items():
        # Categorizing first only pays off for repeated values; ``example_id`` is unique.
        # Without nulls both ways give the same hashes (nulls hash differently uncategorized).
        categorize = not (column == EXAMPLE_ID and not series.hasnans)
        yield pd.util.hash_pandas_object(series, index=False, categorize=categorize).to_numpy(
            dtype=np.uint64
        )


def _combine_hashes(
    arrays: Iterator[np.ndarray[Any, np.dtype[np.uint64]]], num_items: int
) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """Combine per-column hashes exactly as ``hash_pandas_object`` does for a DataFrame.

    Column by column, so only one column's hashes are held besides the result.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"x": [1.5, 2.0], "s": ["a", None], "example_id": ["h1", "h2"]})
    >>> expected = pd.util.hash_pandas_object(df, index=False).to_numpy()
    >>> bool((row_hashes(df) == expected).all())
    True
    """
    mult = np.uint64(1000003)
    out: np.ndarray[Any, np.dtype[np.uint64]] | None = None
    for i, hashes in enumerate(arrays):
        if out is None:
            out = hashes ^ np.uint64(0x345678)
        else:
            out ^= hashes
        out *= mult
        inverse = num_items - i
        mult += np.uint64(82520 + inverse + inverse)
    assert out is not None  # invariant: called with at least one column
    out += np.uint64(97531)
    return out


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
    base = _hex_ids(hashes)
    base.index = frame.index
    # Equal ids come from equal hashes, so repeats are found on the integers.
    if pd.Series(hashes).duplicated().any():
        occurrence = pd.Series(hashes).groupby(hashes, sort=False).cumcount().to_numpy()
        repeated = occurrence > 0
        base[repeated] = base[repeated] + "-" + (occurrence[repeated] + 1).astype(str)
    return base.astype(str)


_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_ID_WIDTH = 17  # "h" and 16 hex digits


def _hex_ids(hashes: np.ndarray[Any, np.dtype[np.uint64]]) -> pd.Series:
    """``"h%016x" % hash`` for every hash, built as one Arrow string buffer (no Python loop)."""
    n = len(hashes)
    chars = np.empty((n, _ID_WIDTH), dtype=np.uint8)
    chars[:, 0] = ord("h")
    octets = hashes.astype(">u8").view(np.uint8).reshape(n, 8)
    chars[:, 1::2] = _HEX_DIGITS[octets >> 4]
    chars[:, 2::2] = _HEX_DIGITS[octets & 0x0F]
    offsets = np.arange(0, _ID_WIDTH * (n + 1), _ID_WIDTH, dtype=np.int64)
    strings = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(chars))
    ids: pd.Series = strings.to_pandas()
    return ids


def canonical_frame(frame: pd.DataFrame, roles: ColumnRoles) -> pd.DataFrame:
    """Order columns as ``example_id``, data columns in input order, label, split.

    The id column's values (as strings) become ``example_id``; without one, ids are derived
    from the input columns (features and text), or from all data columns when there are none.
    """
    # Any index is accepted; rows are aligned by position (copy-on-write: no data copied).
    frame = frame.reset_index(drop=True)
    data_columns = [c for c in frame.columns if c in set(roles.data_columns)]
    if roles.id is not None:
        ids = frame[roles.id].astype(str)
    else:
        basis = list(roles.inputs) or data_columns or [roles.label]
        ids = derive_example_ids(frame, basis)
    # ``.array`` drops the index like ``.to_numpy()`` but keeps Arrow-backed strings as they are.
    columns: dict[str, Any] = {EXAMPLE_ID: ids.array}
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
    """sha256 over column names, roles, dtypes, sensitive columns and the sorted row hashes (plus
    annotations)."""
    digest = hashlib.sha256()
    header = {
        "format": 1,
        "columns": [
            [str(c), roles.role_of(str(c)), _dtype_family(frame[c])] for c in frame.columns
        ],
        "annotations": annotations_digest,
    }
    if roles.sensitive:  # marking a column sensitive is a change of the version (absent before)
        header["sensitive"] = sorted(roles.sensitive)
    digest.update(json.dumps(header, sort_keys=True).encode())
    digest.update(np.sort(row_hashes(frame)).tobytes())
    return digest.hexdigest()
