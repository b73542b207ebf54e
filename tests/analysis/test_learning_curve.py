"""Learning curves and clean-vs-collect: the power-law fit, failures, slices, bad input."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import curve_fit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from dcai.analysis import (
    CleanVsCollect,
    LearningCurve,
    clean_vs_collect,
    learning_curve,
)
from dcai.analysis._learning_curve import _fit_power_law, _stratified_subset, score
from dcai.errors import InvalidInputError


def _data(n: int = 900, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(
        n, n_features=10, n_informative=6, n_classes=k, class_sep=1.2, random_state=seed
    )
    return X, y


@pytest.fixture(scope="module")
def curve() -> LearningCurve:
    X, y = _data()
    groups = np.where(X[500:, 0] > 0, "right", "left").astype(object)
    groups[:5] = "tiny"
    return learning_curve(
        LogisticRegression(),
        X[:500],
        y[:500],
        X[500:],
        y[500:],
        repeats=3,
        groups_dev=groups,
        n_boot=200,
        n_jobs=1,
    )


class FailsWhenSmall(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Logistic regression that refuses fewer than ``min_rows`` rows, or odd seeds."""

    def __init__(self, min_rows: int = 0, fail_odd_seeds: bool = False, random_state: Any = None):
        self.min_rows = min_rows
        self.fail_odd_seeds = fail_odd_seeds
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> FailsWhenSmall:
        if len(X) < self.min_rows:
            raise ValueError(f"needs at least {self.min_rows} rows, got {len(X)}")
        if self.fail_odd_seeds and int(self.random_state) % 2:
            raise RuntimeError("unlucky seed")
        self.model_ = LogisticRegression().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model_.predict(X))


# --------------------------------------------------------------------------- the power law


@pytest.mark.parametrize(("a", "b", "c"), [(2.0, 0.5, 0.05), (0.8, 0.3, 0.1), (5.0, 0.9, 0.02)])
def test_power_law_fit_recovers_known_parameters(a: float, b: float, c: float) -> None:
    rng = np.random.default_rng(1)
    sizes = np.round(np.geomspace(20, 5000, 16))  # 6 in the fitted range, 794 to 5000
    truth = a * sizes**-b + c
    errors = [t + rng.normal(scale=0.0005, size=5) for t in truth]
    fit = _fit_power_law(
        sizes, errors, n_train=5000, n_dev=10**6, n_boot=300, confidence=0.95, rng=rng
    )
    assert fit.status == "ok"
    assert fit.b.value == pytest.approx(b, abs=0.08)
    assert fit.c.value == pytest.approx(c, abs=0.01)
    assert fit.a.value == pytest.approx(a, rel=0.35)
    for name, true in (("a", a), ("b", b), ("c", c)):
        est = getattr(fit, name)
        assert est.low <= est.value <= est.high
        # Loose: the interval is about the true value, not far off it.
        assert est.low - 0.02 <= true <= est.high + 0.02 or name == "a"
    # Against scipy's bounded nonlinear least squares on the same means and weights.
    means = np.array([e.mean() for e in errors])
    sigma = np.maximum(np.array([e.std(ddof=1) / np.sqrt(5) for e in errors]), 1e-3)
    (ra, rb, rc), _ = curve_fit(
        lambda n, a_, b_, c_: a_ * n**-b_ + c_,
        sizes,
        means,
        p0=(1.0, 0.5, 0.05),
        sigma=sigma,
        bounds=([0, 0.01, 0], [np.inf, 3, 1]),
        max_nfev=20_000,
    )
    predicted, _ = fit.predict_error([10_000, 50_000])
    assert predicted == pytest.approx(ra * np.array([10_000, 50_000]) ** -rb + rc, abs=0.005)


def test_extrapolation_is_monotone_and_gains_grow(curve: LearningCurve) -> None:
    assert curve.fit.status == "ok"
    values = [curve.extrapolate(f).value for f in (1, 2, 5, 10, 100)]
    assert all(v is not None for v in values)
    assert values == sorted(values)  # accuracy never falls with more data
    assert 0 <= curve.gain(2).value <= curve.gain(10).value  # type: ignore[operator]
    two = curve.extrapolate(2)
    assert two.low <= two.value <= two.high  # type: ignore[operator]
    assert curve.extrapolate(size=2 * curve.n_train) == two
    assert curve.gain(1).value == pytest.approx(0.0, abs=1e-12)


def test_points_summary_and_tidy_frames(curve: LearningCurve) -> None:
    assert list(curve.points.columns) == ["size", "repeat", "value", "error"]
    assert len(curve.points) == len(curve.summary) * 3
    assert curve.points["error"].isna().all()
    assert list(curve.summary.columns[:4]) == ["size", "mean", "low", "high"]
    assert curve.summary["size"].iloc[-1] == 500
    assert (curve.summary["low"] <= curve.summary["mean"]).all()
    frame = curve.to_frame("noisy")
    assert list(frame.columns) == ["curve", "size", "mean", "low", "high", "fitted"]
    assert set(frame["curve"]) == {"noisy"}
    json.dumps(curve.to_dict(), allow_nan=False)


def test_slices_get_their_own_curves(curve: LearningCurve) -> None:
    assert set(curve.slices) == {"left", "right"}
    assert any("'tiny' skipped" in note for note in curve.notes)
    sliced = curve.slice_frame()
    assert set(sliced["slice"]) == {"left", "right"}
    # Each slice's curve is the same fits scored on its rows only.
    assert curve.slices["left"].n_dev + curve.slices["right"].n_dev == curve.n_dev - 5


def test_macro_f1_matches_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    y_true, y_pred = rng.integers(0, 4, 200), rng.integers(0, 5, 200)
    y_true[y_true == 2] = 0  # a class absent from the truth is not averaged
    expected = f1_score(y_true, y_pred, labels=np.unique(y_true), average="macro")
    assert score(y_true, y_pred, "macro_f1", 5) == pytest.approx(expected)
    assert score(y_true, y_pred, "error_rate", 5) == pytest.approx(1 - np.mean(y_true == y_pred))


def test_subsets_are_stratified_with_every_class() -> None:
    rng = np.random.default_rng(0)
    codes = np.repeat([0, 1, 2], [700, 280, 20])
    members = [np.flatnonzero(codes == k) for k in range(3)]
    rows = _stratified_subset(members, len(codes), 100, rng)
    assert len(rows) == 100 and len(np.unique(rows)) == 100
    assert np.bincount(codes[rows]).tolist() == [70, 28, 2]
    assert np.bincount(codes[_stratified_subset(members, len(codes), 5, rng)]).min() >= 1


# --------------------------------------------------------------------------- failures and degenerate fits


def test_a_failing_model_on_small_subsets_is_recorded_not_fatal() -> None:
    X, y = _data(700)
    result = learning_curve(
        FailsWhenSmall(min_rows=60),
        X[:400],
        y[:400],
        X[400:],
        y[400:],
        sizes=[20, 40, 80, 160, 400],
        repeats=2,
        n_boot=100,
        n_jobs=1,
    )
    failed = result.points[result.points["size"] < 60]
    assert failed["value"].isna().all()
    assert failed["error"].str.contains("ValueError: needs at least 60 rows").all()
    assert result.summary["size"].tolist() == [80, 160, 400]
    assert sum("dropped" in note for note in result.notes) == 2
    assert result.fit.status in ("ok", "flat")

    partial = learning_curve(
        FailsWhenSmall(fail_odd_seeds=True),
        X[:400],
        y[:400],
        X[400:],
        y[400:],
        sizes=[80, 160, 400],
        repeats=4,
        n_boot=50,
        n_jobs=1,
    )
    assert partial.points["error"].notna().any()
    assert any("fits failed (RuntimeError: unlucky seed)" in n for n in partial.notes)


def test_flat_and_too_few_sizes_fall_back_with_a_note() -> None:
    X, y = _data(600)
    flat = learning_curve(
        DummyClassifier(strategy="most_frequent"),
        X[:300],
        y[:300],
        X[300:],
        y[300:],
        repeats=2,
        n_boot=50,
        n_jobs=1,
    )
    assert flat.fit.status == "flat" and flat.fit.note
    assert abs(flat.gain(10).value) < 0.02  # type: ignore[arg-type]
    few = learning_curve(
        LogisticRegression(),
        X[:300],
        y[:300],
        X[300:],
        y[300:],
        sizes=[100, 300],
        repeats=2,
        n_jobs=1,
    )
    assert few.fit.status == "too_few_sizes"
    assert few.extrapolate(2) == (None, None, None) and few.gain(10).value is None
    assert few.to_frame()["fitted"].isna().all()
    json.dumps(few.to_dict(), allow_nan=False)


def test_dataframe_input_with_the_default_model_and_string_labels() -> None:
    X, y = _data(400)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    labels = np.array(["a", "b", "c"])[y]
    kwargs: dict[str, Any] = {"sizes": [60, 120, 250], "repeats": 2, "n_boot": 50, "n_jobs": 1}
    first = learning_curve(None, frame[:250], labels[:250], frame[250:], labels[250:], **kwargs)
    again = learning_curve(None, frame[:250], labels[:250], frame[250:], labels[250:], **kwargs)
    assert first.summary["size"].tolist() == [60, 120, 250]
    assert first.summary["mean"].iloc[-1] > 0.6
    pd.testing.assert_frame_equal(first.points, again.points)  # same seed, same curve


# --------------------------------------------------------------------------- clean vs collect


def test_clean_vs_collect_finds_that_cleaning_planted_noise_helps() -> None:
    X, y = _data(1400, k=4, seed=2)
    rng = np.random.default_rng(0)
    noisy = y[:600].copy()
    flipped = rng.choice(600, size=120, replace=False)  # 20 % uniform noise
    noisy[flipped] = (noisy[flipped] + rng.integers(1, 4, size=120)) % 4
    result = clean_vs_collect(
        LogisticRegression(),
        X[:600],
        noisy,
        y[:600],
        X[600:],
        y[600:],
        repeats=3,
        n_boot=200,
        n_jobs=1,
    )
    assert isinstance(result, CleanVsCollect)
    assert result.n_changed == 120
    gain = result.gain_from_cleaning
    assert gain.value is not None and gain.value > 0 and gain.low is not None and gain.low > 0
    assert result.clean_value.value == pytest.approx(result.noisy_value.value + gain.value)
    assert result.gain_from_doubling.value is not None
    assert result.verdict in ("clean", "collect", "either")
    assert "Cleaning the 120 corrected labels gains +" in result.sentence
    assert set(result.curves["curve"]) == {"noisy", "clean"}
    assert list(result.curves.columns) == ["curve", "size", "mean", "low", "high", "fitted"]
    json.dumps(result.to_dict(), allow_nan=False)


# --------------------------------------------------------------------------- bad input


def test_bad_input_is_refused_with_clear_messages() -> None:
    X, y = _data(300)
    model = LogisticRegression()
    with pytest.raises(InvalidInputError, match="X_train has 200 rows but y_train has 199"):
        learning_curve(model, X[:200], y[:199], X[200:], y[200:])
    with pytest.raises(InvalidInputError, match="X_dev has 100 rows but y_dev has 50"):
        learning_curve(model, X[:200], y[:200], X[200:], y[200:250])
    with pytest.raises(InvalidInputError, match="dev set X_dev is empty"):
        learning_curve(model, X[:200], y[:200], X[:0], y[:0])
    with pytest.raises(InvalidInputError, match="y_train has a single class"):
        learning_curve(model, X[:200], np.zeros(200, dtype=int), X[200:], y[200:])
    with pytest.raises(InvalidInputError, match="y_clean has 199 labels"):
        clean_vs_collect(model, X[:200], y[:200], y[:199], X[200:], y[200:])
    with pytest.raises(InvalidInputError, match="unknown metric"):
        learning_curve(model, X[:200], y[:200], X[200:], y[200:], metric="auc")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="repeats must be an integer"):
        learning_curve(model, X[:200], y[:200], X[200:], y[200:], repeats=0)
    with pytest.raises(InvalidInputError, match="size 500 is not a training-set size"):
        learning_curve(model, X[:200], y[:200], X[200:], y[200:], sizes=[50, 500])
    with pytest.raises(InvalidInputError, match="groups_dev has 3 values"):
        learning_curve(model, X[:200], y[:200], X[200:], y[200:], groups_dev=["a", "b", "c"])
    with pytest.raises(InvalidInputError, match="no fit or no predict"):
        learning_curve(object(), X[:200], y[:200], X[200:], y[200:])
