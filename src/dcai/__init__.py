"""dcai: data-centric AI as an everyday engineering loop.

Version the data, find and fix what is wrong with it, analyse errors, track runs, serve,
monitor, and feed production back into the next dataset version.

The top-level names are loaded lazily, so ``import dcai.data`` (pure functions on
DataFrames) does not pull in the database layer or the CLI.

>>> import dcai, tempfile
>>> ws = dcai.Workspace(tempfile.mkdtemp())
>>> ws.data.datasets()
[]
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from dcai.errors import (
    DcaiError,
    InvalidInputError,
    MissingDependencyError,
    SchemaError,
    UnknownRefError,
    WorkspaceBusyError,
    WorkspaceError,
)

if TYPE_CHECKING:
    from dcai.data import ColumnRoles, VersionDiff
    from dcai.data.versions import DatasetSummary, DatasetVersion
    from dcai.workspace import Workspace

__version__ = "0.1.0"

_LAZY = {
    "ColumnRoles": "dcai.data",
    "VersionDiff": "dcai.data",
    "DatasetSummary": "dcai.data.versions",
    "DatasetVersion": "dcai.data.versions",
    "Workspace": "dcai.workspace",
}

__all__ = [
    "ColumnRoles",
    "DatasetSummary",
    "DatasetVersion",
    "DcaiError",
    "InvalidInputError",
    "MissingDependencyError",
    "SchemaError",
    "UnknownRefError",
    "VersionDiff",
    "Workspace",
    "WorkspaceBusyError",
    "WorkspaceError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dcai' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
