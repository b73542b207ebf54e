"""Long-form annotations as integer codes: the one validation every aggregator shares.

Every consensus method and the human-level-performance report start here. Annotations come in
long form, one row per (example, annotator) — the columns of
:data:`dcai.labels.ANNOTATION_COLUMNS`, of which ``example_id``, ``annotator`` and ``label`` are
required. They are validated once, at the boundary, and turned into integer codes: examples and
annotators are numbered in sorted order of their ids, classes in the order of ``classes`` (the
sorted distinct labels by default). Errors name the offending rows (1-based) and what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dcai.errors import InvalidInputError, SchemaError
from dcai.quality._validation import check_pred_probs, encode_labels, rows_of

if TYPE_CHECKING:
    from scipy import sparse

__all__ = ["EncodedAnnotations", "align_pred_probs", "encode_annotations", "show"]

EXAMPLE_ID = "example_id"
REQUIRED = (EXAMPLE_ID, "annotator", "label")


@dataclass(frozen=True)
class EncodedAnnotations:
    """Annotations as codes: label ``l`` says annotator ``annotator[l]`` gave ``example[l]``
    the class ``label[l]``; ids and class values are the sorted distinct values."""

    example: np.ndarray
    annotator: np.ndarray
    label: np.ndarray
    example_ids: np.ndarray
    annotator_ids: np.ndarray
    classes: np.ndarray

    @property
    def n_labels(self) -> int:
        return len(self.label)

    @property
    def n_examples(self) -> int:
        return len(self.example_ids)

    @property
    def n_annotators(self) -> int:
        return len(self.annotator_ids)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def labels_per_example(self) -> np.ndarray:
        """How many labels each example has."""
        counts: np.ndarray = np.bincount(self.example, minlength=self.n_examples)
        return counts

    def vote_counts(self) -> np.ndarray:
        """``(n_examples, n_classes)`` counts of the labels each example received."""
        k = self.n_classes
        flat = np.bincount(self.example * k + self.label, minlength=self.n_examples * k)
        counts: np.ndarray = flat.reshape(self.n_examples, k)
        return counts

    def one_hot(self) -> sparse.csr_matrix:
        """Sparse ``(n_examples, n_annotators * n_classes)`` indicator of (annotator, label).

        Column ``a * K + c`` of row ``i`` is 1 when annotator ``a`` gave example ``i`` class
        ``c``. Products with it are the E- and M-steps of Dawid–Skene.
        """
        from scipy import sparse

        k = self.n_classes
        data = np.ones(self.n_labels, dtype=np.float64)
        columns = self.annotator * k + self.label
        return sparse.csr_matrix(
            (data, (self.example, columns)),
            shape=(self.n_examples, self.n_annotators * k),
        )


def _check_frame(annotations: Any, name: str) -> pd.DataFrame:
    if not isinstance(annotations, pd.DataFrame):
        raise InvalidInputError(
            f"{name} must be a DataFrame in long form; got {type(annotations).__name__}",
            hint="Give one row per (example_id, annotator) with a label column, e.g. from "
            "dcai.labels.read_annotations.",
        )
    missing = [c for c in REQUIRED if c not in annotations.columns]
    if missing:
        raise SchemaError(
            f"{name} has no column {', '.join(repr(c) for c in missing)}",
            column=missing[0],
            hint="Annotations need example_id, annotator and label columns "
            f"(columns: {', '.join(str(c) for c in annotations.columns)}); rename yours or read "
            "them with dcai.labels.read_annotations.",
        )
    if len(annotations) == 0:
        raise InvalidInputError(f"{name} is empty", hint="Give at least one annotation.")
    for column in REQUIRED:
        empty = annotations[column].isna().to_numpy()
        if empty.any():
            raise SchemaError(
                f"{name} has {int(empty.sum())} empty value(s)",
                column=column,
                rows=rows_of(empty),
                hint="Every annotation needs an example id, an annotator and a label; fill or "
                "drop those rows.",
            )
    return annotations


def _factorize_sorted(values: pd.Series, column: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError as exc:
        raise SchemaError(
            f"{name} mixes {column} types that cannot be ordered ({exc})",
            column=column,
            hint="Make every id a string, or every id an integer.",
        ) from exc
    return codes.astype(np.int64), np.asarray(uniques)


def _sorted_classes(labels: np.ndarray, name: str) -> np.ndarray | None:
    """Sorted distinct labels computed quickly (hashing, not sorting every label), or ``None``
    to let :func:`encode_labels` decide (floats, which it may turn into integers)."""
    if labels.dtype.kind in "iub":
        return np.unique(labels)
    if labels.dtype.kind == "f":
        return None
    uniques = pd.unique(labels)
    try:
        ordered = sorted(uniques)
    except TypeError as exc:
        raise SchemaError(
            f"{name} mixes label types that cannot be ordered ({exc})",
            column="label",
            hint="Make every label a string, or every label an integer, or pass classes=.",
        ) from exc
    if any(isinstance(v, float | np.floating) for v in ordered):
        return None
    return np.asarray(ordered, dtype=object if labels.dtype == object else None)


def encode_annotations(
    annotations: Any,
    *,
    classes: Sequence[Any] | np.ndarray | None = None,
    name: str = "annotations",
) -> EncodedAnnotations:
    """Validate long-form annotations and number examples, annotators and classes.

    Parameters
    ----------
    annotations
        A DataFrame with columns ``example_id``, ``annotator`` and ``label`` (others, such as
        ``guideline`` and ``time``, are ignored), one row per (example, annotator).
    classes
        Every class, in the order to report them; the sorted distinct labels by default. Give it
        when a class may receive no label, or to fix the column order of ``pred_probs``.
    name
        The argument's name, for messages.

    Raises
    ------
    InvalidInputError
        Not a DataFrame, no rows, a missing column, empty values, an annotator who labels the
        same example twice, or labels outside ``classes``.

    Examples
    --------
    >>> enc = encode_annotations(pd.DataFrame({"example_id": ["b", "a", "a"],
    ...                                        "annotator": ["x", "x", "y"],
    ...                                        "label": ["dog", "cat", "dog"]}))
    >>> enc.example.tolist(), enc.annotator.tolist(), enc.label.tolist(), enc.classes.tolist()
    ([1, 0, 0], [0, 0, 1], [1, 0, 1], ['cat', 'dog'])
    """
    frame = _check_frame(annotations, name)
    dup = frame.duplicated([EXAMPLE_ID, "annotator"], keep=False).to_numpy()
    if dup.any():
        raise SchemaError(
            f"{name}: the same annotator labels the same example more than once "
            f"({int(dup.sum())} rows)",
            rows=rows_of(dup),
            hint="Keep one label per (example_id, annotator), e.g. the latest.",
        )
    example, example_ids = _factorize_sorted(frame[EXAMPLE_ID], EXAMPLE_ID, name)
    annotator, annotator_ids = _factorize_sorted(frame["annotator"], "annotator", name)
    labels = frame["label"].to_numpy()
    where = f'{name}, column "label"'
    if classes is not None:
        class_array = np.asarray(list(classes))
        if class_array.ndim != 1 or len(class_array) == 0:
            raise InvalidInputError(
                "classes must be a non-empty list of class values",
                hint="Pass classes=['cat', 'dog', ...].",
            )
        if len(pd.unique(class_array)) != len(class_array):
            raise InvalidInputError("classes has repeated values", hint="List each class once.")
        unknown = pd.Index(class_array).get_indexer(labels) < 0
        if unknown.any():
            shown = ", ".join(show(v) for v in pd.unique(labels[unknown])[:5])
            raise InvalidInputError(
                f"{name}: {int(unknown.sum())} label(s) are not among the {len(class_array)} "
                f"classes ({shown})",
                column="label",
                rows=rows_of(unknown),
                hint="Add them to classes=, or fix or drop those annotations.",
            )
        encoded = encode_labels(labels, classes=class_array, name=where)
    else:
        encoded = encode_labels(labels, classes=_sorted_classes(labels, name), name=where)
    return EncodedAnnotations(
        example=example,
        annotator=annotator,
        label=encoded.codes,
        example_ids=example_ids,
        annotator_ids=annotator_ids,
        classes=encoded.classes,
    )


def show(value: Any) -> str:
    """``repr`` of a value as the user wrote it (numpy scalars as plain Python values)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _column_for(columns: list[Any], value: Any) -> Any:
    if value in columns:
        return value
    text = [str(c) for c in columns]
    return columns[text.index(str(value))] if str(value) in text else None


def align_pred_probs(pred_probs: Any, enc: EncodedAnnotations) -> np.ndarray:
    """The model's probabilities as an ``(n_examples, n_classes)`` array in code order.

    ``pred_probs`` is either a DataFrame with an ``example_id`` column and one column per class
    (any order; extra example ids are ignored), or an array whose rows follow the sorted
    distinct example ids of the annotations and whose columns follow ``classes``.
    """
    k = enc.n_classes
    if isinstance(pred_probs, pd.DataFrame):
        if EXAMPLE_ID not in pred_probs.columns:
            raise SchemaError(
                "pred_probs has no example_id column",
                column=EXAMPLE_ID,
                hint="Give a DataFrame with example_id and one column per class, or an array "
                "whose rows follow the sorted example ids of the annotations.",
            )
        others = [c for c in pred_probs.columns if c != EXAMPLE_ID]
        chosen = [_column_for(others, c) for c in enc.classes]
        absent = [show(c) for c, col in zip(enc.classes, chosen, strict=True) if col is None]
        extra = [show(c) for c in others if c not in chosen]
        if absent or extra:
            problem = (
                f"no column for class(es) {', '.join(absent[:5])}"
                if absent
                else f"column(s) {', '.join(extra[:5])} that are not classes"
            )
            raise SchemaError(
                f"pred_probs has {problem}",
                hint=f"Give one probability column per class ({', '.join(map(show, enc.classes[:8]))}"
                f"{', …' if k > 8 else ''}) beside example_id, or pass classes=.",
            )
        ids = pred_probs[EXAMPLE_ID]
        dup = ids.duplicated(keep=False).to_numpy()
        if dup.any():
            raise SchemaError(
                "pred_probs has repeated example ids",
                column=EXAMPLE_ID,
                rows=rows_of(dup),
                hint="Give one row of probabilities per example.",
            )
        values = check_pred_probs(pred_probs[chosen].to_numpy(dtype=np.float64, na_value=np.nan))
        position = pd.Index(ids).get_indexer(enc.example_ids)
        if (position < 0).any():
            lost = enc.example_ids[position < 0]
            shown = ", ".join(show(v) for v in lost[:5])
            raise InvalidInputError(
                f"pred_probs has no row for {len(lost)} annotated example(s) ({shown})",
                column=EXAMPLE_ID,
                hint="Give out-of-sample probabilities for every annotated example.",
            )
        aligned: np.ndarray = values[position]
        return aligned
    try:
        shape = np.shape(pred_probs)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) == 2 and shape[0] != enc.n_examples:
        raise InvalidInputError(
            f"pred_probs has {shape[0]} rows but the annotations cover {enc.n_examples} examples",
            hint="Give one row per annotated example, in sorted order of example_id, or a "
            "DataFrame with an example_id column.",
        )
    probs = check_pred_probs(pred_probs)
    if probs.shape[1] != k:
        raise InvalidInputError(
            f"pred_probs has {probs.shape[1]} columns but there are {k} classes",
            hint="Give one column per class in the order of classes= (the sorted distinct labels "
            "by default).",
        )
    return probs
