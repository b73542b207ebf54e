"""Check and encode the inputs of the classification metrics.

:func:`~dcai.analysis._metrics.classification_metrics` and
:func:`~dcai.analysis._metrics.metric_by_group` accept labels, probabilities, weights and groups
in many shapes (lists, arrays, Series, DataFrames). This module checks them once — lengths,
missing values, labels outside ``classes``, malformed ``pred_probs``, bad weights and
parameters — raising :class:`~dcai.errors.InvalidInputError` with the rows at fault, and turns
them into integer class codes, so the statistics downstream work on plain arrays.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from dcai import _validate
from dcai._validate import check_confidence, check_n_boot, check_pred_probs
from dcai.errors import InvalidInputError

#: Rows of ``pred_probs`` must sum to 1 within this (as everywhere in dcai).
PROBABILITY_SUM_TOLERANCE = _validate.PROBABILITY_SUM_TOLERANCE


def _check_options(n_boot: object, confidence: object) -> None:
    check_n_boot(n_boot)
    check_confidence(confidence)


def _rng(random_state: object) -> np.random.Generator:
    try:
        return np.random.default_rng(random_state)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"random_state must be a whole number, a numpy Generator or None; got {random_state!r}",
            hint="Pass e.g. random_state=0 for reproducible intervals.",
        ) from exc


def _labels(values: Any, name: str) -> np.ndarray:
    """A 1-D array of labels without missing values."""
    if values is None or isinstance(values, str | bytes | pd.DataFrame):
        raise InvalidInputError(
            f"{name} must be a 1-D sequence of labels; got {type(values).__name__}",
            hint="Pass a list, array or Series with one label per example.",
        )
    if isinstance(values, pd.Series | pd.Index):
        array = values.to_numpy()
    elif isinstance(values, np.ndarray):
        array = values
    else:
        try:
            array = np.asarray(list(values), dtype=object)
        except TypeError as exc:
            raise InvalidInputError(
                f"{name} must be a 1-D sequence of labels; got {type(values).__name__}",
                hint="Pass a list, array or Series with one label per example.",
            ) from exc
    if array.ndim != 1:
        raise InvalidInputError(
            f"{name} must be 1-D; got shape {array.shape}",
            hint="Give one label per example (for probabilities use pred_probs=).",
        )
    missing = np.asarray(pd.isna(array), dtype=bool)
    if missing.any():
        raise InvalidInputError(
            f"{name} has {int(missing.sum())} missing value(s)",
            rows=_rows(missing),
            hint="Drop those examples or fill in their labels.",
        )
    return np.asarray(array)


def _same_length(array: np.ndarray, n: int, name: str) -> np.ndarray:
    if len(array) != n:
        raise InvalidInputError(
            f"{name} has {len(array)} values but y_true has {n}",
            hint=f"Give one value of {name} per example, in the order of y_true.",
        )
    return array


def _classes(classes: Sequence[Hashable] | None, arrays: list[np.ndarray]) -> list[Hashable]:
    if classes is not None:
        order = [_json(c) for c in classes]
        if not order:
            raise InvalidInputError("classes is empty", hint="List every class, or leave it out.")
        if not pd.Index(order, dtype=object).is_unique:
            raise InvalidInputError(
                "classes lists a value more than once", hint="List each class once."
            )
        return order
    distinct = {_json(v) for a in arrays for v in pd.unique(np.asarray(a, dtype=object))}
    try:
        return sorted(distinct)
    except TypeError:
        return sorted(distinct, key=lambda v: (type(v).__name__, str(v)))


def _encode(values: np.ndarray, index: pd.Index, name: str) -> np.ndarray:
    codes, uniques = pd.factorize(values)
    position = index.get_indexer(pd.Index(np.asarray(uniques, dtype=object), dtype=object))
    unknown = position < 0
    if unknown.any():
        bad = unknown[codes]
        shown = ", ".join(repr(_json(v)) for v in np.asarray(uniques, dtype=object)[unknown][:5])
        raise InvalidInputError(
            f"{int(bad.sum())} value(s) of {name} are not among the classes: {shown}",
            rows=_rows(bad),
            hint="Add them to classes=[...] or fix the labels.",
        )
    return np.asarray(position[codes], dtype=np.int64)


def _probabilities(pred_probs: Any, n: int, order: list[Hashable]) -> np.ndarray:
    k = len(order)
    if isinstance(pred_probs, pd.DataFrame):
        columns = pd.Index([_json(c) for c in pred_probs.columns], dtype=object)
        missing = [c for c in order if c not in set(columns)]
        extra = [c for c in columns if c not in set(order)]
        if missing:
            raise InvalidInputError(
                f"pred_probs has no column for class(es) {missing!r}",
                hint="Name each column of the pred_probs DataFrame by its class, one per class.",
            )
        if extra:
            raise InvalidInputError(
                f"pred_probs has columns {extra!r} that are not among the classes {order!r}",
                hint="Drop those columns, or add them to classes=[...].",
            )
        pred_probs = pred_probs.to_numpy()[:, columns.get_indexer(pd.Index(order, dtype=object))]
    try:
        probs = np.asarray(pred_probs, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"pred_probs is not a numeric matrix ({exc})",
            hint="Give an array of shape (n_examples, n_classes), e.g. from predict_proba.",
        ) from exc
    if probs.ndim == 1 and k == 2:
        probs = np.column_stack([1.0 - probs, probs])
    if probs.ndim != 2:
        raise InvalidInputError(
            f"pred_probs must be 2-D (n_examples, n_classes); got shape {probs.shape}",
            hint="A 1-D pred_probs (the probability of classes[1]) works for two classes only.",
        )
    if probs.shape[0] != n:
        raise InvalidInputError(
            f"pred_probs has {probs.shape[0]} rows but y_true has {n}",
            hint="Give one row of probabilities per example, in the order of y_true.",
        )
    if probs.shape[1] != k:
        raise InvalidInputError(
            f"pred_probs has {probs.shape[1]} columns but there are {k} classes {order!r}",
            hint="Pass classes=[...] naming each column of pred_probs in order "
            "(a class of the model may be absent from y_true).",
        )
    # the metrics describe the probabilities as given (as sklearn does): checked, not renormalised
    return check_pred_probs(probs, n=n, n_classes=k, renormalise=False)


def _weights(sample_weight: Any, n: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    try:
        weight = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"sample_weight is not numeric ({exc})", hint="Give one number ≥ 0 per example."
        ) from exc
    if weight.shape != (n,):
        raise InvalidInputError(
            f"sample_weight has shape {weight.shape} but y_true has {n} values",
            hint="Give one weight per example, in the order of y_true.",
        )
    bad = ~np.isfinite(weight) | (weight < 0)
    if bad.any() or weight.sum() <= 0:
        raise InvalidInputError(
            "sample_weight must be finite and ≥ 0, with a positive total",
            rows=_rows(bad) if bad.any() else None,
            hint="Fix or drop those weights.",
        )
    return weight


def _memberships(groups: Any, n: int) -> tuple[list[Hashable], np.ndarray, np.ndarray]:
    """Group names, and per membership the example and the group (masks may overlap)."""
    if isinstance(groups, pd.DataFrame):
        if len(groups) != n:
            raise InvalidInputError(
                f"groups has {len(groups)} rows but y_true has {n}",
                hint="Give one row of slice masks per example, in the order of y_true.",
            )
        not_bool = [c for c in groups.columns if groups[c].dtype != bool]
        if not_bool:
            raise InvalidInputError(
                f"mask columns must be boolean; {not_bool[:5]!r} are not",
                hint="Give True/False per example and slice (e.g. frame.eval(query)), or a Series "
                "of group values for disjoint groups.",
            )
        mask = groups.to_numpy(dtype=bool)
        member, group = np.nonzero(mask)
        return [_json(c) for c in groups.columns], member, group.astype(np.int64)
    values = _same_length(_group_values(groups), n, "groups")
    try:
        codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=False)
    except TypeError:
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
    names = [_json(v) for v in np.asarray(uniques, dtype=object)]
    return names, np.arange(n), np.asarray(codes, dtype=np.int64)


def _group_values(groups: Any) -> np.ndarray:
    if isinstance(groups, pd.Series | pd.Index):
        return np.asarray(groups.to_numpy(), dtype=object)
    array = np.asarray(groups if isinstance(groups, np.ndarray) else list(groups), dtype=object)
    if array.ndim != 1:
        raise InvalidInputError(
            f"groups must be 1-D values or a boolean DataFrame; got shape {array.shape}",
            hint="Pass a Series of group values, or a DataFrame with one boolean column per slice.",
        )
    return array


def _rows(mask: np.ndarray) -> list[int]:
    """1-based positions of the true entries of ``mask``."""
    return [int(i) + 1 for i in np.flatnonzero(mask)]


def _json(value: Any) -> Any:
    """A plain Python value: numpy scalars unwrapped, NaN as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
