"""Datasets: reading tables, column roles, canonical content, diffs and splits.

The pure functions here work on plain DataFrames; :class:`dcai.Workspace` uses them to
commit immutable, content-addressed dataset versions.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dcai.data._content import canonical_frame, content_hash, derive_example_ids, row_hashes
    from dcai.data._diff import VersionDiff, diff_frames
    from dcai.data._readers import SUPPORTED_SUFFIXES, read_table
    from dcai.data._schema import EXAMPLE_ID, SPLIT, ColumnRoles, infer_roles, validate_table
    from dcai.data._splits import (
        BalanceReport,
        assign_splits,
        balance_report,
        split_fractions,
    )

#: Where each public name lives: imported on first use, so that importing a light module of
#: this package (the catalogue) does not load pandas, numpy and pyarrow.
_HOME = {
    "canonical_frame": "_content",
    "content_hash": "_content",
    "derive_example_ids": "_content",
    "row_hashes": "_content",
    "VersionDiff": "_diff",
    "diff_frames": "_diff",
    "SUPPORTED_SUFFIXES": "_readers",
    "read_table": "_readers",
    "EXAMPLE_ID": "_schema",
    "SPLIT": "_schema",
    "ColumnRoles": "_schema",
    "infer_roles": "_schema",
    "validate_table": "_schema",
    "BalanceReport": "_splits",
    "assign_splits": "_splits",
    "balance_report": "_splits",
    "split_fractions": "_splits",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'dcai.data' has no attribute {name!r}")
    value = getattr(import_module(f"dcai.data.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "EXAMPLE_ID",
    "SPLIT",
    "SUPPORTED_SUFFIXES",
    "BalanceReport",
    "ColumnRoles",
    "VersionDiff",
    "assign_splits",
    "balance_report",
    "canonical_frame",
    "content_hash",
    "derive_example_ids",
    "diff_frames",
    "infer_roles",
    "read_table",
    "row_hashes",
    "split_fractions",
    "validate_table",
]
