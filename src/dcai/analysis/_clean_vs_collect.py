"""Clean or collect: would fixing the noisy labels help more than doubling the data?

:func:`clean_vs_collect` trains the same model recipe on the noisy and on the cleaned training
labels, on the same subsets and with the same seeds, and draws both learning curves. The gain
from cleaning is measured on the dev set at the full training size; the gain from doubling the
data is the noisy curve's extrapolation. Both come with intervals, and a verdict says which to
do first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dcai._progress import ProgressCallback
from dcai.analysis._learning_curve import (
    NO_ESTIMATE,
    Interval,
    LearningCurve,
    Metric,
    _interval,
    build_curve,
    check_options,
    check_sizes,
    encode_together,
    gain_draws,
    plan_subsets,
    prepare_model,
    run_fits,
    score,
)

__all__ = ["VERDICTS", "CleanVsCollect", "clean_vs_collect"]

VERDICTS = ("clean", "collect", "either")
_POINTS = {
    "accuracy": " points of accuracy",
    "macro_f1": " points of macro F1",
    "error_rate": " points of error rate",
}
_ADVICE = {
    "clean": "Clean first.",
    "collect": "Collect more data first.",
    "either": "The two are within each other's uncertainty: do whichever is cheaper.",
}


@dataclass(frozen=True, eq=False, repr=False)
class CleanVsCollect:
    """Cleaning the labels against doubling the data; built by :func:`clean_vs_collect`.

    Attributes
    ----------
    metric, n_train, n_changed
        The metric, the training size and how many training labels the cleaning changed.
    noisy_value, clean_value
        The metric on dev of the model trained on all the noisy / cleaned labels (mean over
        repeats), with a bootstrap interval.
    gain_from_cleaning
        ``clean_value − noisy_value`` with its interval (positive = cleaning helps; for
        ``error_rate``, the error it removes).
    gain_from_doubling
        The noisy learning curve's expected gain at 2× the data (see
        :meth:`LearningCurve.gain`).
    difference
        ``gain_from_cleaning − gain_from_doubling`` with its interval.
    verdict, sentence
        ``"clean"``, ``"collect"`` or ``"either"``, and the finding in words.
    noisy_curve, clean_curve
        The two :class:`LearningCurve` objects (same subsets, same seeds).
    notes
        What went differently (failed fits, a missing estimate).
    """

    metric: str
    n_train: int
    n_changed: int
    noisy_value: Interval
    clean_value: Interval
    gain_from_cleaning: Interval
    gain_from_doubling: Interval
    difference: Interval
    verdict: str
    sentence: str
    noisy_curve: LearningCurve
    clean_curve: LearningCurve
    notes: tuple[str, ...] = ()
    confidence: float = 0.95

    def __repr__(self) -> str:
        return f"CleanVsCollect(verdict={self.verdict!r}, sentence={self.sentence!r})"

    @property
    def curves(self) -> pd.DataFrame:
        """Both curves, tidy for plotting: ``curve`` (noisy / clean), ``size, mean, low, high, fitted``."""
        return pd.concat(
            [self.noisy_curve.to_frame("noisy"), self.clean_curve.to_frame("clean")],
            ignore_index=True,
        )

    def to_dict(self) -> dict[str, Any]:
        """The comparison as JSON-ready data (no NaN), curves included."""
        return {
            "metric": self.metric,
            "n_train": self.n_train,
            "n_changed": self.n_changed,
            "confidence": self.confidence,
            "noisy_value": self.noisy_value.to_dict(),
            "clean_value": self.clean_value.to_dict(),
            "gain_from_cleaning": self.gain_from_cleaning.to_dict(),
            "gain_from_doubling": self.gain_from_doubling.to_dict(),
            "difference": self.difference.to_dict(),
            "verdict": self.verdict,
            "sentence": self.sentence,
            "notes": list(self.notes),
            "noisy_curve": self.noisy_curve.to_dict(),
            "clean_curve": self.clean_curve.to_dict(),
        }


def _full_size_gain(
    noisy: list[np.ndarray | None],
    clean: list[np.ndarray | None],
    y_dev: np.ndarray,
    *,
    metric: str,
    n_classes: int,
    n_boot: int,
    rng: np.random.Generator,
) -> tuple[tuple[float, float, float], np.ndarray] | None:
    """Mean metric of the noisy and clean models over paired repeats, and bootstrap draws.

    Each replicate resamples the dev examples and the repeats (the same ones for both arms,
    which share seeds), so the interval covers dev-set sampling and model randomness.
    """
    pairs = [(a, b) for a, b in zip(noisy, clean, strict=True) if a is not None and b is not None]
    if not pairs:
        return None
    n_dev = len(y_dev)

    def means(rows: np.ndarray | None, reps: Sequence[int]) -> tuple[float, float]:
        truth = y_dev if rows is None else y_dev[rows]
        out = np.zeros(2)
        for r in reps:
            for arm in (0, 1):
                predicted = pairs[r][arm] if rows is None else pairs[r][arm][rows]
                out[arm] += score(truth, predicted, metric, n_classes)
        return out[0] / len(reps), out[1] / len(reps)

    noisy_value, clean_value = means(None, range(len(pairs)))
    draws = np.empty((n_boot, 3))
    for i in range(n_boot):
        rows = rng.integers(0, n_dev, size=n_dev)
        reps = rng.integers(0, len(pairs), size=len(pairs)).tolist()
        a, b = means(rows, reps)
        draws[i] = a, b, b - a
    gain = clean_value - noisy_value
    if metric == "error_rate":  # positive gain = error removed
        gain, draws[:, 2] = -gain, -draws[:, 2]
    return (noisy_value, clean_value, gain), draws


def _verdict(cleaning: Interval, doubling: Interval, difference: Interval) -> str:
    if difference.low is not None and difference.high is not None:
        if difference.low > 0:
            return "clean"
        if difference.high < 0:
            return "collect"
        return "either"
    if doubling.value is None and cleaning.low is not None and cleaning.low > 0:
        return "clean"
    if cleaning.value is None and doubling.low is not None and doubling.low > 0:
        return "collect"
    return "either"


def _points(value: Interval, confidence: float, unit: str) -> str:
    text = f"{100 * (value.value or 0.0):+.1f}{unit}"
    if value.low is not None and value.high is not None:
        level = f"{100 * confidence:g}%"
        text += f" ({level} CI {100 * value.low:+.1f} to {100 * value.high:+.1f})"
    return text


def _sentence(
    verdict: str,
    cleaning: Interval,
    doubling: Interval,
    *,
    n_changed: int,
    metric: str,
    confidence: float,
) -> str:
    labels = f"{n_changed} corrected label{'s' if n_changed != 1 else ''}"
    if cleaning.value is None:
        first = f"Cleaning the {labels} could not be measured (every full-size fit failed)"
    else:
        first = f"Cleaning the {labels} gains {_points(cleaning, confidence, _POINTS[metric])}"
    if doubling.value is None:
        second = "doubling the data could not be extrapolated (no usable learning-curve fit)"
    else:
        second = f"doubling the data is expected to gain {_points(doubling, confidence, '')}"
    return f"{first}; {second}. {_ADVICE[verdict]}"


def clean_vs_collect(
    model: Any,
    X_train: Any,
    y_noisy: Any,
    y_clean: Any,
    X_dev: Any,
    y_dev: Any,
    *,
    repeats: int = 5,
    metric: Metric = "accuracy",
    sizes: Sequence[float] | None = None,
    n_boot: int = 500,
    confidence: float = 0.95,
    random_state: int | None = 0,
    backend: str | None = None,
    n_jobs: int | None = None,
    progress: ProgressCallback | None = None,
) -> CleanVsCollect:
    """Compare the gain from cleaning the training labels with the gain from doubling the data.

    Use it after an audit or a review: ``y_clean`` is the training labels with the fixes
    applied (the audit's confident fixes or the reviewers' decisions). The answer says which
    of the two to spend the next effort on, with the numbers and their uncertainty.

    Parameters
    ----------
    model
        An unfitted scikit-learn classifier or pipeline; ``None`` uses
        :func:`dcai.quality.default_model`.
    X_train, y_noisy, y_clean
        The training examples, their given labels and the cleaned labels (same length).
    X_dev, y_dev
        The dev set, with labels you trust.
    repeats
        Fits per size (different subsets and model seeds); at the full size they differ only
        by seed, and the gain from cleaning averages them.
    metric
        ``"accuracy"`` (default), ``"macro_f1"`` or ``"error_rate"``.
    sizes
        Sizes of both learning curves (the full size is always added); default as in
        :func:`learning_curve`.
    n_boot, confidence
        Bootstrap replicates and level of every interval.
    random_state, backend, n_jobs, progress
        As in :func:`learning_curve`; both curves' fits run in one :func:`parallel_map`.

    Returns
    -------
    CleanVsCollect

    Raises
    ------
    InvalidInputError
        As :func:`learning_curve`; also ``y_clean`` of another length than ``y_noisy``.

    Notes
    -----
    Both curves use the same subsets (stratified on the noisy labels) and the same model
    seeds, so they differ only in the labels. The gain from cleaning is the mean dev metric
    of the full-size clean models minus that of the noisy ones; its interval is a percentile
    bootstrap [1]_ that resamples dev examples and repeats together. The gain from doubling
    is :meth:`LearningCurve.gain` ``(2)`` of the noisy curve (power-law extrapolation, with a
    bootstrap over repeats). The two bootstraps are independent, so pairing their replicates
    gives the difference's interval: the verdict is ``"clean"`` when it lies above 0,
    ``"collect"`` when below, and ``"either"`` otherwise (or when an estimate is missing and
    the other is not clearly positive). The question and its answer for a noisy data set of
    a few hundred examples (cleaning ≈ doubling) come from Ng's data-centric AI talk [2]_;
    label noise as a cost to learning is surveyed in [3]_.

    References
    ----------
    .. [1] B. Efron and R. J. Tibshirani, "An Introduction to the Bootstrap", Chapman &
       Hall, 1993.
    .. [2] A. Ng, "A Chat with Andrew on MLOps: From Model-centric to Data-centric AI",
       DeepLearning.AI, 2021.
    .. [3] B. Frénay and M. Verleysen, "Classification in the presence of label noise: a
       survey", IEEE Trans. Neural Netw. Learn. Syst. 25(5), 2014.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = make_classification(1200, n_informative=6, n_classes=3, random_state=0)
    >>> noisy = y.copy(); noisy[:120] = (y[:120] + 1) % 3    # 20 % of 600 flipped
    >>> result = clean_vs_collect(LogisticRegression(), X[:600], noisy[:600], y[:600],
    ...                           X[600:], y[600:], repeats=2, n_jobs=1)
    >>> result.n_changed, result.gain_from_cleaning.value > 0
    (120, True)
    >>> sorted(result.curves["curve"].unique())
    ['clean', 'noisy']
    """
    check_options(metric, repeats, n_boot, confidence)
    (noisy, clean, dev), classes = encode_together(
        X_train, X_dev, [("y_noisy", y_noisy), ("y_clean", y_clean), ("y_dev", y_dev)]
    )
    n_classes, n_train = len(classes), len(noisy)
    estimator = prepare_model(model, X_train, n_classes, random_state)
    sizes_ = sorted({*check_sizes(sizes, n_train, n_classes), n_train})
    rng = np.random.default_rng(random_state)
    plan = plan_subsets(noisy, sizes_, int(repeats), rng)
    items = [
        (rows, labels[rows], seed)
        for labels in (noisy, clean)
        for rows, seed in zip(plan.rows, plan.seeds, strict=True)
    ]
    results = run_fits(
        estimator,
        X_train,
        X_dev,
        n_classes,
        items,
        backend=backend,
        n_jobs=n_jobs,
        progress=progress,
    )
    half = len(plan.rows)
    options: dict[str, Any] = {
        "metric": metric,
        "n_classes": n_classes,
        "n_train": n_train,
        "n_boot": int(n_boot),
        "confidence": float(confidence),
    }
    noisy_curve = build_curve(plan, results[:half], dev, rng=rng, **options)
    clean_curve = build_curve(plan, results[half:], dev, rng=rng, **options)
    notes = [f"noisy labels: {n}" for n in noisy_curve.notes]
    notes += [f"clean labels: {n}" for n in clean_curve.notes]
    n_changed = int((noisy != clean).sum())
    if n_changed == 0:
        notes.append("y_clean equals y_noisy: no label was changed, so cleaning cannot gain.")

    full = slice(half - plan.repeats, half)  # the last size is the full training set
    measured = _full_size_gain(
        [p for p, _ in results[full]],
        [p for p, _ in results[half:][full]],
        dev,
        metric=metric,
        n_classes=n_classes,
        n_boot=int(n_boot),
        rng=rng,
    )
    cleaning = noisy_value = clean_value = NO_ESTIMATE
    cleaning_draws = None
    if measured is None:
        notes.append(
            "no full-size fit succeeded on both label sets: the gain from cleaning is unknown."
        )
    else:
        (noisy_point, clean_point, gain), draws = measured
        noisy_value = _interval(noisy_point, draws[:, 0], confidence)
        clean_value = _interval(clean_point, draws[:, 1], confidence)
        cleaning, cleaning_draws = _interval(gain, draws[:, 2], confidence), draws[:, 2]

    doubling = noisy_curve.gain(2)
    doubled = gain_draws(noisy_curve, 2.0)
    if doubled is None:
        notes.append(f"no usable learning curve on the noisy labels: {noisy_curve.fit.note}")
    difference = NO_ESTIMATE
    if cleaning.value is not None and cleaning_draws is not None and doubled is not None:
        k = min(len(cleaning_draws), len(doubled[1]))
        point = cleaning.value - doubled[0]
        difference = _interval(point, cleaning_draws[:k] - doubled[1][:k], confidence)
    verdict = _verdict(cleaning, doubling, difference)
    sentence = _sentence(
        verdict, cleaning, doubling, n_changed=n_changed, metric=metric, confidence=confidence
    )
    return CleanVsCollect(
        metric=metric,
        n_train=n_train,
        n_changed=n_changed,
        noisy_value=noisy_value,
        clean_value=clean_value,
        gain_from_cleaning=cleaning,
        gain_from_doubling=doubling,
        difference=difference,
        verdict=verdict,
        sentence=sentence,
        noisy_curve=noisy_curve,
        clean_curve=clean_curve,
        notes=tuple(notes),
        confidence=float(confidence),
    )
