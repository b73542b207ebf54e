"""What the label workflows read from a version: its annotations, optionally with its labels.

Agreement, consensus and HLP all start from a version's annotations (long form, see
:mod:`dcai.labels.annotations`); each may count the data set's own label column as one more
annotator, and each wants the annotation labels in the label column's type. These helpers do
that once, for all of them. They take a :class:`~dcai.data.versions.DatasetVersion` already
resolved, and touch no store themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from dcai.data._schema import EXAMPLE_ID
from dcai.errors import InvalidInputError

if TYPE_CHECKING:
    from dcai.data.versions import DatasetVersion

__all__ = ["DATASET_ANNOTATOR", "annotations_of", "typed_labels", "with_dataset_labels"]


def annotations_of(version: DatasetVersion) -> pd.DataFrame:
    """A version's annotations; a clear error when it has none."""
    if not version.n_annotations:
        raise InvalidInputError(
            f"{version.ref} has no annotations",
            hint=f"Import labelers' annotations first: dcai labels import {version.dataset} FILE",
        )
    return version.annotations()


#: The annotator name the data set's own labels get with ``include_dataset_labels=True``.
DATASET_ANNOTATOR = "dataset"


def with_dataset_labels(
    version: DatasetVersion, annotations: pd.DataFrame, include: bool | str
) -> pd.DataFrame:
    """Annotations plus the data set's label column as one more annotator.

    ``include`` is False (unchanged), True (the annotator is named ``"dataset"``) or the name
    to give it. The data set's label joins on the examples that have annotations and a label;
    a name that an annotator already has is refused.
    """
    if include is False:
        return annotations
    name = DATASET_ANNOTATOR if include is True else str(include).strip()
    if not name:
        raise InvalidInputError(
            "the name for the data set's labels is empty",
            hint=f"Give a name, e.g. --dataset-labels-as {DATASET_ANNOTATOR}.",
        )
    if version.roles.label is None:
        raise InvalidInputError(
            f"{version.ref} has no label column to include",
            hint="Declare the label column when adding the data (dcai data add --label COLUMN).",
        )
    taken = set(annotations["annotator"].astype(str))
    if name in taken:
        raise InvalidInputError(
            f"an annotator is already called {name!r}",
            column="annotator",
            hint="Give the data set's labels another name with --dataset-labels-as NAME "
            "(include_dataset_labels='NAME').",
        )
    label = version.roles.label
    data = version.to_pandas(columns=[EXAMPLE_ID, label])
    annotated = set(annotations[EXAMPLE_ID].astype(str))
    data = data[data[label].notna() & data[EXAMPLE_ID].astype(str).isin(annotated)]
    annotations = typed_labels(version, annotations)
    extra = pd.DataFrame(
        {
            EXAMPLE_ID: data[EXAMPLE_ID].astype(str).to_numpy(),
            "annotator": name,
            "label": data[label].astype(object).to_numpy(),
        }
    )
    for column in annotations.columns:
        if column not in extra.columns:
            extra[column] = None
    extra["time"] = pd.Series(pd.NaT, index=extra.index, dtype="datetime64[ns, UTC]")
    extra = extra[list(annotations.columns)]
    merged = pd.concat(
        [annotations.astype({"label": object}), extra.astype({"label": object})],
        ignore_index=True,
    )
    if len({type(v) for v in merged["label"].tolist()}) > 1:
        merged["label"] = merged["label"].astype(str).astype(object)
    return merged


def typed_labels(version: DatasetVersion, annotations: pd.DataFrame) -> pd.DataFrame:
    """Annotation labels in the label column's type when they are written the same way
    (a CSV of annotations reads ``3`` as text; the data's label column holds the integer 3)."""
    column = version.to_pandas(columns=[version.roles.label])[version.roles.label]
    values = {str(v): v for v in pd.unique(column)}
    labels = annotations["label"]
    if labels.map(lambda v: str(v) in values).all():
        annotations = annotations.copy()
        annotations["label"] = labels.map(lambda v: values[str(v)])
    return annotations
