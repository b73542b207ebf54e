"""The learning curve and the clean-vs-collect comparison of an error analysis.

Both retrain models on the version's train split and score them on its dev split: the learning
curve measured per top slice of the priority table, and clean-vs-collect against the labels with
fixes applied (a review's decisions, else the audit's confident fixes). Kept apart from
:mod:`dcai.analysis.workflow` because this is the one step that trains models and reads the
version's history for a review; each part that cannot be computed leaves a note instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from dcai.analysis._workflow_inputs import as_class_labels
from dcai.data._schema import EXAMPLE_ID
from dcai.data.versions import log as version_log
from dcai.errors import DcaiError

if TYPE_CHECKING:
    from dcai.analysis._clean_vs_collect import CleanVsCollect
    from dcai.analysis._learning_curve import LearningCurve
    from dcai.analysis._workflow_inputs import AnalysisInputs
    from dcai.data.versions import DatasetVersion
    from dcai.store import Stores

__all__ = ["train_dev_curves"]


@dataclass(frozen=True, eq=False)
class _TrainDev:
    """What both comparisons fit on: the inputs, the train and dev rows, how to fit."""

    X: pd.DataFrame
    train: np.ndarray
    dev: np.ndarray
    metric: str
    repeats: int
    random_state: int
    backend: str


def train_dev_curves(
    stores: Stores,
    version: DatasetVersion,
    frame: pd.DataFrame,
    inputs: AnalysisInputs,
    masks: Mapping[str, np.ndarray],
    table: pd.DataFrame,
    *,
    metric: str,
    repeats: int,
    random_state: int,
    notes: list[str],
) -> tuple[LearningCurve | None, CleanVsCollect | None]:
    """The learning curve and clean-vs-collect on train → dev; None for each one skipped."""
    column = version.roles.split
    if column is None or not {"train", "dev"} <= set(frame[column].unique()):
        notes.append(
            f"no train and dev split in {version.ref}: learning curve and clean-vs-collect skipped "
            f"(split it with: dcai data split {version.dataset})"
        )
        return None, None
    fits = _TrainDev(
        X=frame[list(version.roles.inputs)],
        train=(frame[column] == "train").to_numpy(),
        dev=(frame[column] == "dev").to_numpy(),
        metric=metric if metric in ("accuracy",) else "macro_f1",
        repeats=repeats,
        random_state=random_state,
        backend=stores.settings.compute_backend,
    )
    curve = _learning_curve(fits, inputs.y_true, _dev_groups(table, masks, fits.dev), notes)
    y_clean = _cleaned_training_labels(stores, version, frame, inputs, fits.train, notes)
    if y_clean is None:
        return curve, None
    return curve, _clean_vs_collect(fits, inputs.y_true, y_clean, notes)


def _learning_curve(
    fits: _TrainDev, y_true: np.ndarray, groups: pd.Series | None, notes: list[str]
) -> LearningCurve | None:
    """The learning curve, per top slice too; None (with a note) when it cannot be measured."""
    from dcai.analysis._learning_curve import learning_curve

    train, dev = fits.train, fits.dev
    try:
        return learning_curve(
            None,
            fits.X[train],
            y_true[train],
            fits.X[dev],
            y_true[dev],
            repeats=fits.repeats,
            metric=fits.metric,  # type: ignore[arg-type]
            groups_dev=groups,
            random_state=fits.random_state,
            backend=fits.backend,
        )
    except DcaiError as exc:
        notes.append(f"learning curve skipped: {exc}")
        return None


def _clean_vs_collect(
    fits: _TrainDev, y_true: np.ndarray, y_clean: np.ndarray, notes: list[str]
) -> CleanVsCollect | None:
    """Cleaning the training labels against collecting more; None (with a note) on failure."""
    from dcai.analysis._clean_vs_collect import clean_vs_collect

    train, dev = fits.train, fits.dev
    try:
        return clean_vs_collect(
            None,
            fits.X[train],
            y_true[train],
            y_clean[train],
            fits.X[dev],
            # Both models are scored against the best labels known for dev: fixed ones.
            y_clean[dev],
            repeats=fits.repeats,
            metric=fits.metric,  # type: ignore[arg-type]
            random_state=fits.random_state,
            backend=fits.backend,
        )
    except DcaiError as exc:
        notes.append(f"clean-vs-collect skipped: {exc}")
        return None


def _dev_groups(
    table: pd.DataFrame, masks: Mapping[str, np.ndarray], dev: np.ndarray
) -> pd.Series | None:
    """One slice per dev example (the curve is measured per slice): the first top slice it is in."""
    top = [n for n in table["name"] if n != "all"][:3]
    if not top:
        return None
    names = np.full(int(dev.sum()), None, dtype=object)
    for name in reversed(top):
        names[masks[name][dev]] = name
    return pd.Series(names)


def _cleaned_training_labels(
    stores: Stores,
    version: DatasetVersion,
    frame: pd.DataFrame,
    inputs: AnalysisInputs,
    train: np.ndarray,
    notes: list[str],
) -> np.ndarray | None:
    """The fixed labels to compare against, or None (with a note) when none changes training."""
    y_clean, source = _clean_labels(
        stores, version, frame, inputs.y_true, inputs.issues, inputs.scores
    )
    if y_clean is None:
        notes.append(f"clean-vs-collect skipped: {source}")
        return None
    if not (y_clean != inputs.y_true)[train].any():
        notes.append(f"clean-vs-collect skipped: {source} change no training label")
        return None
    notes.append(f"clean-vs-collect: the cleaned labels are {source}")
    return y_clean


def _clean_labels(
    stores: Stores,
    version: DatasetVersion,
    frame: pd.DataFrame,
    y_true: np.ndarray,
    issues: np.ndarray | None,
    scores: pd.DataFrame,
) -> tuple[np.ndarray | None, str]:
    """The training labels with fixes applied, and where the fixes came from.

    A review applied to this version (its newest child made by ``review``) wins: people
    decided those labels. Otherwise the audit's confident fixes: each flagged label replaced by
    the suggested one.
    """
    reviewed = [
        v
        for v in version_log(stores, version.dataset)
        if v.operation == "review" and version.id in v.parent_ids
    ]
    if reviewed:
        child = reviewed[0].to_pandas(columns=[EXAMPLE_ID, version.roles.label])
        decided = child.set_index(EXAMPLE_ID)[version.roles.label]
        after = decided.reindex(frame[EXAMPLE_ID].to_numpy())
        classes = list(np.unique(y_true))
        labels = as_class_labels(after.fillna(pd.Series(y_true, index=after.index)), classes)
        # Removed examples keep their label: the comparison is on the same training rows.
        return np.where(after.isna().to_numpy(), y_true, labels), (
            f"the decisions of the review applied in {reviewed[0].ref}"
        )
    if issues is None or "suggested_label" not in scores:
        return None, "the audit has no label fixes and no review was applied"
    fixes = issues & scores["suggested_label"].notna().to_numpy()
    suggested = as_class_labels(scores["suggested_label"].astype(object), list(np.unique(y_true)))
    return np.where(fixes, suggested, y_true), "the audit's confident fixes"
