"""Agreement per value of a column — guideline version, batch, vendor — side by side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dcai.errors import SchemaError
from dcai.labels._agreement import STATISTICS, AgreementReport, Estimate, build_report, records
from dcai.labels._agreement_input import (
    check_parameters,
    default_classes,
    encode_annotations,
    make_rng,
)
from dcai.labels._agreement_kernels import Level, check_level, sorted_values

__all__ = ["AgreementComparison", "agreement_by"]


@dataclass(frozen=True, eq=False, repr=False)
class AgreementComparison:
    """Agreement per value of a column (e.g. guideline version); built by :func:`agreement_by`.

    ``summary`` has one row per value: ``<column>, n_items, n_annotators, n_labels``, then each
    statistic with ``_low``/``_high`` interval columns, and ``note`` (why a value has no
    report). ``per_class`` is long: ``<column>, class, specific_agreement, low, high,
    n_assignments``. ``reports`` maps each value to its full :class:`AgreementReport`.
    """

    column: str
    summary: pd.DataFrame
    per_class: pd.DataFrame
    reports: Mapping[Any, AgreementReport]

    def __repr__(self) -> str:
        return f"AgreementComparison(column={self.column!r}, values={list(self.reports)!r})"

    def per_class_wide(self) -> pd.DataFrame:
        """Specific agreement as a class × value table: read across to see each class change."""
        wide = self.per_class.pivot(index="class", columns=self.column, values="specific_agreement")
        ordered: pd.DataFrame = wide.reindex(
            index=pd.unique(self.per_class["class"]), columns=pd.unique(self.per_class[self.column])
        )
        return ordered

    def to_dict(self) -> dict[str, Any]:
        """``{"column", "summary": [records], "per_class": [records]}``."""
        return {
            "column": self.column,
            "summary": records(self.summary),
            "per_class": records(self.per_class),
        }


def agreement_by(
    annotations: pd.DataFrame,
    column: str = "guideline",
    *,
    classes: Sequence[Any] | None = None,
    level: Level = "nominal",
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state: int | np.random.Generator | None = 0,
    min_common: int = 10,
) -> AgreementComparison:
    """Compare agreement across the values of a column, e.g. before and after a guideline revision.

    Each value's annotations get their own :func:`agreement_report` (same classes, so
    per-class rows line up); read :meth:`AgreementComparison.per_class_wide` to see which
    classes the revision helped. The same labeler may label an example again under another
    value: duplicates are refused only within one value.

    Parameters
    ----------
    annotations
        The long table, with ``column`` besides ``example_id, annotator, label``.
    column
        The column to split by; rows where it is missing form their own group (value None),
        listed last. Values are listed in sorted order.
    classes, level, n_boot, confidence, random_state, min_common
        As in :func:`agreement_report`; ``classes`` defaults to all labels in the table.

    Returns
    -------
    AgreementComparison

    Raises
    ------
    InvalidInputError
        As :func:`agreement_report`, and when ``column`` is missing. A value with a single
        annotator is not an error: its summary row has no statistics and a ``note``.

    Examples
    --------
    >>> old = [(i, w, l) for i, labs in enumerate(["ab", "ab", "aa", "bb", "ba", "ab"])
    ...        for w, l in zip(["ann", "bo"], labs)]
    >>> new = [(i, w, l) for i, labs in enumerate(["aa", "bb", "aa", "bb", "ba", "aa"])
    ...        for w, l in zip(["ann", "bo"], labs)]
    >>> frame = pd.DataFrame([(*r, "v1") for r in old] + [(*r, "v2") for r in new],
    ...                      columns=["example_id", "annotator", "label", "guideline"])
    >>> by = agreement_by(frame, n_boot=0, min_common=2)
    >>> by.summary[["guideline", "percent_agreement"]].round(3).values.tolist()
    [['v1', 0.333], ['v2', 0.833]]
    """
    level = check_level(level)  # type: ignore[assignment]
    check_parameters(n_boot, confidence, 0, min_common)
    if not isinstance(annotations, pd.DataFrame):
        encode_annotations(annotations, classes, level)  # raises: not a DataFrame
    if column not in annotations.columns:
        raise SchemaError(
            "no such column",
            column=column,
            hint=f"Split by one of: {', '.join(map(str, annotations.columns))}.",
        )
    if classes is None and "label" in annotations.columns:
        # one class list for every value, so that the per-class rows line up
        classes = default_classes(annotations["label"].dropna().to_numpy(dtype=object), level)
    rng = make_rng(random_state)
    groups = annotations[column]
    missing = groups.isna().to_numpy()
    values: list[Any] = sorted_values(groups[~missing].to_numpy(dtype=object))
    if missing.any():
        values.append(None)
    reports: dict[Any, AgreementReport] = {}
    summary: list[dict[str, Any]] = []
    per_class: list[pd.DataFrame] = []
    for value in values:
        mask = missing if value is None else (~missing & (groups == value).to_numpy())
        part = annotations.loc[mask]
        labelled = part["label"].notna() if "label" in part.columns else pd.Series(dtype=bool)
        row: dict[str, Any] = {column: value, "n_items": 0, "n_labels": int(labelled.sum())}
        row["n_annotators"] = int(part.loc[labelled, "annotator"].nunique()) if len(labelled) else 0
        if row["n_annotators"] < 2:
            row["note"] = f"{row['n_annotators']} annotator(s): agreement needs at least two"
            summary.append(row)
            continue
        report = build_report(
            encode_annotations(part, classes, level),
            level=level,
            n_boot=int(n_boot),
            confidence=float(confidence),
            rng=rng,
            top_disagreements=0,
            min_common=int(min_common),
        )
        reports[value] = report
        row.update(n_items=report.n_items, n_annotators=report.n_annotators)
        for name in STATISTICS:
            estimate: Estimate = getattr(report, name)
            row[name] = estimate.value
            row[f"{name}_low"], row[f"{name}_high"] = estimate.low, estimate.high
        row["note"] = None
        summary.append(row)
        frame = report.per_class.drop(columns="note")
        frame.insert(0, column, value)
        per_class.append(frame)
    columns = [column, "n_items", "n_annotators", "n_labels"]
    for name in STATISTICS:
        columns += [name, f"{name}_low", f"{name}_high"]
    summary_frame = pd.DataFrame(summary, columns=[*columns, "note"])
    summary_frame[column] = pd.Series([row[column] for row in summary], dtype=object)
    for name in columns[4:]:
        summary_frame[name] = pd.to_numeric(summary_frame[name], errors="coerce").astype(float)
    if per_class:
        per_class_frame = pd.concat(per_class, ignore_index=True)
    else:
        per_class_frame = pd.DataFrame(
            columns=[column, "class", "specific_agreement", "low", "high", "n_assignments"]
        )
    return AgreementComparison(column, summary_frame, per_class_frame, reports)
