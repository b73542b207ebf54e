"""The two sides of a drift check: a file, or a dataset version of the workspace.

From a dataset version the model-facing columns are compared — the features and the label
(prior shift) — never ids, splits, metadata or free text (every value of those is new by
design); integer labels are categories. From a file every column is compared except
``example_id`` and ``split``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from dcai.store import Stores

__all__ = ["DriftSide", "is_file", "read_side"]

_NEVER = ("example_id", "split")


@dataclass(frozen=True)
class DriftSide:
    """One side's rows, where they came from, and the columns that are categories."""

    frame: pd.DataFrame
    source: str
    categorical: tuple[str, ...] = field(default=())


def is_file(source: str | Path) -> bool:
    """Whether ``source`` names an existing file (else it is a dataset ref)."""
    return Path(source).is_file()


def read_side(source: str | Path, stores: Stores | None = None) -> DriftSide:
    """The rows of ``source``: a CSV/Parquet/JSON Lines file, or a dataset ref with ``stores``."""
    if is_file(source):
        from dcai.data._readers import read_table

        frame = read_table(Path(source))
        keep = [c for c in frame.columns if str(c) not in _NEVER]
        return DriftSide(frame[keep], str(source))
    from dcai.data.versions import resolve_ref
    from dcai.errors import UnknownRefError

    if stores is None:
        raise UnknownRefError(
            f"no file {str(source)!r}",
            hint="Give a CSV, Parquet or JSON Lines file, or a dataset ref.",
        )
    version = resolve_ref(stores, str(source))
    roles = version.roles
    columns = [*roles.features, roles.label]
    frame = version.to_pandas(columns=columns)
    label = frame[roles.label]
    categorical = (roles.label,) if not pd.api.types.is_float_dtype(label) else ()
    return DriftSide(frame, version.ref, categorical)
