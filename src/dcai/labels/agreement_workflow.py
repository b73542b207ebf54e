"""The agreement workflow: how far a version's labelers agree, stored as a label report.

:func:`run_agreement` reads a version's annotations, runs the pure agreement statistics of
:mod:`dcai.labels._agreement` (and, with ``by``, :mod:`dcai.labels._agreement_by`), shows each
disputed item's content beside its id (:func:`example_content`) and stores the result as an
``agreement`` report (:mod:`dcai.labels.reports`).

Examples
--------
>>> import tempfile
>>> from dcai.demo import digits_frame, simulate_labelers
>>> from dcai.workspace import Workspace
>>> ws = Workspace(tempfile.mkdtemp())
>>> v = ws.data.add("digits", digits_frame().iloc[:200])
>>> truth = v.to_pandas(columns=["example_id", "label"])
>>> v2 = ws.labels.import_annotations(v.ref, simulate_labelers(truth, n_items=60))
>>> report, _ = run_agreement(ws.stores, v2.ref, n_boot=50)
>>> report.n_annotators, report.n_items
(3, 60)
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dcai.data._schema import EXAMPLE_ID
from dcai.data.versions import resolve_ref
from dcai.errors import InvalidInputError
from dcai.labels._workflow_inputs import annotations_of, with_dataset_labels
from dcai.labels.reports import store_report

if TYPE_CHECKING:
    from dcai.data.versions import DatasetVersion
    from dcai.labels._agreement import AgreementReport
    from dcai.labels._agreement_by import AgreementComparison
    from dcai.labels.reports import Level
    from dcai.store import Stores

__all__ = [
    "CONTENT_COLUMNS",
    "disagreement_examples",
    "example_content",
    "run_agreement",
    "with_content",
]


def run_agreement(
    stores: Stores,
    ref: str,
    *,
    by: str | None = None,
    level: Level = "nominal",
    n_boot: int = 1000,
    random_state: int = 0,
    store: bool = True,
    author: str | None = None,
    include_dataset_labels: bool | str = False,
) -> tuple[AgreementReport, AgreementComparison | None]:
    """Agreement between a version's labelers; with ``by``, also compared across that column
    of the annotations (``guideline``, ``annotator``…) or of the data (a metadata column).

    With ``include_dataset_labels`` (True, or the name to give it), the data set's label
    column counts as one more annotator (named ``"dataset"`` by default) on the annotated
    examples that have a label: see
    :func:`~dcai.labels._workflow_inputs.with_dataset_labels`. The most disputed items
    (``report.disagreements``) carry a ``content`` column: the example's text column, or
    for tables its first few feature columns (see :func:`example_content`).
    """
    from dcai.labels._agreement import agreement_report
    from dcai.labels._agreement_by import agreement_by

    version = resolve_ref(stores, ref)
    annotations = with_dataset_labels(version, annotations_of(version), include_dataset_labels)
    report = agreement_report(annotations, level=level, n_boot=n_boot, random_state=random_state)
    report = replace(report, disagreements=with_content(version, report.disagreements))
    comparison = None
    if by is not None:
        annotations = _with_column(version, annotations, by)
        comparison = agreement_by(
            annotations, by, level=level, n_boot=n_boot, random_state=random_state
        )
    if store:
        summary = report.to_dict()
        if comparison is not None:
            summary["by"] = {"column": by, "comparison": comparison.to_dict()}
        store_report(
            stores,
            version,
            "agreement",
            {
                "level": level,
                "n_boot": n_boot,
                "random_state": random_state,
                "by": by,
                "include_dataset_labels": include_dataset_labels,
            },
            summary,
            None,
            author,
        )
    return report, comparison


def _with_column(version: DatasetVersion, annotations: pd.DataFrame, column: str) -> pd.DataFrame:
    """Annotations with ``column`` joined from the data when it is not an annotation column."""
    if column in annotations.columns:
        if annotations[column].isna().all():
            raise InvalidInputError(
                f"no annotation of {version.ref} records a {column}",
                column=column,
                hint="Import annotations with --guideline NAME, or a guideline column.",
            )
        return annotations
    columns = [c for c in version.roles.dtypes if c != EXAMPLE_ID]
    if column not in columns:
        raise InvalidInputError(
            f"{version.ref} has no column {column!r} in its annotations or its data",
            column=column,
            hint=f"Use guideline, annotator, or one of: {', '.join(columns[:12])}.",
        )
    data = version.to_pandas(columns=[EXAMPLE_ID, column])
    return annotations.merge(data, on=EXAMPLE_ID, how="left")


#: Feature columns shown as an example's content when it has no text column.
CONTENT_COLUMNS = 3


def example_content(version: DatasetVersion, example_ids: Any) -> list[str | None]:
    """What each example shows a reader, as one string: its (first) text column when the data
    set has one, else ``column=value`` of its first :data:`CONTENT_COLUMNS` feature columns;
    None for an id not in the version."""
    roles = version.roles
    columns = list(roles.text[:1]) or list(roles.features[:CONTENT_COLUMNS])
    if not columns:
        return [None for _ in example_ids]
    data = version.to_pandas(columns=[EXAMPLE_ID, *columns])
    index = pd.Index(data[EXAMPLE_ID].astype(str))
    if roles.text:
        text = data[columns[0]]
        values = text.astype(object).where(text.notna(), "").astype(str).tolist()
    else:
        values = [
            ", ".join(f"{c}={v}" for c, v in zip(columns, row, strict=True))
            for row in data[columns].itertuples(index=False)
        ]
    found = dict(zip(index, values, strict=True))
    return [found.get(str(i)) for i in example_ids]


def with_content(version: DatasetVersion, disputed: pd.DataFrame) -> pd.DataFrame:
    """The disputed items with a ``content`` column beside ``example_id``."""
    if EXAMPLE_ID not in disputed.columns or "content" in disputed.columns:
        return disputed
    out = disputed.copy()
    out.insert(
        1,
        "content",
        pd.Series(
            example_content(version, out[EXAMPLE_ID].tolist()), index=out.index, dtype=object
        ),
    )
    return out


def disagreement_examples(report: AgreementReport, limit: int = 5) -> list[dict[str, Any]]:
    """The most disagreed items as plain records (for guidelines' worked examples)."""
    frame = report.disagreements.head(limit)
    return [
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]
