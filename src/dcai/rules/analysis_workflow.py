"""Measure a rules file on a dataset version: each rule against the version's labels, and the
label model against majority vote on ground truth.

:func:`analyze_rules` runs the rules of a Python file (:func:`dcai.rules._loader.load_rules`) on
the version's rows — without the label and split columns, so that no rule can read the answer
— over the version's label set (a rule voting anything else is refused, naming the rule and the
row), and reports :func:`dcai.rules.analyze`'s table with each rule's accuracy against the
version's labels, beside the label model's estimate of it from the votes alone. It fits
:class:`~dcai.rules.LabelModel` on the votes alone and scores it and majority vote on the test
split (all rows when the version has no split): "even if the training labels come from rules,
the test labels must be ground truth".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dcai.data._schema import EXAMPLE_ID
from dcai.data.versions import resolve_ref
from dcai.errors import InvalidInputError
from dcai.rules._analyze import analyze, encode_labels
from dcai.rules._apply import apply, vote_counts
from dcai.rules._label_model import LabelModel, expected_accuracy
from dcai.rules._loader import load_rules

if TYPE_CHECKING:
    from dcai._progress import ProgressCallback
    from dcai.store import Stores

__all__ = ["RulesReport", "analyze_rules"]


@dataclass(frozen=True)
class RulesReport:
    """What :func:`analyze_rules` measured (``to_dict`` is ``dcai rules analyze --json``)."""

    ref: str
    rules_file: str
    rows: int
    split: str | None
    classes: list[Any]
    table: pd.DataFrame
    coverage: float
    evaluated_on: str
    evaluated_rows: int
    majority_accuracy: float | None
    label_model_accuracy: float | None
    failures: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Strict-JSON-ready: NaN becomes ``None``, labels plain values."""
        rules = []
        for row in self.table.to_dict("records"):
            rules.append(
                {
                    "rule": str(row["rule"]),
                    "polarity": [_plain(v) for v in row["polarity"]],
                    "votes": int(row["votes"]),
                    "coverage": float(row["coverage"]),
                    "overlap": float(row["overlap"]),
                    "conflict": float(row["conflict"]),
                    "labeled": int(row["labeled"]),
                    "accuracy": _number(row["accuracy"]),
                    "accuracy_low": _number(row["accuracy_low"]),
                    "accuracy_high": _number(row["accuracy_high"]),
                    "estimated_accuracy": _number(row["estimated_accuracy"]),
                }
            )
        return {
            "dataset": self.ref,
            "rules_file": self.rules_file,
            "rows": self.rows,
            "split": self.split,
            "classes": [_plain(c) for c in self.classes],
            "coverage": self.coverage,
            "rules": rules,
            "evaluated_on": self.evaluated_on,
            "evaluated_rows": self.evaluated_rows,
            "majority_vote_accuracy": self.majority_accuracy,
            "label_model_accuracy": self.label_model_accuracy,
            "failures": self.failures,
        }


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _number(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def analyze_rules(
    stores: Stores,
    ref: str,
    rules_file: str | Path,
    *,
    split: str | None = None,
    progress: ProgressCallback | None = None,
) -> RulesReport:
    """Run the rules of ``rules_file`` on version ``ref`` (or one ``split`` of it) and measure them."""
    rules = load_rules(rules_file)  # a broken file fails before any data is read
    version = resolve_ref(stores, ref)
    roles = version.roles
    frame = version.to_pandas()
    if split is not None:
        if roles.split is None:
            raise InvalidInputError(
                f"{version.ref} has no split column, so --split {split} selects nothing",
                hint=f"Split it first: dcai data split {version.dataset} --dev 0.1 --test 0.2",
            )
        frame = frame[frame[roles.split].astype("string") == split]
        if frame.empty:
            raise InvalidInputError(
                f"the {split!r} split of {version.ref} is empty",
                hint=f"Use train, dev or test; dcai data show {version.ref} lists the splits.",
            )
    hidden = [c for c in (roles.label, roles.split) if c is not None]
    visible = frame.drop(columns=hidden).set_index(EXAMPLE_ID, drop=False)
    labels = frame[roles.label].to_numpy()
    classes = sorted(pd.unique(labels).tolist(), key=lambda v: (str(type(v)), v))
    matrix = apply(rules, visible, classes=classes, progress=progress)
    truth = encode_labels(labels, classes, len(frame))
    table = analyze(matrix, labels)
    model = LabelModel().fit(matrix)
    assert model.accuracies_ is not None
    # The model's estimate means nothing for a rule that never voted.
    table["estimated_accuracy"] = np.where(table["votes"] > 0, model.accuracies_, np.nan)
    covered = (matrix.codes >= 0).any(axis=1)
    if roles.split is not None and split is None:
        evaluate = (frame[roles.split].astype("string") == "test").to_numpy(dtype=bool)
        where = "test split"
    else:
        evaluate = np.ones(len(frame), dtype=bool)
        where = f"{split} split" if split is not None else "all rows"
    keep = covered & evaluate
    majority = mine = None
    if len(classes) >= 2 and keep.any():  # rows with a vote, ties a fair draw
        majority = expected_accuracy(vote_counts(matrix)[keep], truth[keep])
        mine = expected_accuracy(model.predict_proba(matrix)[keep], truth[keep])
    failures = {
        name: {"rows": f.rows, "first_row": _plain(f.first_row), "error": f.error}
        for name, f in matrix.failures.items()
    }
    return RulesReport(
        ref=version.ref,
        rules_file=str(rules_file),
        rows=len(frame),
        split=split,
        classes=classes,
        table=table,
        coverage=float(covered.mean()) if len(frame) else 0.0,
        evaluated_on=where,
        evaluated_rows=int(keep.sum()),
        majority_accuracy=majority,
        label_model_accuracy=mine,
        failures=failures,
    )
