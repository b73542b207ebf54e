"""An audit counts duplicate groups that span splits (train/dev/test leakage)."""

from __future__ import annotations

import numpy as np
import pandas as pd

import dcai


def test_duplicates_across_splits_are_counted_as_leakage(tmp_workspace: dcai.Workspace) -> None:
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame(rng.normal(size=(n, 4)).round(4), columns=["a", "b", "c", "d"])
    frame["label"] = np.where(frame["a"] + frame["b"] > 0, "pos", "neg")
    frame["row"] = [f"r{i:03d}" for i in range(n)]
    frame["split"] = np.array(["train", "dev", "test"])[np.arange(n) % 3]
    # Five exact copies of training rows, placed in the test split.
    copies = frame.iloc[[0, 3, 6, 9, 12]].copy()
    copies["row"] = [f"copy{i}" for i in range(5)]
    copies["split"] = "test"
    version = tmp_workspace.add_dataset(
        "leaky", pd.concat([frame, copies], ignore_index=True), label="label", id="row"
    )
    summary = tmp_workspace.audit(version.ref, cv=3).summary
    assert summary["split_leakage"]["groups"] >= 5
    assert summary["split_leakage"]["examples"] >= 10
