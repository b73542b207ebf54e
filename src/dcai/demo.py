"""The demo behind ``make demo``: the data → labels → analysis loop on scikit-learn's digits.

Everything runs offline on data bundled with scikit-learn. Later stages of the loop extend
this same demo.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dcai.data.versions import DatasetVersion
from dcai.workspace import Workspace

__all__ = ["DemoResult", "digits_frame", "run_demo"]


def digits_frame() -> pd.DataFrame:
    """scikit-learn's 1,797 8×8 digit images as 64 pixel columns plus ``label``.

    >>> digits_frame().shape
    (1797, 65)
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    frame = pd.DataFrame(digits.data.astype("int16"), columns=[f"px{i:02d}" for i in range(64)])
    frame["label"] = digits.target.astype("int64")
    return frame


@dataclass(frozen=True)
class DemoResult:
    workspace: Workspace
    added: DatasetVersion
    split: DatasetVersion


def run_demo(path: str | Path, *, fresh: bool = True, seed: int = 0) -> DemoResult:
    """Load digits into a workspace at ``path`` and split it (stratified, seeded)."""
    path = Path(path)
    if fresh and path.exists():
        if not (path / "dcai.toml").exists():
            raise FileExistsError(f"{path} exists and is not a dcai workspace; not deleting it")
        shutil.rmtree(path)
    ws = Workspace(path)
    added = ws.add_dataset(
        "digits", digits_frame(), label="label", message="scikit-learn digits (bundled)"
    )
    split = ws.split("digits", dev=0.1, test=0.2, seed=seed, message="stratified train/dev/test")
    return DemoResult(workspace=ws, added=added, split=split)
