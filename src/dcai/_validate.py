"""Parameter and input checks shared by every algorithm module (foundation layer, numpy only).

One implementation each of the checks that detectors, metrics and agreement statistics all
need: predicted probabilities, bootstrap counts, confidence levels, probabilities and
counts. Each raises :class:`~dcai.errors.InvalidInputError` with a one-line message that
names the parameter (and, for ``pred_probs``, the 1-based rows at fault in ``rows=``).

>>> check_n_boot(1000)
1000
>>> check_confidence(0.9)
0.9
>>> check_pred_probs([[0.2, 0.8], [0.5, 0.5]]).shape
(2, 2)
"""

from __future__ import annotations

import operator
from typing import Any, SupportsIndex, cast

import numpy as np

from dcai.errors import InvalidInputError

__all__ = [
    "PROBABILITY_SUM_TOLERANCE",
    "check_confidence",
    "check_n_boot",
    "check_positive_int",
    "check_pred_probs",
    "check_probability",
]

#: Rows of ``pred_probs`` may sum to 1 within this tolerance (float32 softmax output); they
#: are then renormalised to sum to 1 exactly. Rows further off are refused.
PROBABILITY_SUM_TOLERANCE = 1e-3


def _rows(mask: Any) -> list[int]:
    """1-based positions of the true entries of ``mask`` (rows as a user counts them)."""
    return [int(i) + 1 for i in np.flatnonzero(mask)]


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _is_real(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def check_positive_int(
    value: object, *, name: str, minimum: int = 1, hint: str | None = None
) -> int:
    """``value`` as an ``int`` if it is a whole number ≥ ``minimum`` (``bool`` refused).

    >>> check_positive_int(3, name="k")
    3
    >>> check_positive_int(0, name="k")
    Traceback (most recent call last):
    ...
    dcai.errors.InvalidInputError: k must be a whole number ≥ 1; got 0. Pass e.g. k=10.
    """
    number = operator.index(cast(SupportsIndex, value)) if _is_int(value) else None
    if number is None or number < minimum:
        raise InvalidInputError(
            f"{name} must be a whole number ≥ {minimum}; got {value!r}",
            hint=hint or f"Pass e.g. {name}={max(minimum, 10)}.",
        )
    return number


def check_n_boot(n_boot: object, *, name: str = "n_boot", hint: str | None = None) -> int:
    """The number of bootstrap resamples: a whole number ≥ 0 (0 skips the intervals)."""
    return check_positive_int(
        n_boot,
        name=name,
        minimum=0,
        hint=hint or f"Pass e.g. {name}=1000, or {name}=0 for point estimates only.",
    )


def check_confidence(
    confidence: object, *, name: str = "confidence", hint: str | None = None
) -> float:
    """A confidence level strictly between 0 and 1 (NaN and ``bool`` refused).

    >>> try:
    ...     check_confidence(1.0)
    ... except InvalidInputError as exc:
    ...     print(exc.message)
    confidence must be in (0, 1), 0 and 1 excluded; got 1.0
    """
    if not _is_real(confidence) or not 0 < float(confidence) < 1:  # type: ignore[arg-type]
        raise InvalidInputError(
            f"{name} must be in (0, 1), 0 and 1 excluded; got {confidence!r}",
            hint=hint or f"Pass e.g. {name}=0.95 for a 95 % interval.",
        )
    return float(confidence)  # type: ignore[arg-type]


def check_probability(value: object, *, name: str, hint: str | None = None) -> float:
    """A probability in [0, 1] (NaN and ``bool`` refused)."""
    if not _is_real(value) or not 0 <= float(value) <= 1:  # type: ignore[arg-type]
        raise InvalidInputError(
            f"{name} must be a probability in [0, 1]; got {value!r}",
            hint=hint or f"Pass e.g. {name}=0.5.",
        )
    return float(value)  # type: ignore[arg-type]


def check_pred_probs(
    pred_probs: Any,
    *,
    n: int | None = None,
    n_classes: int | None = None,
    name: str = "pred_probs",
    n_name: str = "examples",
    renormalise: bool = True,
) -> np.ndarray:
    """Validate an ``(n, n_classes)`` matrix of probabilities; return it as float64.

    Values must be finite and in [0, 1], and each row must sum to 1 within
    :data:`PROBABILITY_SUM_TOLERANCE`; rows are then renormalised to sum to 1 exactly, unless
    ``renormalise=False`` (metrics, which report on the probabilities as given, like sklearn).
    Without ``n_classes``, at least two columns are required. ``n_name`` words the row-count
    message (``"... rows but there are {n} {n_name}"``).

    >>> try:
    ...     check_pred_probs([[0.2, 0.9], [0.5, 0.5]])
    ... except InvalidInputError as exc:
    ...     print(exc.message, exc.rows)
    1 row(s) of pred_probs do not sum to 1 (row 1 sums to 1.1000) [1]
    """
    try:
        probs = np.asarray(pred_probs, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{name} is not a numeric matrix ({exc})",
            hint="Give an array of shape (n_examples, n_classes), e.g. from predict_proba.",
        ) from exc
    if probs.ndim != 2:
        raise InvalidInputError(
            f"{name} must be 2-D (n_examples, n_classes); got shape {probs.shape}",
            hint="For a binary task give both columns, e.g. np.column_stack([1 - p, p]).",
        )
    if n is not None and probs.shape[0] != n:
        raise InvalidInputError(
            f"{name} has {probs.shape[0]} rows but there are {n} {n_name}",
            hint="Give one row of probabilities per example, in the same order as the labels.",
        )
    if n_classes is not None and probs.shape[1] != n_classes:
        raise InvalidInputError(
            f"{name} has {probs.shape[1]} columns but there are {n_classes} classes",
            hint="Give one column per class, in the order of the classes.",
        )
    if n_classes is None and probs.shape[1] < 2:
        raise InvalidInputError(
            f"{name} has {probs.shape[1]} column: a single class",
            hint="Give one column per class; there must be at least two classes.",
        )
    bad = ~np.isfinite(probs).all(axis=1)
    if bad.any():
        raise InvalidInputError(
            f"{name} has NaN or infinite values in {int(bad.sum())} row(s)",
            rows=_rows(bad),
            hint="Recompute the probabilities; a model that fails on some rows needs fixing first.",
        )
    outside = ((probs < 0) | (probs > 1)).any(axis=1)
    if outside.any():
        raise InvalidInputError(
            f"{name} has out-of-[0, 1] values in {int(outside.sum())} row(s)",
            rows=_rows(outside),
            hint="Give probabilities (e.g. apply softmax to logits), not scores or logits, which "
            "fall outside [0, 1].",
        )
    sums = probs.sum(axis=1)
    off = np.abs(sums - 1.0) > PROBABILITY_SUM_TOLERANCE
    if off.any():
        first = int(np.flatnonzero(off)[0])
        raise InvalidInputError(
            f"{int(off.sum())} row(s) of {name} do not sum to 1 (row {first + 1} sums to "
            f"{sums[first]:.4f})",
            rows=_rows(off),
            hint="Give one probability per class in each row (softmax output), summing to 1.",
        )
    if not renormalise:
        return probs
    normalised: np.ndarray = probs / sums[:, None]
    return normalised
