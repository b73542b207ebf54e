"""What an error analysis evaluates: true labels, predictions and label-issue flags.

Two sources give them: the version's audit (out-of-sample probabilities of every example; one
is run when there is none) or a trained run's stored predictions on one split. Either way the
result is one :class:`AnalysisInputs`, so the other steps of
:func:`dcai.analysis.workflow.analyze` need not know where the predictions came from. Reading
and checking them is kept here, apart from the orchestration, because this is where most of
the analysis' input errors are raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dcai.data._schema import EXAMPLE_ID
from dcai.errors import InvalidInputError

if TYPE_CHECKING:
    from dcai._progress import ProgressCallback
    from dcai.data.versions import DatasetVersion
    from dcai.quality.audit import Audit
    from dcai.store import Stores

__all__ = ["AnalysisInputs", "as_class_labels", "audit_inputs", "run_inputs"]


@dataclass(frozen=True, eq=False)
class AnalysisInputs:
    """The arrays an analysis reads, one entry per example of the version's frame.

    ``rows`` marks the examples evaluated (a split, or those a run predicted); ``y_pred``
    outside ``rows`` is never read.
    """

    y_true: np.ndarray
    y_pred: np.ndarray
    #: Class probabilities (columns in ``classes`` order), or None when a run stored none.
    prob_matrix: np.ndarray | None
    classes: list[Any]
    rows: np.ndarray
    evaluated_on: str
    #: The audit's short id, or None (a run analysed without an audit).
    audit: str | None
    #: The audit's per-example scores, indexed like the frame (empty without an audit).
    scores: pd.DataFrame
    issues: np.ndarray | None
    #: The run's id when its predictions are analysed, else None.
    run: str | None = None


def as_class_labels(labels: pd.Series, classes: list[Any]) -> np.ndarray:
    """The labels as the same Python values as the probability columns' names."""
    by_text = {str(c): c for c in classes}
    values = labels.to_numpy()
    return np.asarray([by_text.get(str(v), v) for v in values], dtype=object)


def audit_inputs(
    stores: Stores,
    version: DatasetVersion,
    frame: pd.DataFrame,
    audit: str | None,
    split: str | None,
    progress: ProgressCallback | None,
    notes: list[str],
) -> AnalysisInputs:
    """The audit's out-of-sample predictions, on ``split`` only when one is given."""
    found = _audit_for(stores, version, audit, progress, notes)
    probs = found.pred_probs.set_index(EXAMPLE_ID)
    classes = list(probs.columns)
    probs = probs.reindex(frame[EXAMPLE_ID].to_numpy())
    if probs.isna().any().any():
        raise InvalidInputError(
            f"audit {found.short_id} has no probabilities for some examples of {version.ref}",
            hint=f"Run a new audit of this version: dcai audit {version.ref}",
        )
    y_true = as_class_labels(frame[version.roles.label], classes)
    prob_matrix = probs.to_numpy()
    y_pred = np.asarray(classes, dtype=object)[prob_matrix.argmax(axis=1)]
    scores = found.scores.set_index(EXAMPLE_ID).reindex(probs.index)
    issues = _issue_flags(scores)
    rows, evaluated_on = _split_rows(version, frame, split)
    return AnalysisInputs(
        y_true=y_true,
        y_pred=y_pred,
        prob_matrix=prob_matrix,
        classes=classes,
        rows=rows,
        evaluated_on=evaluated_on,
        audit=found.short_id,
        scores=scores,
        issues=issues,
    )


def _audit_for(
    stores: Stores,
    version: DatasetVersion,
    audit: str | None,
    progress: ProgressCallback | None,
    notes: list[str],
) -> Audit:
    from dcai.quality.audit import find_audit, list_audits, run_audit

    if audit is not None:
        found = find_audit(stores, audit)
        if found.version_id != version.id:
            raise InvalidInputError(
                f"audit {found.short_id} is of {found.version_ref}, not {version.ref}",
                hint=f"Analyse {found.version_ref}, or audit {version.ref} first.",
            )
        return found
    existing = [a for a in list_audits(stores, version.ref) if a.version_id == version.id]
    if existing:
        return existing[0]
    notes.append(f"{version.ref} had no audit; one was run now")
    return run_audit(stores, version.ref, progress=progress)


def _split_rows(
    version: DatasetVersion, frame: pd.DataFrame, split: str | None
) -> tuple[np.ndarray, str]:
    """The examples of ``split`` (default all) and how the report says what was evaluated."""
    if split is None:
        return np.ones(len(frame), dtype=bool), "all examples (cross-validated predictions)"
    column = version.roles.split
    if column is None:
        raise InvalidInputError(
            f"{version.ref} has no split column, so --split {split} cannot be used",
            hint=f"Split it first: dcai data split {version.dataset}",
        )
    rows = (frame[column] == split).to_numpy()
    if not rows.any():
        raise InvalidInputError(f"{version.ref} has no examples in split {split!r}")
    return rows, f"the {split} split ({int(rows.sum()):,} examples)"


def _issue_flags(scores: pd.DataFrame) -> np.ndarray | None:
    if "is_label_issue" not in scores:
        return None
    flags: np.ndarray = scores["is_label_issue"].fillna(False).to_numpy(dtype=bool)
    return flags


def run_inputs(
    stores: Stores,
    version: DatasetVersion,
    frame: pd.DataFrame,
    run: str,
    split: str | None,
    audit: str | None,
    notes: list[str],
) -> AnalysisInputs:
    """A run's stored predictions on ``split`` (default dev) as the analysis' inputs.

    ``y_pred`` equals ``y_true`` outside ``rows`` (the examples the run predicted), which the
    analysis never reads. Label issues come from ``audit``, else the version's newest audit
    (none is run).
    """
    detail, table = _run_predictions(stores, version, run)
    short = detail["id"][:8]
    wanted = split or "dev"
    table = table[table["split"] == wanted]
    table = table.set_index(table[EXAMPLE_ID].astype(str))
    ids = frame[EXAMPLE_ID].astype(str)
    rows = ids.isin(table.index).to_numpy()
    if not rows.any():
        raise InvalidInputError(
            f"run {short} has no {wanted} predictions for the examples of {version.ref}",
            hint="Pick the split the run evaluated (--split dev or test).",
        )
    label = version.roles.label
    classes, prob_columns = _run_classes(frame[label], table)
    y_true = as_class_labels(frame[label], classes)
    predicted = table["predicted"].astype(str).reindex(ids.to_numpy())
    typed = as_class_labels(predicted.fillna("").astype(object), classes)
    prob_matrix = (
        table[prob_columns].reindex(ids.to_numpy()).to_numpy(dtype=float) if prob_columns else None
    )
    trained_on = detail["dataset"]
    if trained_on != version.ref:
        notes.append(
            f"run {short} was trained on {trained_on}; its predictions are scored against the "
            f"labels of {version.ref}"
        )
    audit_id, scores = _audit_scores(stores, version, frame, audit, notes)
    return AnalysisInputs(
        y_true=y_true,
        y_pred=np.where(rows, typed, y_true),
        prob_matrix=prob_matrix,
        classes=classes,
        rows=rows,
        evaluated_on=f"run {short}'s {wanted} predictions ({int(rows.sum()):,} examples)",
        audit=audit_id,
        scores=scores,
        issues=_issue_flags(scores),
        run=detail["id"],
    )


def _run_predictions(
    stores: Stores, version: DatasetVersion, run: str
) -> tuple[dict[str, Any], pd.DataFrame]:
    """The run's details and its stored predictions, once checked it was trained on the dataset."""
    from dcai.experiments.query import run_detail
    from dcai.store import read_parquet_object

    detail = run_detail(stores, run)
    short = detail["id"][:8]
    trained_on = detail["dataset"]
    if trained_on is None or trained_on.split("@")[0] != version.dataset:
        raise InvalidInputError(
            f"run {short} was trained on {trained_on or 'no dataset'}, not on {version.dataset}"
        )
    stored = [a for a in detail["artifacts"] if a["name"] == "predictions.parquet"]
    if not stored:
        raise InvalidInputError(
            f"run {short} stored no predictions to analyse",
            hint=f"Train with dcai train {version.ref}, which stores them.",
        )
    table: pd.DataFrame = read_parquet_object(
        stores.objects, stored[0]["sha256"], what=f"the predictions of run {short}"
    )
    return detail, table


def _run_classes(labels: pd.Series, table: pd.DataFrame) -> tuple[list[Any], list[Any]]:
    """The classes (typed like the labels) and the probability columns (``p_<class>``)."""
    by_text = {str(v): v for v in pd.unique(labels.dropna())}
    prob_columns = [c for c in table.columns if str(c).startswith("p_")]
    names = [str(c)[2:] for c in prob_columns]
    if not names:
        names = sorted({*by_text, *table["predicted"].astype(str)})
    return [by_text.get(name, name) for name in names], prob_columns


def _audit_scores(
    stores: Stores,
    version: DatasetVersion,
    frame: pd.DataFrame,
    audit: str | None,
    notes: list[str],
) -> tuple[str | None, pd.DataFrame]:
    """The short id and per-example scores of ``audit`` (default the newest); none is run."""
    from dcai.quality.audit import find_audit, list_audits

    if audit is not None:
        found: Audit | None = find_audit(stores, audit)
    else:
        existing = [a for a in list_audits(stores, version.ref) if a.version_id == version.id]
        found = existing[0] if existing else None
    if found is None:
        notes.append(
            f"no audit of {version.ref}: label issues per slice not shown (dcai audit {version.ref})"
        )
        return None, pd.DataFrame(index=frame[EXAMPLE_ID].to_numpy())
    scores = found.scores.set_index(EXAMPLE_ID).reindex(frame[EXAMPLE_ID].to_numpy())
    return found.short_id, scores
