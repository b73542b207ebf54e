"""dcai: data-centric AI as an everyday engineering loop.

Version the data, find and fix what is wrong with it, analyse errors, track runs, serve,
monitor, and feed production back into the next dataset version.

>>> import dcai, tempfile
>>> ws = dcai.Workspace(tempfile.mkdtemp())
>>> ws.datasets()
[]
"""

from __future__ import annotations

from dcai.data import ColumnRoles, VersionDiff
from dcai.data.versions import DatasetSummary, DatasetVersion
from dcai.errors import (
    DcaiError,
    InvalidInputError,
    MissingDependencyError,
    SchemaError,
    UnknownRefError,
    WorkspaceBusyError,
    WorkspaceError,
)
from dcai.workspace import Workspace

__version__ = "0.1.0"

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
