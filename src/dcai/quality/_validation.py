"""Input checks shared by every detector: labels, predicted probabilities, feature matrices.

Each check validates once, at the boundary, and raises
:class:`~dcai.errors.InvalidInputError` naming the argument, the offending rows (1-based,
as in a file) and what to do. Detectors then work on clean arrays.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dcai import _validate
from dcai.errors import FallbackWarning, InvalidInputError

__all__ = [
    "EncodedLabels",
    "check_features",
    "check_pred_probs",
    "encode_labels",
    "fallback",
    "n_labels",
    "rows_of",
]

logger = logging.getLogger("dcai")

#: Rows of ``pred_probs`` may sum to 1 within this tolerance (float32 softmax output).
PROBABILITY_SUM_TOLERANCE = _validate.PROBABILITY_SUM_TOLERANCE
#: A numeric target with more distinct non-integer values than this looks like regression.
_REGRESSION_MIN_DISTINCT = 20


def rows_of(mask: np.ndarray | pd.Series) -> list[int]:
    """1-based positions of the true entries of ``mask`` (rows as a user counts them).

    >>> rows_of(np.array([False, True, True]))
    [2, 3]
    """
    return [int(i) + 1 for i in np.flatnonzero(np.asarray(mask))]


def fallback(message: str) -> None:
    """Report a documented fallback: a :class:`FallbackWarning` and a log record."""
    logger.warning(message)
    warnings.warn(message, FallbackWarning, stacklevel=3)


@dataclass(frozen=True)
class EncodedLabels:
    """Labels as integer codes ``0..K-1`` into ``classes`` (the columns of ``pred_probs``)."""

    codes: np.ndarray
    classes: np.ndarray

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Class values for integer codes."""
        return self.classes[np.asarray(codes, dtype=np.int64)]


def _is_multilabel(values: Sequence[Any] | np.ndarray) -> bool:
    sample = values[: min(len(values), 1000)]
    return any(isinstance(v, list | tuple | set | frozenset | np.ndarray) for v in sample)


def encode_labels(
    labels: Sequence[Any] | np.ndarray | pd.Series,
    *,
    classes: Sequence[Any] | np.ndarray | None = None,
    n_classes: int | None = None,
    name: str = "labels",
) -> EncodedLabels:
    """Validate classification labels and encode them as ``0..K-1``.

    Parameters
    ----------
    labels
        One label per example: strings or integers.
    classes
        The class values in column order of ``pred_probs``. When omitted: ``0..n_classes-1``
        for integer labels with ``n_classes`` given, else the sorted distinct labels.
    n_classes
        The number of columns of ``pred_probs``, when known.
    name
        The argument's name, for messages.

    Raises
    ------
    InvalidInputError
        Empty or missing labels, a 2-D or multi-label target, a regression target, or labels
        that are not among ``classes``.

    Examples
    --------
    >>> enc = encode_labels(["cat", "dog", "cat"])
    >>> enc.codes.tolist(), enc.classes.tolist()
    ([0, 1, 0], ['cat', 'dog'])
    >>> encode_labels([0, 2, 2], n_classes=4).classes.tolist()
    [0, 1, 2, 3]
    """
    if isinstance(labels, pd.Series):
        labels = labels.to_numpy()
    array = np.asarray(labels, dtype=object) if not isinstance(labels, np.ndarray) else labels
    if array.ndim == 2 and array.shape[1] > 1:
        raise InvalidInputError(
            f"{name} has shape {array.shape}: a 2-D (multi-label or one-hot) target",
            hint="Give one class per example; multi-label targets are not supported yet.",
        )
    array = array.reshape(-1)
    if len(array) == 0:
        raise InvalidInputError(f"{name} is empty", hint="Give at least one labelled example.")
    if array.dtype == object and _is_multilabel(array):
        raise InvalidInputError(
            f"{name} holds lists or sets: a multi-label target",
            hint="Give one class per example; multi-label targets are not supported yet.",
        )
    missing = pd.isna(array)
    if missing.any():
        raise InvalidInputError(
            f"{name} has {int(missing.sum())} missing value(s)",
            rows=rows_of(missing),
            hint="Drop the unlabelled examples or fill their labels first.",
        )
    if array.dtype == object and _all_int(array):
        array = array.astype(np.int64)
    if array.dtype.kind == "f" or (array.dtype == object and _all_float(array)):
        floats = array.astype(np.float64)
        if not np.all(np.isfinite(floats)):
            raise InvalidInputError(
                f"{name} holds infinite values", rows=rows_of(~np.isfinite(floats))
            )
        if not np.all(floats == np.round(floats)):
            distinct = np.unique(floats).size
            if distinct > _REGRESSION_MIN_DISTINCT:
                raise InvalidInputError(
                    f"{name} looks like a regression target ({distinct} distinct non-integer values)",
                    hint="Label issues are found for classification; regression targets come later. "
                    "Bin the target into classes if that is what you mean.",
                )
        else:
            array = floats.astype(np.int64)
    if classes is None:
        if n_classes is not None and array.dtype.kind in "iu":
            classes_array = np.arange(n_classes)
        else:
            try:
                classes_array = np.unique(array)
            except TypeError as exc:
                raise InvalidInputError(
                    f"{name} mixes types that cannot be ordered ({exc})",
                    hint="Make every label a string, or every label an integer.",
                ) from exc
    else:
        classes_array = np.asarray(list(classes))
        if len(pd.unique(classes_array)) != len(classes_array):
            raise InvalidInputError("classes has repeated values", hint="List each class once.")
    index = pd.Index(classes_array)
    codes = index.get_indexer(array)
    unknown = codes < 0
    if unknown.any():
        shown = ", ".join(repr(v) for v in pd.unique(array[unknown])[:5])
        raise InvalidInputError(
            f"{int(unknown.sum())} label(s) are not among the {len(classes_array)} classes of the "
            f"probability columns ({shown})",
            rows=rows_of(unknown),
            hint="Pass classes= in the column order of pred_probs, or check that pred_probs has a "
            "column for every class.",
        )
    if n_classes is not None and len(classes_array) != n_classes:
        raise InvalidInputError(
            f"{name} has {len(classes_array)} classes but pred_probs has {n_classes} columns",
            hint="Pass classes= naming each column of pred_probs in order.",
        )
    return EncodedLabels(codes=codes.astype(np.int64), classes=classes_array)


def _all_int(array: np.ndarray) -> bool:
    return all(
        isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_) for v in array
    )


def _all_float(array: np.ndarray) -> bool:
    sample = array[: min(len(array), 1000)]
    return all(isinstance(v, float | np.floating) for v in sample)


def n_labels(labels: Any) -> int | None:
    """How many labels were given (``None`` when that cannot be told before validation)."""
    try:
        shape = np.shape(labels)
    except (TypeError, ValueError):
        return None
    return int(shape[0]) if len(shape) >= 1 else None


def check_pred_probs(
    pred_probs: Any, *, n_examples: int | None = None, name: str = "pred_probs"
) -> np.ndarray:
    """Validate an ``(n_examples, n_classes)`` matrix of probabilities; return it as float64.

    Rows must be finite, in [0, 1] and sum to 1 within 1e-3; they are renormalised exactly
    (:func:`dcai._validate.check_pred_probs`, with at least two columns).

    >>> check_pred_probs([[0.2, 0.8], [0.5, 0.5]]).shape
    (2, 2)
    """
    return _validate.check_pred_probs(pred_probs, n=n_examples, name=name, n_name="labels")


def check_features(
    features: Any, *, n_examples: int | None = None, name: str = "features"
) -> np.ndarray:
    """Validate a numeric ``(n_examples, n_features)`` matrix; return it as float32, C-ordered.

    DataFrames must be all-numeric (encode text and categories first, e.g. with
    :func:`dcai.quality.feature_matrix`). NaNs are refused naming rows and columns.

    >>> check_features([[1, 2], [3, 4]]).dtype
    dtype('float32')
    """
    columns: list[str] | None = None
    if isinstance(features, pd.DataFrame):
        columns = [str(c) for c in features.columns]
        non_numeric = [
            str(c)
            for c, dtype in features.dtypes.items()
            if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))
        ]
        if non_numeric:
            raise InvalidInputError(
                f"{name} has non-numeric column(s): {', '.join(non_numeric[:5])}",
                column=non_numeric[0],
                hint="Encode text and categories as numbers first (dcai.quality.feature_matrix does "
                "this), or drop those columns.",
            )
        features = features.to_numpy(dtype=np.float64, na_value=np.nan)
    try:
        matrix = np.asarray(features, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{name} holds values that are not numbers ({exc})",
            hint="Encode text and categories as numbers first, e.g. with dcai.quality.feature_matrix.",
        ) from exc
    if matrix.ndim == 1:
        matrix = matrix.reshape(-1, 1)
    if matrix.ndim != 2:
        matrix = matrix.reshape(matrix.shape[0], -1)
    if n_examples is not None and matrix.shape[0] != n_examples:
        raise InvalidInputError(
            f"{name} has {matrix.shape[0]} rows but there are {n_examples} examples",
            hint="Give one row of features per example, in the same order as the labels.",
        )
    finite = np.isfinite(matrix)
    if not finite.all():
        bad_rows = ~finite.all(axis=1)
        bad_cols = np.flatnonzero(~finite.all(axis=0))
        where = columns[bad_cols[0]] if columns is not None else f"column {bad_cols[0]}"
        raise InvalidInputError(
            f"{name} has NaN or infinite values in {int(bad_rows.sum())} row(s) (first in {where})",
            rows=rows_of(bad_rows),
            hint="Impute or drop missing values first; dcai.quality.feature_matrix imputes them.",
        )
    return np.ascontiguousarray(matrix)
