"""Validate and encode the long annotation table for the agreement report.

One place checks the table (columns, empty ids, repeated (example_id, annotator) pairs, labels
outside ``classes``, a single annotator) and the report's parameters, raising
:class:`~dcai.errors.InvalidInputError` with the rows at fault; the report then works on
integer codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dcai._validate import check_confidence, check_positive_int
from dcai.errors import InvalidInputError, SchemaError
from dcai.labels._agreement_kernels import as_numbers, rows_of, sorted_values

__all__ = ["Encoded", "check_parameters", "default_classes", "encode_annotations", "make_rng"]

REQUIRED_COLUMNS = ("example_id", "annotator", "label")


@dataclass(frozen=True)
class Encoded:
    item: np.ndarray  # per label: example code (order of first appearance)
    annotator: np.ndarray  # per label: labeler code into ``annotators``
    cls: np.ndarray  # per label: class code into ``classes``
    item_ids: np.ndarray  # example code → example_id
    annotators: pd.Index
    classes: list[Any]
    values: np.ndarray | None  # interval level: the number each class stands for


def make_rng(random_state: object) -> np.random.Generator:
    """A generator from a seed, a generator or None; refuses anything else."""
    try:
        return np.random.default_rng(random_state)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"random_state must be a whole number, a numpy Generator or None; got {random_state!r}",
            hint="Pass e.g. random_state=0 for reproducible intervals.",
        ) from exc


def check_parameters(
    n_boot: object, confidence: object, top_disagreements: object, min_common: object
) -> None:
    for name, value, smallest in (
        ("n_boot", n_boot, 0),
        ("top_disagreements", top_disagreements, 0),
        ("min_common", min_common, 1),
    ):
        check_positive_int(value, name=name, minimum=smallest)
    check_confidence(confidence)


def encode_annotations(annotations: Any, classes: Sequence[Any] | None, level: str) -> Encoded:
    if not isinstance(annotations, pd.DataFrame):
        raise InvalidInputError(
            f"annotations must be a DataFrame; got {type(annotations).__name__}",
            hint="Pass the long table with columns example_id, annotator, label "
            "(dcai.labels.read_annotations reads one).",
        )
    for column in REQUIRED_COLUMNS:
        if column not in annotations.columns:
            raise SchemaError(
                "no such column",
                column=column,
                hint="Agreement needs the long annotation table: example_id, annotator, label "
                f"(columns: {', '.join(map(str, annotations.columns))}).",
            )
    for column in ("example_id", "annotator"):
        empty = annotations[column].isna().to_numpy()
        if empty.any():
            raise InvalidInputError(
                f"{int(empty.sum())} empty value(s)",
                column=column,
                rows=rows_of(empty),
                hint="Every annotation needs an example id and an annotator; fill or drop those rows.",
            )
    dup = annotations.duplicated(["example_id", "annotator"], keep=False).to_numpy()
    if dup.any():
        first = annotations.loc[dup, ["example_id", "annotator"]].iloc[0]
        raise InvalidInputError(
            f"{int(dup.sum())} rows repeat an (example_id, annotator) pair, e.g. "
            f"({first['example_id']!r}, {first['annotator']!r})",
            rows=rows_of(dup),
            hint="Keep one label per labeler and example (e.g. the latest); compare guideline "
            "versions with agreement_by(annotations, column='guideline').",
        )
    present = annotations["label"].notna().to_numpy()
    # factorize the Series (fast on Arrow strings), then place the few distinct labels
    codes, uniques = pd.factorize(annotations["label"][present])
    distinct = np.asarray(uniques, dtype=object)
    order = list(classes) if classes is not None else default_classes(distinct, level)
    index = pd.Index(order, dtype=object)
    if not index.is_unique:
        raise InvalidInputError(
            "classes lists a value more than once", hint="Give each class once in classes=[...]."
        )
    position = index.get_indexer(pd.Index(distinct, dtype=object))
    if (position < 0).any():
        bad = present.copy()
        bad[present] = (position < 0)[codes]
        shown = ", ".join(repr(v) for v in distinct[position < 0][:5])
        raise InvalidInputError(
            f"{int(bad.sum())} label(s) are not among the classes: {shown}",
            column="label",
            rows=rows_of(bad),
            hint="Add them to classes=[...] or fix the labels.",
        )
    cls = position[codes]
    values = None
    if level == "interval":
        try:
            values = np.asarray(order, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                'level="interval" needs numeric classes', hint='Use level="ordinal" or "nominal".'
            ) from exc
    item, item_ids = pd.factorize(annotations["example_id"][present])
    raw_annotators = annotations["annotator"][present]
    try:
        annotator, names = pd.factorize(raw_annotators, sort=True)
    except TypeError:
        annotator, names = pd.factorize(raw_annotators.astype(str), sort=True)
    if len(names) < 2:
        who = f" ({names[0]!r})" if len(names) else ""
        raise InvalidInputError(
            f"agreement needs labels from at least two annotators; got {len(names)}{who}",
            column="annotator",
            hint="Add a second labeler's labels for some of the same examples.",
        )
    return Encoded(
        item=item.astype(np.int64),
        annotator=annotator.astype(np.int64),
        cls=np.asarray(cls, dtype=np.int64),
        item_ids=np.asarray(item_ids, dtype=object),
        annotators=pd.Index(names, dtype=object),
        classes=list(order),
        values=values,
    )


def default_classes(labels: np.ndarray, level: str) -> list[Any]:
    """The classes when none are given: sorted distinct labels, numerically for ordered levels."""
    if level == "nominal":
        return sorted_values(labels)
    if as_numbers(labels) is None:
        shown = ", ".join(repr(v) for v in pd.unique(np.asarray(labels, dtype=object))[:3])
        raise InvalidInputError(
            f'level="{level}" needs numeric labels (finite numbers) or classes=[...] in order; '
            f"got {shown}",
            column="label",
            hint='Pass classes=["low", "mid", "high"] (ordinal) or use level="nominal".',
        )
    return sorted_values(labels)
