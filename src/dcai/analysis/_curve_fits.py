"""Learning-curve fits: input checks, stratified subsets of growing size, and the model fits.

:func:`check_options`, :func:`encode_together`, :func:`prepare_model` and :func:`check_sizes`
validate the inputs once; :func:`plan_subsets` draws which rows and which model seed each fit
uses; :func:`run_fits` trains a clone per subset through :func:`dcai.compute.parallel_map` and
returns its dev predictions (or the error it raised); :func:`score` turns predictions into the
metric. These steps are shared by :func:`dcai.analysis.learning_curve` and
:func:`dcai.analysis.clean_vs_collect` (two label sets on one plan) and know nothing of power
laws, so they live apart from the curve fit (:mod:`dcai.analysis._power_law`) and the result
(:mod:`dcai.analysis._learning_curve`), which re-exports them.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from dcai._progress import ProgressCallback
from dcai._validate import check_confidence
from dcai.compute import parallel_map
from dcai.errors import InvalidInputError
from dcai.quality._cross_val import INLINE_CELLS, _cells, _model_name, _n_rows, _take
from dcai.quality._validation import encode_labels

__all__ = [
    "METRICS",
    "Plan",
    "check_options",
    "check_sizes",
    "encode_together",
    "plan_subsets",
    "prepare_model",
    "run_fits",
    "score",
]

Metric = Literal["accuracy", "macro_f1", "error_rate"]
METRICS = ("accuracy", "macro_f1", "error_rate")
#: Sizes of the default grid, geometric from max(5·K, 20) examples to the full training set.
N_SIZES = 8
_MAX_MESSAGE = 300


# --------------------------------------------------------------------------- metrics


def score(y_true: np.ndarray, y_pred: np.ndarray, metric: str, n_classes: int) -> float:
    """The metric of integer-coded predictions; macro F1 averages the classes in ``y_true``.

    >>> score(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), "macro_f1", 2)
    0.7333333333333334
    """
    if metric == "macro_f1":
        hits = np.bincount(y_true[y_true == y_pred], minlength=n_classes)
        truth = np.bincount(y_true, minlength=n_classes)
        predicted = np.bincount(y_pred, minlength=n_classes)
        present = truth > 0
        return float(np.mean(2.0 * hits[present] / (truth[present] + predicted[present])))
    accuracy = float(np.mean(y_true == y_pred))
    return 1.0 - accuracy if metric == "error_rate" else accuracy


def _error(values: np.ndarray, metric: str) -> np.ndarray:
    """The error the power law is fitted to: the metric itself for ``error_rate``, else 1 − it."""
    return values if metric == "error_rate" else 1.0 - values


# --------------------------------------------------------------------------- inputs


def check_options(
    metric: Any, repeats: Any, n_boot: Any, confidence: Any, n_slices: Any = 0
) -> None:
    """Validate the options shared by the learning-curve functions."""
    if metric not in METRICS:
        raise InvalidInputError(
            f"unknown metric {metric!r}", hint=f"Use one of {', '.join(map(repr, METRICS))}."
        )
    for name, value, least in (
        ("repeats", repeats, 1),
        ("n_boot", n_boot, 1),
        ("n_slices", n_slices, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
            raise InvalidInputError(
                f"{name} must be an integer of at least {least}; got {value!r}",
                hint="The defaults (repeats=5, n_boot=500, n_slices=5) suit most data.",
            )
    check_confidence(confidence)


def encode_together(
    X_train: Any, X_dev: Any, labels: Sequence[tuple[str, Any]]
) -> tuple[list[np.ndarray], np.ndarray]:
    """Check lengths and encode every label set with one class list (train sets first, dev last).

    Each set is validated on its own first, so messages name the argument and its rows.
    """
    n_train, n_dev = _n_rows(X_train), _n_rows(X_dev)
    if n_dev == 0:
        raise InvalidInputError(
            "the dev set X_dev is empty", hint="Hold out labelled examples to evaluate on."
        )
    values = []
    for i, (name, given) in enumerate(labels):
        rows, x_name = (n_dev, "X_dev") if i == len(labels) - 1 else (n_train, "X_train")
        encoded = encode_labels(given, name=name)
        if len(encoded.codes) != rows:
            raise InvalidInputError(
                f"{x_name} has {rows} rows but {name} has {len(encoded.codes)} labels",
                hint=f"Give one label per row of {x_name}, in the same order.",
            )
        values.append(encoded.decode(encoded.codes).astype(object))
    joint = encode_labels(np.concatenate(values), name=", ".join(name for name, _ in labels))
    bounds = np.cumsum([0, *(len(v) for v in values)])
    codes = [joint.codes[start:stop] for start, stop in itertools.pairwise(bounds)]
    for (name, _), these in zip(labels[:-1], codes[:-1], strict=True):
        present = np.unique(these)
        if len(present) < 2:
            raise InvalidInputError(
                f"{name} has a single class ({joint.classes[present[0]]!r}, {len(these)} examples)",
                hint="A classifier needs training examples of at least two classes.",
            )
    return codes, joint.classes


def prepare_model(model: Any, X_train: Any, n_classes: int, random_state: int | None) -> Any:
    """An unfitted clone of ``model``, or dcai's default model for ``X_train`` when ``None``."""
    from sklearn.base import clone

    if model is None:
        from dcai.quality._models import default_model

        return default_model(X_train, random_state=random_state, n_classes=n_classes)
    if not (hasattr(model, "fit") and hasattr(model, "predict")):
        raise InvalidInputError(
            f"model {type(model).__name__} has no fit or no predict method",
            hint="Pass an unfitted scikit-learn classifier or pipeline, or model=None.",
        )
    try:
        return clone(model)
    except (TypeError, RuntimeError) as exc:
        raise InvalidInputError(
            f"model {_model_name(model)} cannot be cloned ({exc})",
            hint="Pass a scikit-learn compatible estimator (get_params/set_params).",
        ) from exc


def check_sizes(sizes: Any, n_train: int, n_classes: int) -> list[int]:
    """The training sizes to fit, sorted: the default grid, or ``sizes`` checked and rounded."""
    if sizes is None:
        low = min(max(5 * n_classes, 20), n_train)
        grid = np.round(np.geomspace(low, n_train, N_SIZES)).astype(np.int64)
        return sorted({int(s) for s in grid})
    try:
        given = [float(s) for s in np.ravel(np.asarray(sizes, dtype=object))]
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"sizes must be numbers; got {sizes!r}") from exc
    out = set()
    for s in given:
        count = round(s * n_train) if 0 < s < 1 else s
        if not math.isfinite(count) or count != int(count) or not 2 <= count <= n_train:
            raise InvalidInputError(
                f"size {s:g} is not a training-set size between 2 and {n_train}",
                hint="Give counts of examples (2 to the training size) or fractions in (0, 1).",
            )
        out.add(int(count))
    if not out:
        raise InvalidInputError("sizes is empty", hint="Leave sizes=None for the default grid.")
    return sorted(out)


# --------------------------------------------------------------------------- subsets and fits


@dataclass(frozen=True, eq=False)
class Plan:
    """Which rows and which model seed each fit uses, size-major: fit ``i`` has size ``i // repeats``."""

    sizes: tuple[int, ...]
    repeats: int
    rows: tuple[np.ndarray, ...]
    seeds: tuple[int, ...]


def _stratified_subset(
    members: list[np.ndarray], n: int, size: int, rng: np.random.Generator
) -> np.ndarray:
    """``size`` rows drawn without replacement, each class in proportion (at least one each)."""
    if size >= n:
        return np.arange(n)
    counts = np.array([len(m) for m in members])
    quota = counts * (size / n)
    take = np.floor(quota).astype(np.int64)
    present = counts > 0
    if size >= int(present.sum()):
        take = np.maximum(take, present.astype(np.int64))
    # The rest one at a time, largest remainder first; a tiny jitter breaks ties at random.
    jitter = rng.random(len(counts)) * 1e-9
    while take.sum() < size:
        take[np.argmax(np.where(take < counts, quota - take + jitter, -np.inf))] += 1
    while take.sum() > size:
        take[np.argmax(np.where(take > 1, take - quota + jitter, -np.inf))] -= 1
    chosen = [rng.choice(m, size=t, replace=False) for m, t in zip(members, take, strict=True) if t]
    return np.sort(np.concatenate(chosen))


def plan_subsets(
    codes: np.ndarray, sizes: Sequence[int], repeats: int, rng: np.random.Generator
) -> Plan:
    """Draw ``repeats`` stratified subsets per size, and a model seed per fit."""
    members = [np.flatnonzero(codes == k) for k in range(int(codes.max()) + 1)]
    rows = tuple(
        _stratified_subset(members, len(codes), size, rng) for size in sizes for _ in range(repeats)
    )
    seeds = tuple(int(s) for s in rng.integers(0, 2**31 - 1, size=len(rows)))
    return Plan(tuple(sizes), repeats, rows, seeds)


def _reseeded(model: Any, seed: int) -> Any:
    """Set every ``random_state`` parameter (pipelines too), so repeats differ where the model is random."""
    keys = [k for k in model.get_params(deep=True) if k.split("__")[-1] == "random_state"]
    return model.set_params(**dict.fromkeys(keys, seed)) if keys else model


def _fit_one(
    model: Any, X: Any, X_dev: Any, n_classes: int, item: tuple[np.ndarray, np.ndarray, int]
) -> tuple[np.ndarray | None, str | None]:
    """Fit a clone on one subset and predict the dev set; a failure is returned, not raised."""
    from sklearn.base import clone
    from threadpoolctl import threadpool_limits

    rows, labels, seed = item
    try:
        # Fits are the unit of parallelism: one BLAS thread each (see _cross_val).
        with threadpool_limits(limits=1, user_api="blas"):
            fitted = _reseeded(clone(model), seed).fit(_take(X, rows), labels)
            predicted = np.asarray(fitted.predict(X_dev))
        codes = predicted.astype(np.int64)
        if predicted.shape != (_n_rows(X_dev),) or not np.array_equal(codes, predicted):
            raise ValueError(f"predict returned {predicted.dtype} of shape {predicted.shape}")
        if codes.size and (codes.min() < 0 or codes.max() >= n_classes):
            raise ValueError("predict returned values that are not class codes")
    except Exception as exc:  # any model error is recorded with its message, not fatal
        return None, f"{type(exc).__name__}: {exc}"[:_MAX_MESSAGE]
    return codes.astype(np.int32), None


def run_fits(
    model: Any,
    X_train: Any,
    X_dev: Any,
    n_classes: int,
    items: Sequence[tuple[np.ndarray, np.ndarray, int]],
    *,
    backend: str | None,
    n_jobs: int | None,
    progress: ProgressCallback | None,
) -> list[tuple[np.ndarray | None, str | None]]:
    """Run every ``(rows, labels, seed)`` fit through :func:`dcai.compute.parallel_map`."""
    n = _n_rows(X_train)
    if n_jobs is None and backend in (None, "joblib") and _cells(X_train, n) < INLINE_CELLS:
        n_jobs = 1  # worker start-up would cost more than the fits
    task = functools.partial(_fit_one, model, X_train, X_dev, n_classes)
    return parallel_map(
        task,
        items,
        backend=backend,
        n_jobs=n_jobs,
        progress=progress,
        description="learning-curve fits",
    )
