"""The slices an error analysis measures, as boolean masks over the version's examples.

They come from the version's tags and metadata columns, ``by`` columns (value by value, or in
quantile bins when numeric), true and predicted class, slices written by hand, and slices found
automatically (:func:`dcai.analysis._slices.find_slices`). Kept apart from the workflow
(:mod:`dcai.analysis.workflow`) because choosing slices is one self-contained step; it reads
only the version's frame and roles, never the store, so it stays an algorithm-layer module.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dcai.data._schema import EXAMPLE_ID
from dcai.errors import DcaiError, InvalidInputError

if TYPE_CHECKING:
    from dcai.analysis._slices import SliceReport
    from dcai.data.versions import DatasetVersion

__all__ = [
    "MAX_DISCOVERY_FEATURES",
    "MAX_VALUES_PER_COLUMN",
    "NUMERIC_BINS",
    "analysed_slices",
]

#: Categorical columns with more values than this are not sliced value by value.
MAX_VALUES_PER_COLUMN = 20
#: Numeric columns are cut into this many quantile bins to make slices.
NUMERIC_BINS = 4
#: Automatic slice discovery searches at most this many feature columns (plus tags and meta).
MAX_DISCOVERY_FEATURES = 30


def analysed_slices(
    version: DatasetVersion,
    frame: pd.DataFrame,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: list[Any],
    rows: np.ndarray,
    *,
    by: Sequence[str],
    slices: Sequence[str],
    discover: bool,
    split: str | None,
    notes: list[str],
) -> tuple[dict[str, np.ndarray], dict[str, str], SliceReport | None]:
    """Every slice's mask and kind, and the discovery report (None when not searched).

    Slices with no example in ``rows`` are left out, with a note.
    """
    from dcai.analysis._slice_predicates import parse_slice, slice_mask

    masks, kinds = _standard_slices(version, frame, y_true, y_pred, classes, by)
    for text in slices:
        masks[text] = slice_mask(frame, parse_slice(text))
        kinds[text] = "user"
    discovered = None
    if discover:
        discovered = _discover(version, frame, y_true != y_pred, rows, notes)
        if discovered is not None:
            for name, mask in discovered.masks(frame).items():
                masks.setdefault(str(name), np.asarray(mask, dtype=bool))
                kinds.setdefault(str(name), "discovered")
    for name in [n for n, m in masks.items() if not m[rows].any()]:
        notes.append(f"slice {name!r} has no examples{' in ' + split if split else ''}; left out")
        del masks[name]
    return masks, kinds, discovered


def _column_slices(frame: pd.DataFrame, column: str) -> dict[str, np.ndarray]:
    values = frame[column]
    out: dict[str, np.ndarray] = {}
    if pd.api.types.is_bool_dtype(values):
        out[column] = values.fillna(False).to_numpy(dtype=bool)
        out[f"not {column}"] = (~values.fillna(True).astype(bool)).to_numpy()
        return out
    numeric = pd.api.types.is_numeric_dtype(values)
    distinct = values.dropna().unique()
    if numeric and len(distinct) > MAX_VALUES_PER_COLUMN:
        edges = np.unique(
            np.nanquantile(values.to_numpy(dtype=float), np.linspace(0, 1, NUMERIC_BINS + 1))
        )
        for i, (lo, hi) in enumerate(itertools.pairwise(edges)):
            last = i == len(edges) - 2
            mask = (values >= lo) & ((values <= hi) if last else (values < hi))
            out[f"{lo:g} ≤ {column} {'≤' if last else '<'} {hi:g}"] = mask.to_numpy(dtype=bool)
    elif len(distinct) <= MAX_VALUES_PER_COLUMN:
        for value in sorted(distinct, key=str):
            out[f"{column} == {value}"] = (values == value).to_numpy(dtype=bool)
    if values.isna().any():
        out[f"{column} is missing"] = values.isna().to_numpy()
    return out


def _standard_slices(
    version: DatasetVersion,
    frame: pd.DataFrame,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: list[Any],
    by: Sequence[str],
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Tags, metadata and ``by`` columns, true class and predicted class."""
    roles = version.roles
    masks: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    for tag in roles.tags:
        masks[tag] = frame[tag].fillna(False).to_numpy(dtype=bool)
        kinds[tag] = "tag"
    for column in (*roles.meta, *by):
        if column not in frame.columns:
            listing = ", ".join(str(c) for c in frame.columns[:12])
            raise InvalidInputError(
                f"{version.ref} has no column {column!r} to slice by",
                column=column,
                hint=f"Pick one of: {listing}.",
            )
        if column in roles.tags or column in (EXAMPLE_ID, roles.label):
            continue
        for name, mask in _column_slices(frame, column).items():
            masks[name] = mask
            kinds[name] = "meta" if column in roles.meta else "column"
    for value in classes:
        masks[f"label == {value}"] = y_true == value
        kinds[f"label == {value}"] = "class"
    for value in classes:
        masks[f"predicted == {value}"] = y_pred == value
        kinds[f"predicted == {value}"] = "predicted"
    return masks, kinds


def _discover(
    version: DatasetVersion,
    frame: pd.DataFrame,
    errors: np.ndarray,
    rows: np.ndarray,
    notes: list[str],
) -> SliceReport | None:
    from dcai.analysis._slices import find_slices

    roles = version.roles
    features = [c for c in roles.features if c in frame.columns]
    if len(features) > MAX_DISCOVERY_FEATURES:
        notes.append(
            f"slice discovery searched tags and metadata only: {len(features)} feature columns "
            f"are more than {MAX_DISCOVERY_FEATURES} (slice by chosen ones with --by)"
        )
        features = []
    columns = [*roles.tags, *roles.meta, *features]
    if not columns:
        notes.append("no tags, metadata or features to discover slices in")
        return None
    try:
        return find_slices(
            frame.loc[rows, columns].reset_index(drop=True), errors[rows].astype(float)
        )
    except DcaiError as exc:
        notes.append(f"slice discovery skipped: {exc}")
        return None
