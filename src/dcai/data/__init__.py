"""Datasets: reading tables, column roles, canonical content, diffs and splits.

The pure functions here work on plain DataFrames; :class:`dcai.Workspace` uses them to
commit immutable, content-addressed dataset versions.
"""

from __future__ import annotations

from dcai.data._content import canonical_frame, content_hash, derive_example_ids, row_hashes
from dcai.data._diff import VersionDiff, diff_frames
from dcai.data._readers import SUPPORTED_SUFFIXES, read_table
from dcai.data._schema import EXAMPLE_ID, SPLIT, ColumnRoles, infer_roles, validate_table
from dcai.data._splits import BalanceReport, assign_splits, balance_report, split_fractions

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
