"""The demo behind ``make demo``: the data → labels → analysis loop on scikit-learn's digits.

Everything runs offline on data bundled with scikit-learn: add the data, split it, plant label
errors (a recorded, seeded operation), audit, accept the confident suggestions, and commit the
clean version, then count how many of the planted errors the loop found and fixed. Later
stages of the loop extend this same demo.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dcai._progress import ProgressCallback
from dcai.data._schema import EXAMPLE_ID
from dcai.data.versions import DatasetVersion, commit_version, resolve_ref
from dcai.quality.audit import Audit
from dcai.workspace import Workspace

__all__ = ["DemoResult", "digits_frame", "plant_label_errors", "run_demo"]

#: Share of labels the demo flips, and the bar a suggestion must clear to be accepted unseen.
DEMO_NOISE_RATE = 0.1
DEMO_MIN_SCORE = 0.6


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


def plant_label_errors(
    ws: Workspace, ref: str, *, rate: float = DEMO_NOISE_RATE, seed: int = 0
) -> DatasetVersion:
    """Commit a child of ``ref`` with ``rate`` of its labels flipped to another class at random.

    For demos and for measuring a cleaning pipeline: the operation, rate and seed are recorded
    in lineage, so ``dcai data diff`` against the parent lists exactly the planted errors.
    """
    parent = resolve_ref(ws, ref)
    frame = parent.to_pandas()
    label = parent.roles.label
    rng = np.random.default_rng(seed)
    classes = np.sort(frame[label].unique())
    n_flip = round(rate * len(frame))
    chosen = rng.choice(len(frame), size=n_flip, replace=False)
    values = frame[label].to_numpy(copy=True)
    for row in chosen:
        others = classes[classes != values[row]]
        values[row] = others[rng.integers(len(others))]
    child = frame.copy()
    child[label] = values
    return commit_version(
        ws,
        parent.dataset,
        child,
        parent.roles,
        operation="plant_label_errors",
        params={"rate": rate, "seed": seed, "flipped": n_flip, "kind": "uniform"},
        message=f"demo: flip {rate:.0%} of labels at random (seed {seed})",
        parents=[parent],
        annotations=parent.annotations() if parent.n_annotations else None,
    )


@dataclass(frozen=True)
class DemoResult:
    workspace: Workspace
    added: DatasetVersion
    split: DatasetVersion
    noisy: DatasetVersion
    audit: Audit
    accepted: int
    cleaned: DatasetVersion
    planted: int
    flagged: int
    found: int
    fixed: int


def run_demo(
    path: str | Path,
    *,
    fresh: bool = True,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> DemoResult:
    """Add digits, split, plant label errors, audit, accept confident suggestions, commit."""
    path = Path(path)
    if fresh and path.exists():
        if not (path / "dcai.toml").exists():
            raise FileExistsError(f"{path} exists and is not a dcai workspace; not deleting it")
        shutil.rmtree(path)
    ws = Workspace(path)
    truth = digits_frame()
    added = ws.add_dataset("digits", truth, label="label", message="scikit-learn digits (bundled)")
    split = ws.split("digits", dev=0.1, test=0.2, seed=seed, message="stratified train/dev/test")
    noisy = plant_label_errors(ws, split.ref, seed=seed)
    audit = ws.audit(noisy.ref, random_state=seed, progress=progress)
    review = ws.review(audit.id)
    accepted = review.accept_suggested(min_score=DEMO_MIN_SCORE, reviewer="demo")
    cleaned = review.apply(message="demo: accept confident suggestions", author="demo")

    clean = split.to_pandas()[[EXAMPLE_ID, "label"]].set_index(EXAMPLE_ID)["label"]
    planted_ids = set(ws.diff(split.ref, noisy.ref).relabeled[EXAMPLE_ID])
    flagged_ids = set(audit.issues.query("type == 'label'")[EXAMPLE_ID])
    after = cleaned.to_pandas()[[EXAMPLE_ID, "label"]].set_index(EXAMPLE_ID)["label"]
    fixed = sum(int(after.get(i) == clean.get(i)) for i in planted_ids)
    return DemoResult(
        workspace=ws,
        added=added,
        split=split,
        noisy=noisy,
        audit=audit,
        accepted=accepted,
        cleaned=cleaned,
        planted=len(planted_ids),
        flagged=len(flagged_ids),
        found=len(planted_ids & flagged_ids),
        fixed=fixed,
    )
