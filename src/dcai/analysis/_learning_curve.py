"""Learning curves: how the dev-set metric grows with training data, and what more would buy.

:func:`learning_curve` trains clones of a model on stratified random subsets of growing size
(several subsets per size), scores each on one fixed dev set, and fits a power law with an
asymptote to the error. The fit extrapolates the metric at 2× and 10× the data with a bootstrap
interval; the same curve is drawn for the largest slices of the dev set. The pieces
(:func:`plan_subsets`, :func:`run_fits`, :func:`build_curve`) are shared with
:func:`dcai.analysis.clean_vs_collect`, which runs two curves on the same subsets.

Input checks, subsets and the model fits live in :mod:`dcai.analysis._curve_fits`, the
power-law fit in :mod:`dcai.analysis._power_law`; this module scores the fits, builds the
result and re-exports the pieces under their old names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dcai._progress import ProgressCallback
from dcai.analysis._curve_fits import (
    METRICS,
    Plan,
    _error,
    check_options,
    check_sizes,
    encode_together,
    plan_subsets,
    prepare_model,
    run_fits,
    score,
)

# ``X as X``: re-exported for _clean_vs_collect and the tests, which import them from here.
from dcai.analysis._curve_fits import Metric as Metric
from dcai.analysis._curve_fits import _stratified_subset as _stratified_subset
from dcai.analysis._power_law import NO_ESTIMATE as NO_ESTIMATE
from dcai.analysis._power_law import Interval, PowerLawFit, fit_range
from dcai.analysis._power_law import _fit_power_law as _fit_power_law
from dcai.analysis._power_law import _interval as _interval
from dcai.errors import InvalidInputError

__all__ = [
    "METRICS",
    "Interval",
    "LearningCurve",
    "PowerLawFit",
    "build_curve",
    "check_options",
    "check_sizes",
    "encode_together",
    "fit_range",
    "gain_draws",
    "learning_curve",
    "plan_subsets",
    "prepare_model",
    "run_fits",
    "score",
]

#: Slices of the dev set with fewer examples than this get no curve of their own.
MIN_SLICE_ROWS = 20


def _json(value: Any) -> Any:
    """A plain Python value for JSON: numpy scalars unwrapped, NaN as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _json(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


# --------------------------------------------------------------------------- the result


@dataclass(frozen=True, eq=False, repr=False)
class LearningCurve:
    """A learning curve and its power-law fit; built by :func:`learning_curve`.

    Attributes
    ----------
    metric
        ``"accuracy"``, ``"macro_f1"`` or ``"error_rate"``; values are in [0, 1].
    n_train, n_dev, repeats
        The full training size, the dev examples scored, and the fits per size.
    points
        One row per fit: ``size, repeat, value`` (the metric on dev; NaN if the fit failed),
        ``error`` (the failure's message, else None).
    summary
        One row per size with at least one successful fit: ``size, mean, low, high`` (a
        t-interval of the mean over repeats), ``std, n_fits, n_failed`` and ``in_fit``
        (whether the power law was fitted to that size).
    fit
        The :class:`PowerLawFit` of the error.
    notes
        What went differently: failed fits, dropped sizes, skipped slices.
    slices
        The same curve for each of the largest slices of ``groups_dev``, by slice name.
    """

    metric: str
    n_train: int
    n_dev: int
    repeats: int
    points: pd.DataFrame
    summary: pd.DataFrame
    fit: PowerLawFit
    notes: tuple[str, ...] = ()
    slices: Mapping[str, LearningCurve] = field(default_factory=dict)
    confidence: float = 0.95

    def __repr__(self) -> str:
        two = self.gain(2).value
        shown = "None" if two is None else f"{two:+.4f}"
        return (
            f"LearningCurve(metric={self.metric!r}, n_train={self.n_train}, sizes={len(self.summary)}, "
            f"fit={self.fit.status!r}, gain(2)={shown}, slices={len(self.slices)})"
        )

    def _target(self, factor: float, size: float | None) -> float:
        target = float(size) if size is not None else float(factor) * self.n_train
        if not math.isfinite(target) or target <= 0:
            raise InvalidInputError(
                f"cannot extrapolate to {target!r} examples",
                hint="Give a factor > 0 or a size ≥ 1.",
            )
        return target

    def predict(self, sizes: Any) -> pd.DataFrame:
        """The fitted metric at ``sizes``: ``size, value, low, high`` (NaN without a usable fit)."""
        sizes_arr = np.atleast_1d(np.asarray(sizes, dtype=np.float64))
        point, draws = self.fit.predict_error(sizes_arr)
        rows = []
        for j, n in enumerate(sizes_arr):
            est = _interval(float(point[j]), draws[:, j], self.confidence)
            value, low, high = (np.nan if v is None else v for v in est)
            if self.metric != "error_rate":
                value, low, high = 1.0 - value, 1.0 - high, 1.0 - low
            rows.append((n, *(float(np.clip(v, 0.0, 1.0)) for v in (value, low, high))))
        return pd.DataFrame(rows, columns=["size", "value", "low", "high"])

    def extrapolate(self, factor: float = 2.0, *, size: float | None = None) -> Interval:
        """The metric the fit expects at ``factor`` × the training size (or at ``size`` examples).

        Returns ``(value, low, high)``; all ``None`` when there is no usable fit (see ``fit.note``).
        """
        row = self.predict([self._target(factor, size)]).iloc[0]
        if not self.fit.usable:
            return NO_ESTIMATE
        return Interval(float(row["value"]), float(row["low"]), float(row["high"]))

    def gain(self, factor: float = 2.0, *, size: float | None = None) -> Interval:
        """How much better the metric gets at ``factor`` × the data than at the full training set.

        Positive means better (for ``error_rate``: the error falls). Both ends come from the
        fit, per bootstrap replicate, so the fit's bias at the full size cancels.
        """
        draws = gain_draws(self, self._target(factor, size) / self.n_train)
        if draws is None:
            return NO_ESTIMATE
        return _interval(draws[0], draws[1], self.confidence)

    def to_frame(self, name: str = "curve") -> pd.DataFrame:
        """The summary as a tidy frame for plotting: ``curve, size, mean, low, high, fitted``."""
        fitted = self.predict(self.summary["size"].to_numpy())["value"].to_numpy()
        frame = self.summary[["size", "mean", "low", "high"]].copy()
        frame.insert(0, "curve", name)
        frame["fitted"] = fitted if self.fit.usable else np.nan
        return frame.reset_index(drop=True)

    def slice_frame(self) -> pd.DataFrame:
        """Every slice's curve in one long frame: ``slice, size, mean, low, high, fitted``."""
        frames = [
            c.to_frame(name).rename(columns={"curve": "slice"}) for name, c in self.slices.items()
        ]
        if not frames:
            return pd.DataFrame(columns=["slice", "size", "mean", "low", "high", "fitted"])
        return pd.concat(frames, ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        """The curve as JSON-ready data (NaN becomes None); slices nest as the same structure."""
        return {
            "metric": self.metric,
            "n_train": self.n_train,
            "n_dev": self.n_dev,
            "repeats": self.repeats,
            "confidence": self.confidence,
            "points": _records(self.points),
            "summary": _records(self.summary),
            "fit": self.fit.to_dict(),
            "extrapolate": {str(f): self.extrapolate(f).to_dict() for f in (2, 10)},
            "gain": {str(f): self.gain(f).to_dict() for f in (2, 10)},
            "notes": list(self.notes),
            "slices": {name: curve.to_dict() for name, curve in self.slices.items()},
        }


def gain_draws(curve: LearningCurve, factor: float) -> tuple[float, np.ndarray] | None:
    """The gain at ``factor`` × the data: point estimate and one value per bootstrap replicate."""
    if not curve.fit.usable:
        return None
    point, draws = curve.fit.predict_error([curve.n_train, factor * curve.n_train])
    return float(point[0] - point[1]), draws[:, 0] - draws[:, 1]


def _t_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    from scipy.stats import t

    if len(values) < 2:
        return np.nan, np.nan
    half = (
        float(t.ppf((1 + confidence) / 2, len(values) - 1))
        * values.std(ddof=1)
        / math.sqrt(len(values))
    )
    mean = float(values.mean())
    return max(mean - half, 0.0), min(mean + half, 1.0)


def build_curve(
    plan: Plan,
    results: Sequence[tuple[np.ndarray | None, str | None]],
    y_dev: np.ndarray,
    *,
    metric: str,
    n_classes: int,
    n_train: int,
    n_boot: int,
    confidence: float,
    rng: np.random.Generator,
    rows: np.ndarray | None = None,
    slices: Mapping[str, np.ndarray] | None = None,
    notes: Sequence[str] = (),
) -> LearningCurve:
    """Score the fits' dev predictions (on ``rows`` of the dev set, default all) and fit the curve."""
    truth = y_dev if rows is None else y_dev[rows]
    records, notes_out = [], list(notes)
    per_size: list[tuple[int, np.ndarray]] = []
    summary = []
    for s, size in enumerate(plan.sizes):
        values = []
        failures: list[str] = []
        for r in range(plan.repeats):
            predicted, message = results[s * plan.repeats + r]
            value = np.nan
            if predicted is not None:
                value = score(
                    truth, predicted if rows is None else predicted[rows], metric, n_classes
                )
                values.append(value)
            else:
                failures.append(str(message))
            records.append((size, r, value, message))
        if failures and rows is None:
            if values:
                notes_out.append(
                    f"size {size}: {len(failures)} of {plan.repeats} fits failed ({failures[0]})."
                )
            else:
                notes_out.append(
                    f"size {size} dropped: all {plan.repeats} fits failed ({failures[0]})."
                )
        if values:
            arr = np.array(values)
            low, high = _t_interval(arr, confidence)
            std = float(arr.std(ddof=1)) if len(arr) > 1 else np.nan
            summary.append((size, float(arr.mean()), low, high, std, len(arr), len(failures)))
            per_size.append((size, _error(arr, metric)))
    points = pd.DataFrame(records, columns=["size", "repeat", "value", "error"])
    points["error"] = points["error"].astype(object).where(points["error"].notna(), None)
    fit = _fit_power_law(
        np.array([s for s, _ in per_size], dtype=np.float64),
        [e for _, e in per_size],
        n_train=n_train,
        n_dev=len(truth),
        n_boot=n_boot,
        confidence=confidence,
        rng=rng,
    )
    curves = {
        name: build_curve(
            plan,
            results,
            y_dev,
            metric=metric,
            n_classes=n_classes,
            n_train=n_train,
            n_boot=n_boot,
            confidence=confidence,
            rng=rng,
            rows=mask,
        )
        for name, mask in (slices or {}).items()
    }
    columns = ["size", "mean", "low", "high", "std", "n_fits", "n_failed"]
    table = pd.DataFrame(summary, columns=columns)
    table["in_fit"] = table["size"].isin(fit.sizes)
    return LearningCurve(
        metric=metric,
        n_train=n_train,
        n_dev=len(truth),
        repeats=plan.repeats,
        points=points,
        summary=table,
        fit=fit,
        notes=tuple(notes_out),
        slices=curves,
        confidence=float(confidence),
    )


def _slice_rows(
    groups_dev: Any, n_dev: int, n_slices: int
) -> tuple[dict[str, np.ndarray], list[str]]:
    groups = pd.Series(
        np.asarray(groups_dev, dtype=object).reshape(-1)
        if not isinstance(groups_dev, pd.Series)
        else groups_dev.to_numpy()
    )
    if len(groups) != n_dev:
        raise InvalidInputError(
            f"groups_dev has {len(groups)} values but the dev set has {n_dev} rows",
            hint="Give one slice name (or None) per dev example, in the same order.",
        )
    counts = groups.dropna().map(str).value_counts()
    counts = counts.sort_index().sort_values(ascending=False, kind="stable")
    names = groups.map(lambda v: None if pd.isna(v) else str(v)).to_numpy()
    notes, out = [], {}
    if len(counts) > n_slices:
        notes.append(f"curves for the {n_slices} largest of {len(counts)} slices of groups_dev.")
    for name, count in counts.iloc[:n_slices].items():
        if count < MIN_SLICE_ROWS:
            notes.append(
                f"slice {name!r} skipped: {count} dev examples (fewer than {MIN_SLICE_ROWS})."
            )
        else:
            out[str(name)] = np.flatnonzero(names == name)
    return out, notes


def learning_curve(
    model: Any,
    X_train: Any,
    y_train: Any,
    X_dev: Any,
    y_dev: Any,
    *,
    sizes: Sequence[float] | None = None,
    repeats: int = 5,
    metric: Metric = "accuracy",
    groups_dev: Any = None,
    n_slices: int = 5,
    n_boot: int = 500,
    confidence: float = 0.95,
    random_state: int | None = 0,
    backend: str | None = None,
    n_jobs: int | None = None,
    progress: ProgressCallback | None = None,
) -> LearningCurve:
    """Measure how the dev-set metric grows with training data, and extrapolate it.

    Use it to decide whether more data of the kind you have is worth collecting: the curve's
    slope at the full training size and its asymptote say how much 2× or 10× the data would
    buy, overall and for the largest slices.

    Parameters
    ----------
    model
        An unfitted scikit-learn classifier or pipeline (cloned for every fit; needs only
        ``fit`` and ``predict``); ``None`` uses :func:`dcai.quality.default_model`.
    X_train, y_train
        The training examples (array, DataFrame or list of texts) and their labels.
    X_dev, y_dev
        The dev set every fit is scored on.
    sizes
        Training-set sizes (counts, or fractions in (0, 1)); default 8 sizes spaced
        geometrically from ``max(5·K, 20)`` (K classes) to the full training set.
    repeats
        Fits per size, each on a different stratified subset and with a different model seed.
    metric
        ``"accuracy"`` (default), ``"macro_f1"`` (over the classes present in the dev rows) or
        ``"error_rate"``.
    groups_dev
        Optional slice name per dev example (None for none); the ``n_slices`` largest slices
        with at least 20 dev examples get their own curve, from the same fits.
    n_boot, confidence
        Bootstrap replicates and level of the fit's intervals.
    random_state
        Seed of the subsets, the model seeds and the bootstrap.
    backend, n_jobs, progress
        Where the fits run (see :func:`dcai.compute.parallel_map`); small data runs inline.

    Returns
    -------
    LearningCurve

    Raises
    ------
    InvalidInputError
        Lengths that do not match, an empty dev set, one class in ``y_train``, bad sizes or
        options, a model without ``fit``/``predict``.

    Notes
    -----
    Subsets are stratified: each class in proportion, at least one example of each when the
    size allows; the full size uses every row (its repeats differ only by model seed). Every
    ``random_state`` parameter of the model (pipelines too) is set per fit. A fit that raises
    (say a class missing from a tiny subset) is recorded in ``points`` with its message; a
    size where every fit fails is dropped, with a note.

    The error ``e(n)`` (1 − metric; the metric itself for ``error_rate``) is fitted as
    ``e(n) = a·n^(−b) + c`` [1]_ [2]_ with ``a, c ≥ 0`` and ``0.01 ≤ b ≤ 3``, on the sizes
    from ``N/8`` to the full size ``N`` (at least the four largest; ``summary["in_fit"]``):
    below, the "small-data region" [2]_ bends away from a power law, and on held-out
    generated data fitting it biased the 2× extrapolation. The fit is weighted least squares
    on the mean error per size with weights ``1/σ²``, ``σ² = sd(n)²·((1 − u)/r + u)``:
    ``sd(n)`` is the spread of one fresh training set of size ``n``, estimated from the
    repeats as ``k/√n`` (subsets of one pool spread ``√(1 − u)`` times less, ``u = n/N``),
    and the fraction ``u`` of the pool's luck that every subset shares is not averaged away
    by the ``r`` repeats. For a fixed ``b`` the model is linear in ``a`` and ``c``, solved
    exactly under the constraints (variable projection [3]_); ``b`` is found on a
    log-spaced grid and refined by Brent's method, so no starting values are needed.

    Intervals: ``n_boot`` times, the repeats at each size are resampled with replacement,
    the pool's shared luck is drawn (normal, ``sd(n)·√u``), and the curve is refitted;
    percentile intervals, widened to contain the point estimate and by the Birge ratio
    ``√(χ²/dof)`` when the means scatter more than their ``σ`` allow. With fewer than three
    sizes there is no fit; when the error does not fall measurably over the fitted sizes
    (a drop ≤ 2 ``σ``) ``fit.status`` is ``"flat"``, with a note.

    References
    ----------
    .. [1] C. Cortes, L. D. Jackel, S. A. Solla, V. Vapnik and J. S. Denker, "Learning
       curves: asymptotic values and rate of convergence", NeurIPS 6, 1993.
    .. [2] J. Hestness et al., "Deep learning scaling is predictable, empirically",
       arXiv:1712.00409, 2017.
    .. [3] G. H. Golub and V. Pereyra, "The differentiation of pseudo-inverses and
       nonlinear least squares problems whose variables separate", SIAM J. Numer. Anal.
       10(2), 1973.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = load_digits(return_X_y=True)
    >>> curve = learning_curve(LogisticRegression(max_iter=300), X[:600] / 16, y[:600],
    ...                        X[600:] / 16, y[600:], repeats=2, n_jobs=1)
    >>> curve.summary["size"].tolist()
    [50, 71, 102, 145, 207, 295, 421, 600]
    >>> curve.fit.status, curve.gain(2).value > 0
    ('ok', True)
    """
    check_options(metric, repeats, n_boot, confidence, n_slices)
    (codes, dev_codes), classes = encode_together(
        X_train, X_dev, [("y_train", y_train), ("y_dev", y_dev)]
    )
    estimator = prepare_model(model, X_train, len(classes), random_state)
    sizes_ = check_sizes(sizes, len(codes), len(classes))
    slices, notes = (
        ({}, []) if groups_dev is None else _slice_rows(groups_dev, len(dev_codes), n_slices)
    )
    rng = np.random.default_rng(random_state)
    plan = plan_subsets(codes, sizes_, int(repeats), rng)
    items = [(rows, codes[rows], seed) for rows, seed in zip(plan.rows, plan.seeds, strict=True)]
    results = run_fits(
        estimator,
        X_train,
        X_dev,
        len(classes),
        items,
        backend=backend,
        n_jobs=n_jobs,
        progress=progress,
    )
    return build_curve(
        plan,
        results,
        dev_codes,
        metric=metric,
        n_classes=len(classes),
        n_train=len(codes),
        n_boot=int(n_boot),
        confidence=float(confidence),
        rng=rng,
        slices=slices,
        notes=notes,
    )
