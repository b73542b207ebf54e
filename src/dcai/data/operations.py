"""Operations that derive a new version from an existing one: split, export."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd

from dcai._user_files import check_output_path, write_user_file
from dcai.data._readers import SUPPORTED_SUFFIXES
from dcai.data._schema import SPLIT, column_not_found
from dcai.data._splits import assign_splits, split_fractions
from dcai.data.versions import DatasetVersion, commit_version, resolve_ref
from dcai.errors import InvalidInputError

if TYPE_CHECKING:
    from dcai.store import Stores

__all__ = ["export_version", "split_version"]

ExportFormat = Literal["csv", "parquet", "jsonl"]


def split_version(
    stores: Stores,
    ref: str,
    *,
    dev: float = 0.1,
    test: float = 0.2,
    stratify: str | None = None,
    no_stratify: bool = False,
    group: str | None = None,
    seed: int = 0,
    message: str = "",
    author: str | None = None,
) -> DatasetVersion:
    """Commit a child of ``ref`` whose ``split`` column assigns each example to train/dev/test.

    Stratified by the label unless ``stratify`` names another column or ``no_stratify``;
    with ``group``, every group lands in exactly one split. An existing split is replaced.
    """
    parent = resolve_ref(stores, ref)
    fractions = split_fractions(dev, test)
    frame = parent.to_pandas()
    columns = list(frame.columns)
    for option, column in (("--stratify", stratify), ("--group", group)):
        if column is not None and column not in columns:
            raise column_not_found(column, [c for c in columns if c != SPLIT], parent.ref, option)
    strat_column = None if no_stratify else (stratify or parent.roles.label)
    strata = frame[strat_column] if strat_column else pd.Series(0, index=frame.index)
    groups = frame[group] if group else None
    splits = assign_splits(strata, fractions=fractions, groups=groups, random_state=seed)
    child = frame.drop(columns=[SPLIT], errors="ignore")
    child[SPLIT] = pd.Series(splits, index=child.index).astype(str)
    roles = parent.roles
    if roles.split is None:
        from dataclasses import replace

        roles = replace(roles, split=SPLIT)
    params = {
        "dev": dev,
        "test": test,
        "train": fractions["train"],
        "stratify": strat_column,
        "group": group,
        "seed": seed,
    }
    return commit_version(
        stores,
        parent.dataset,
        child,
        roles,
        operation="split",
        params=params,
        message=message or f"split train/dev/test {fractions['train']:g}/{dev:g}/{test:g}",
        author=author,
        parents=[parent],
        annotations=parent.annotations() if parent.n_annotations else None,
    )


def export_version(
    stores: Stores,
    ref: str,
    path: str | Path,
    *,
    format: ExportFormat | None = None,
    annotations: bool = False,
    force: bool = False,
) -> Path:
    """Write a version's rows (or its annotations) to CSV, Parquet or JSON Lines, atomically.

    The file goes through :func:`dcai._user_files.write_user_file`: never inside the
    workspace, never over a device or folder, and over an existing file only with
    ``force=True``. The path is checked before the version is read.

    >>> import tempfile, pathlib, pandas as pd
    >>> from dcai import Workspace
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> ws = Workspace(root / "ws")
    >>> _ = ws.data.add("toy", pd.DataFrame({"x": [1, 2], "label": ["a", "b"]}))
    >>> export_version(ws, "toy", root / "toy.csv").name
    'toy.csv'
    >>> export_version(ws, "toy", root / "toy.csv", force=True).name
    'toy.csv'
    >>> ws.close()
    """
    version = resolve_ref(stores, ref)
    path = Path(path)
    kind = format or SUPPORTED_SUFFIXES.get(path.suffix.lower())
    if kind not in ("csv", "parquet", "jsonl"):
        raise InvalidInputError(
            f"unknown export format {format!r}"
            if format
            else f"cannot tell the export format from {path.name!r}",
            path=str(path),
            hint="Use a .csv, .parquet or .jsonl file name, or pass --format.",
        )
    check_output_path(path, workspace=stores, force=force)
    frame = version.annotations() if annotations else version.to_pandas()

    def writer(tmp: Path) -> None:
        if kind == "csv":
            frame.to_csv(tmp, index=False)
        elif kind == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_json(tmp, orient="records", lines=True, date_format="iso")

    return write_user_file(path, writer, workspace=stores, force=force)
