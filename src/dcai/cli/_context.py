"""Find the workspace a command works on: --workspace, else $DCAI_HOME, else ./.dcai."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    # Imported when a command opens a workspace, so `dcai --help` loads no pandas/SQLAlchemy.
    from dcai.workspace import Workspace


def open_workspace(ctx: typer.Context, *, create: bool = False) -> Workspace:
    """Open the workspace named on the command line (never creating one by accident)."""
    from dcai.workspace import Workspace

    root = ctx.find_root()
    path: Path | None = (root.obj or {}).get("workspace")
    return Workspace(path, create=create)
