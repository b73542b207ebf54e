"""Out-of-sample predicted probabilities by stratified K-fold cross-validation.

Label-issue detectors need, for every example, class probabilities from a model that did not
see that example while training: a model scoring its own training rows remembers their given
labels, right or wrong, and hides exactly the mistakes we look for.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from dcai._progress import ProgressCallback
from dcai.compute import parallel_map
from dcai.errors import InvalidInputError
from dcai.quality._validation import encode_labels, fallback

__all__ = ["cross_val_predict_proba"]

#: Floor of every probability, so that no row is all zeros and logs stay finite.
PROBABILITY_FLOOR = 1e-8
_MIN_FOLDS = 2
#: Below this many input cells (rows × columns; a text counts as 50), folds run inline when
#: ``n_jobs`` is not given: starting worker processes costs 1–4 s, more than fitting them.
INLINE_CELLS = 200_000


def _n_rows(X: Any) -> int:
    if isinstance(X, pd.DataFrame | pd.Series):
        return len(X)
    if isinstance(X, np.ndarray):
        if X.ndim == 0:
            raise InvalidInputError(
                "X is a single value", hint="Give one row (or one text) per example."
            )
        return int(X.shape[0])
    if isinstance(X, str):
        raise InvalidInputError(
            "X is a single string", hint="Give a list of strings, one per example."
        )
    try:
        return len(X)
    except TypeError as exc:
        raise InvalidInputError(
            f"X of type {type(X).__name__} has no length",
            hint="Give a numpy array, a pandas DataFrame or a list of strings.",
        ) from exc


def _cells(X: Any, n: int) -> int:
    """Rough size of the work: rows × columns (a text counts as 50 cells)."""
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) >= 2:
        return int(np.prod(shape))
    if shape is not None and len(shape) == 1 and not isinstance(X, pd.Series):
        return n
    return n * 50


def _take(X: Any, rows: np.ndarray) -> Any:
    if isinstance(X, pd.DataFrame | pd.Series):
        return X.iloc[rows]
    if isinstance(X, np.ndarray):
        return X[rows]
    return [X[int(i)] for i in rows]


def _model_name(model: Any) -> str:
    name = type(model).__name__
    steps = getattr(model, "steps", None)
    if steps:
        name += f" (ending in {type(steps[-1][1]).__name__})"
    return name


def _check_model(model: Any) -> Any:
    from sklearn.base import clone

    if not hasattr(model, "fit"):
        raise InvalidInputError(
            f"model {type(model).__name__} has no fit method",
            hint="Pass an unfitted scikit-learn classifier, or leave model=None for the default.",
        )
    if not hasattr(model, "predict_proba"):
        raise InvalidInputError(
            f"model {_model_name(model)} has no predict_proba: it gives labels, not probabilities",
            hint="Wrap it in sklearn.calibration.CalibratedClassifierCV(model), use a classifier "
            "with predict_proba (e.g. SVC(probability=True)), or leave model=None for the default.",
        )
    try:
        return clone(model)
    except (TypeError, RuntimeError) as exc:
        raise InvalidInputError(
            f"model {_model_name(model)} cannot be cloned ({exc})",
            hint="Pass a scikit-learn compatible estimator (get_params/set_params).",
        ) from exc


def _fit_fold(
    model: Any, X: Any, codes: np.ndarray, n_classes: int, fold: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """Fit a clone on the training rows; return held-out probabilities over all classes."""
    from sklearn.base import clone

    train, test = fold
    out = np.zeros((len(test), n_classes), dtype=np.float64)
    seen = np.unique(codes[train])
    if len(seen) == 1:
        # Nothing to learn from one class: the only honest prediction is that class.
        out[:, seen[0]] = 1.0
        return out
    fitted = clone(model).fit(_take(X, train), codes[train])
    probs = np.asarray(fitted.predict_proba(_take(X, test)), dtype=np.float64)
    columns = np.asarray(getattr(fitted, "classes_", seen)).astype(np.int64)
    if probs.shape != (len(test), len(columns)):
        raise InvalidInputError(
            f"model {_model_name(model)} returned probabilities of shape {probs.shape} for "
            f"{len(test)} rows and {len(columns)} classes",
            hint="Check that predict_proba returns one column per class in classes_.",
        )
    # Classes absent from this fold's training rows keep probability 0 in these rows.
    out[:, columns] = probs
    return out


def cross_val_predict_proba(
    X: Any,
    y: Sequence[Any] | np.ndarray | pd.Series,
    *,
    model: Any = None,
    cv: int = 5,
    n_jobs: int | None = None,
    backend: str | None = None,
    scheduler_address: str | None = None,
    random_state: int | None = 0,
    classes: Sequence[Any] | np.ndarray | None = None,
    progress: ProgressCallback | None = None,
) -> np.ndarray:
    """Compute out-of-sample predicted probabilities for every example by K-fold cross-validation.

    Use it to get the ``pred_probs`` that label-issue detectors need when you have no held-out
    predictions of your own. Each example's row comes from a model trained on the other folds,
    so it never reflects that example's own (possibly wrong) label.

    Parameters
    ----------
    X
        One row per example: a numeric array (images may be 3-D/4-D), a DataFrame with
        numeric, categorical and text columns, or a list of strings.
    y
        The given labels, strings or integers, one per row of ``X``.
    model
        An unfitted scikit-learn classifier with ``predict_proba``; cloned for every fold.
        ``None`` uses :func:`dcai.quality.default_model` for the kind of ``X``.
    cv
        Number of folds (at least 2).
    n_jobs
        Parallel processes for the joblib backend: ``-1`` all cores, ``1`` inline; ``None``
        (default) all cores, or inline when the data is small (under ``INLINE_CELLS`` cells).
    backend, scheduler_address
        Where the folds run: ``"joblib"`` (default) or ``"dask"``; see
        :func:`dcai.compute.parallel_map`.
    random_state
        Seed of the fold shuffle and of the default model.
    classes
        Class values in the column order wanted; default the sorted distinct labels.
    progress
        Called as ``progress("cross-validation folds", done, cv)`` as folds finish.

    Returns
    -------
    numpy.ndarray
        ``(n_examples, n_classes)`` float64; rows sum to 1; column ``k`` is
        ``encode_labels(y, classes=classes).classes[k]``.

    Raises
    ------
    InvalidInputError
        ``X`` and ``y`` of different lengths; fewer than two classes in ``y``; a regression or
        multi-label target (from :func:`~dcai.quality._validation.encode_labels`); a model
        without ``predict_proba``; ``cv`` below 2.

    Warns
    -----
    FallbackWarning
        A class has fewer examples than ``cv``: ``max(2, smallest class size)`` folds are used
        instead. A class with a single example is still scored, by models that never saw that
        class, so it will tend to look mislabelled.

    Notes
    -----
    Folds are stratified and shuffled with ``random_state`` [1]_, so each holds about the same
    class mix and the result is reproducible; both backends give the same numbers. Each
    fold's model sees only the classes in its training part: a class missing there gets
    probability 0 in that fold's rows (a fold whose training part holds a single class
    predicts that class). Finally every probability is floored at 1e-8 and rows are
    renormalised, so no row is all zeros and logarithms stay finite.

    Each fold runs with one BLAS thread; parallelism comes from running folds side by side.

    References
    ----------
    .. [1] R. Kohavi, "A study of cross-validation and bootstrap for accuracy estimation and
       model selection", IJCAI 1995.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> pred_probs = cross_val_predict_proba(X, y, n_jobs=1)
    >>> pred_probs.shape
    (150, 3)
    >>> float((pred_probs.argmax(axis=1) == y).mean()) > 0.9
    True
    """
    n = _n_rows(X)
    encoded = encode_labels(y, classes=classes, name="y")
    codes = encoded.codes
    if len(codes) != n:
        raise InvalidInputError(
            f"X has {n} rows but y has {len(codes)} labels",
            hint="Give one label per row of X, in the same order.",
        )
    if isinstance(cv, bool) or not isinstance(cv, int | np.integer) or cv < _MIN_FOLDS:
        raise InvalidInputError(
            f"cv must be an integer of at least {_MIN_FOLDS}; got {cv!r}",
            hint="5 (the default) is a good balance of bias and cost.",
        )
    counts = np.bincount(codes, minlength=encoded.n_classes)
    names = encoded.classes.tolist()  # plain Python values, for readable messages
    present = np.flatnonzero(counts)
    if len(present) < 2:
        raise InvalidInputError(
            f"y has a single class ({names[present[0]]!r}, {n} examples)",
            hint="Out-of-sample probabilities need examples of at least two classes.",
        )
    n_folds = int(cv)
    smallest = int(counts[present].min())
    if smallest < n_folds:
        n_folds = max(_MIN_FOLDS, smallest)
        rare = [k for k in present if counts[k] < cv]
        shown = ", ".join(f"{names[k]!r}: {counts[k]}" for k in rare[:5])
        message = (
            f"y: {len(rare)} class(es) have fewer examples than cv={cv} folds ({shown}); "
            f"using {n_folds} folds instead."
        )
        if smallest == 1:
            singles = ", ".join(repr(names[k]) for k in present if counts[k] == 1)
            message += (
                f" Class(es) {singles} have a single example: its out-of-sample probabilities "
                "come from models that never saw its class, so it will tend to look mislabelled."
            )
        fallback(message)
    estimator = _check_model(model) if model is not None else None
    if estimator is None:
        from dcai.quality._models import default_model

        estimator = default_model(X, random_state=random_state, n_classes=encoded.n_classes)

    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=random_state)
    with warnings.catch_warnings():
        # Our own FallbackWarning above already says that some class is smaller than the folds.
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        folds = list(splitter.split(np.zeros((n, 1)), codes))
    if n_jobs is None and backend in (None, "joblib") and _cells(X, n) < INLINE_CELLS:
        n_jobs = 1
    task = functools.partial(_fit_fold_single_thread, estimator, X, codes, encoded.n_classes)
    results = parallel_map(
        task,
        folds,
        backend=backend,
        n_jobs=n_jobs,
        scheduler_address=scheduler_address,
        progress=progress,
        description="cross-validation folds",
    )
    probs = np.zeros((n, encoded.n_classes), dtype=np.float64)
    for (_, test), fold_probs in zip(folds, results, strict=True):
        probs[test] = fold_probs
    bad = ~np.isfinite(probs).all(axis=1) | (probs < 0).any(axis=1)
    if bad.any():
        raise InvalidInputError(
            f"model {_model_name(estimator)} returned NaN, infinite or negative probabilities "
            f"for {int(bad.sum())} example(s)",
            hint="Check the model and its inputs (e.g. impute missing values first).",
        )
    floored: np.ndarray = np.maximum(probs, PROBABILITY_FLOOR)
    normalised: np.ndarray = floored / floored.sum(axis=1, keepdims=True)
    return normalised


def _fit_fold_single_thread(
    model: Any, X: Any, codes: np.ndarray, n_classes: int, fold: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    # Folds are the unit of parallelism: several BLAS threads per fold on top of parallel folds
    # oversubscribe the cores, which on a busy machine slows linear algebra tenfold or worse.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _fit_fold(model, X, codes, n_classes, fold)
