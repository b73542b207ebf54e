"""Label issues: confident learning against the paper's formulas, planted flips, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcai.errors import InvalidInputError
from dcai.quality import (
    compute_confident_joint,
    estimate_label_noise,
    find_label_issues,
    label_quality_scores,
    neighbor_label_probs,
)
from dcai.quality._confident_learning import confident_joint_counts, prune_by_noise_rate
from dcai.quality._label_issues import LABEL_ISSUE_COLUMNS


def _blobs(n: int, k: int, seed: int, spread: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=4.0, size=(k, 5))
    y = rng.integers(0, k, n)
    X = centers[y] + rng.normal(scale=spread, size=(n, 5))
    return X, y


def _probs_from_distance(X: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Out-of-sample-like probabilities: a softmax over distances to leave-one-out class means."""
    n = len(labels)
    sums = np.zeros((k, X.shape[1]))
    np.add.at(sums, labels, X)
    counts = np.bincount(labels, minlength=k).astype(float)
    logits = np.empty((n, k))
    for c in range(k):
        # Leave the example itself out of its own class mean.
        own = labels == c
        mean_all = sums[c] / max(counts[c], 1)
        d = ((X - mean_all) ** 2).sum(axis=1)
        if counts[c] > 1:
            loo = (sums[c] - X[own]) / (counts[c] - 1)
            d[own] = ((X[own] - loo) ** 2).sum(axis=1)
        logits[:, c] = -0.5 * d
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    probs: np.ndarray = p / p.sum(axis=1, keepdims=True)
    return probs


def _plant(y: np.ndarray, k: int, rate: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    noisy = y.copy()
    idx = rng.choice(len(y), round(rate * len(y)), replace=False)
    noisy[idx] = (y[idx] + rng.integers(1, k, len(idx))) % k
    return noisy, noisy != y


# Confident learning against the paper ------------------------------------------------------


def _confident_joint_reference(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Eq. 1-3 of Northcutt et al. (2021), written as loops."""
    n, k = probs.shape
    t = np.array([probs[labels == j, j].mean() if (labels == j).any() else 2.0 for j in range(k)])
    C = np.zeros((k, k))
    for x in range(n):
        above = [j for j in range(k) if probs[x, j] >= t[j]]
        if above:
            j = max(above, key=lambda c: probs[x, c])
            C[labels[x], j] += 1
    counts = np.bincount(labels, minlength=k)
    for i in range(k):
        if C[i].sum() == 0:
            C[i, i] = counts[i]
        else:
            C[i] = C[i] / C[i].sum() * counts[i]
    return C


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(2, 5), n=st.integers(20, 120))
def test_confident_joint_matches_the_papers_definition(seed: int, k: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    probs = rng.dirichlet(np.ones(k), size=n)
    expected = _confident_joint_reference(labels, probs)
    np.testing.assert_allclose(confident_joint_counts(labels, probs), expected, atol=1e-9)
    # Calibrated: each row sums to its label count, the whole to n.
    np.testing.assert_allclose(expected.sum(axis=1), np.bincount(labels, minlength=k))


def test_prune_by_noise_rate_removes_the_largest_margins() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    probs = np.array(
        [
            [0.9, 0.1],
            [0.2, 0.8],
            [0.4, 0.6],
            [0.8, 0.2],
            [0.1, 0.9],
            [0.7, 0.3],
            [0.2, 0.8],
            [0.3, 0.7],
        ]
    )
    joint = np.array([[3.0, 1.0], [1.0, 3.0]])
    flagged = prune_by_noise_rate(labels, probs, joint)
    # Class 0: the largest p1 - p0 is row 1 (0.6); class 1: the largest p0 - p1 is row 5 (0.4).
    assert np.flatnonzero(flagged).tolist() == [1, 5]


def test_compute_confident_joint_is_a_labelled_frame() -> None:
    frame = compute_confident_joint(
        ["cat", "cat", "dog", "dog"], [[0.9, 0.1], [0.2, 0.8], [0.1, 0.9], [0.3, 0.7]]
    )
    assert list(frame.index) == ["cat", "dog"] and list(frame.columns) == ["cat", "dog"]
    assert frame.to_numpy().sum() == pytest.approx(4.0)


# Scores ---------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(2, 6))
def test_normalized_margin_is_the_textbook_formula(seed: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, 30)
    probs = rng.dirichlet(np.ones(k), size=30)
    scores = label_quality_scores(labels, probs, classes=np.arange(k))
    for i in range(30):
        others = np.delete(probs[i], labels[i])
        assert scores[i] == pytest.approx((probs[i, labels[i]] - others.max() + 1) / 2)
    assert ((scores >= 0) & (scores <= 1)).all()


def test_neighbor_probs_leave_the_example_out() -> None:
    X = np.array([[0.0], [10.0], [10.1], [10.2]])
    labels = np.array(["a", "b", "b", "b"])
    probs = neighbor_label_probs(labels, X, n_neighbors=1)
    # Row 0's only neighbour is a "b": its own "a" must not vote.
    assert probs[0].argmax() == 1
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


# Finding planted errors -----------------------------------------------------------------------


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 10_000), k=st.integers(2, 6), rate=st.sampled_from([0.05, 0.1, 0.2, 0.3])
)
def test_planted_flips_are_found_far_above_chance(seed: int, k: int, rate: float) -> None:
    X, y = _blobs(400, k, seed)
    noisy, truth = _plant(y, k, rate, seed + 1)
    probs = _probs_from_distance(X, noisy, k)
    flagged = find_label_issues(noisy, probs, features=X)["is_label_issue"].to_numpy()
    tp = (flagged & truth).sum()
    precision = tp / max(flagged.sum(), 1)
    recall = tp / truth.sum()
    # Chance precision is the noise rate; well-separated blobs make errors easy to see.
    assert precision > max(0.7, 3 * rate)
    assert recall > 0.7


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(2, 6))
def test_clean_labels_raise_few_flags(seed: int, k: int) -> None:
    X, y = _blobs(400, k, seed)
    probs = _probs_from_distance(X, y, k)
    flagged = find_label_issues(y, probs, features=X)["is_label_issue"].to_numpy()
    # Expected false positives: about the examples the evidence itself gets wrong.
    model_errors = (probs.argmax(axis=1) != y).sum()
    assert flagged.sum() <= max(model_errors, 0.02 * len(y))


def test_columns_order_and_string_labels() -> None:
    X, y = _blobs(200, 3, 1)
    noisy, truth = _plant(y, 3, 0.1, 2)
    names = np.array(["ant", "bee", "cow"])
    probs = _probs_from_distance(X, noisy, 3)
    frame = find_label_issues(names[noisy], probs, features=X)
    assert tuple(frame.columns) == LABEL_ISSUE_COLUMNS
    assert len(frame) == 200 and (frame.index == np.arange(200)).all()
    assert (frame["given_label"].to_numpy() == names[noisy]).all()
    flagged = frame[frame.is_label_issue]
    assert (flagged.suggested_label != flagged.given_label).all()
    # Suggestions for found errors restore the true class.
    found = frame.is_label_issue.to_numpy() & truth
    assert (frame.suggested_label.to_numpy()[found] == names[y][found]).mean() > 0.9
    noise = frame.attrs["label_noise"]
    assert noise["interval"][0] <= noise["n_issues"] <= noise["interval"][1]


def test_noise_estimate_agrees_with_the_flags() -> None:
    X, y = _blobs(300, 4, 3)
    noisy, truth = _plant(y, 4, 0.2, 4)
    probs = _probs_from_distance(X, noisy, 4)
    estimate = estimate_label_noise(noisy, probs, features=X)
    frame = find_label_issues(noisy, probs, features=X)
    assert frame.is_label_issue.sum() == round(estimate.n_issues)
    assert estimate.interval[0] <= truth.sum() <= estimate.interval[1] * 1.2
    assert estimate.joint.to_numpy().sum() == pytest.approx(1.0)
    off = 1 - np.trace(estimate.joint.to_numpy())
    assert off * len(noisy) == pytest.approx(estimate.n_issues, rel=1e-6)
    assert set(estimate.noise_rate.index) == {0, 1, 2, 3}
    assert len(estimate.confused_pairs()) > 0


def test_cutoffs_and_explicit_count() -> None:
    X, y = _blobs(300, 3, 5)
    noisy, _ = _plant(y, 3, 0.15, 6)
    probs = _probs_from_distance(X, noisy, 3)
    neq = find_label_issues(noisy, probs, cutoff="predicted_neq_given")
    assert neq.is_label_issue.sum() == (probs.argmax(axis=1) != noisy).sum()
    exact = find_label_issues(noisy, probs, n_issues=7)
    assert exact.is_label_issue.sum() == 7
    worst = exact.label_quality.nsmallest(7).index
    assert set(worst) == set(exact.index[exact.is_label_issue])


# Bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "probs", "match"),
    [
        ([0, 1, 2], [[0.5, 0.5]] * 3, "not among"),
        (["a", "b"], [[0.5, 0.6], [0.5, 0.5]], "do not sum to 1"),
        ([0, 1], [[np.nan, 1.0], [0.5, 0.5]], "NaN"),
        ([0, 0, 0], [[0.9, 0.1]] * 3, "same label"),
        ([[0, 1], [1, 0]], [[0.5, 0.5]] * 2, "multi-label"),
        (list(np.linspace(0, 1, 30) + 0.013), [[0.5, 0.5]] * 30, "regression"),
        ([0, 1], [0.5, 0.5], "2-D"),
        ([0, 1, 1], [[0.5, 0.5]] * 2, "rows but there are"),
        ([0, 1], [[1.5, -0.5], [0.5, 0.5]], "outside"),
        ([None, 1], [[0.5, 0.5]] * 2, "missing"),
    ],
)
def test_bad_input_is_refused_with_a_message(labels: object, probs: object, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        find_label_issues(labels, probs)


def test_bad_features_are_refused() -> None:
    probs = [[0.9, 0.1], [0.1, 0.9], [0.8, 0.2], [0.2, 0.8]]
    labels = [0, 1, 0, 1]
    with pytest.raises(InvalidInputError, match="NaN"):
        find_label_issues(labels, probs, features=[[1.0], [np.nan], [2.0], [3.0]])
    with pytest.raises(InvalidInputError, match="non-numeric"):
        find_label_issues(labels, probs, features=pd.DataFrame({"t": ["a", "b", "c", "d"]}))
    with pytest.raises(InvalidInputError, match="rows but there are"):
        find_label_issues(labels, probs, features=[[1.0], [2.0]])


def _peaked(n: int, k: int, rate: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dirichlet pred_probs peaked on the true class; ``rate`` of labels flipped uniformly."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, size=n)
    alpha = np.full((n, k), 0.4)
    alpha[np.arange(n), truth] = 4.0
    probs = rng.standard_gamma(alpha)
    probs /= probs.sum(axis=1, keepdims=True)
    labels = truth.copy()
    chosen = rng.choice(n, size=round(rate * n), replace=False)
    labels[chosen] = (truth[chosen] + rng.integers(1, k, size=len(chosen))) % k
    return labels, probs, labels != truth


@pytest.mark.parametrize("seed", [0, 1])
def test_pred_probs_only_count_is_close_to_the_true_number_of_flips(seed: int) -> None:
    labels, probs, flipped = _peaked(6000, 10, 0.10, seed)
    frame = find_label_issues(labels, probs)
    noise = frame.attrs["label_noise"]
    assert noise["method"] == "confident_posterior"
    assert abs(noise["n_issues"] - flipped.sum()) <= 0.2 * flipped.sum()
    flagged = frame["is_label_issue"].to_numpy()
    # The old minimax count flagged about 1.5x the flips here; now within 15 %.
    assert abs(int(flagged.sum()) - int(flipped.sum())) <= 0.15 * flipped.sum()
    hits = (flagged & flipped).sum()
    f1 = 2 * hits / (flagged.sum() + flipped.sum())
    disagree = probs.argmax(axis=1) != labels
    f1_disagree = 2 * (disagree & flipped).sum() / (disagree.sum() + flipped.sum())
    assert f1 > f1_disagree


def test_default_cutoff_depends_on_features() -> None:
    X, y = _blobs(300, 3, seed=3)
    noisy = y.copy()
    noisy[:15] = (y[:15] + 1) % 3
    probs = np.full((300, 3), 0.1)
    probs[np.arange(300), y] = 0.8
    without_x = find_label_issues(noisy, probs).attrs["label_noise"]
    assert without_x["method"] == "confident_posterior"
    with_x = find_label_issues(noisy, probs, features=X).attrs["label_noise"]
    assert with_x["method"] == "minimax"
    explicit = find_label_issues(noisy, probs, cutoff="minimax").attrs["label_noise"]
    assert explicit["method"] == "minimax"


def test_noise_posterior_follows_the_estimated_confusions() -> None:
    from dcai.quality._confident_learning import noise_posterior

    # Class 0 is often mislabelled 1, never 2: the same margin towards 1 is more suspect.
    joint = np.array([[50.0, 0.0, 0.0], [20.0, 80.0, 0.0], [0.0, 0.0, 100.0]])
    codes = np.array([1, 1])
    probs = np.array([[0.6, 0.4, 0.0], [0.0, 0.4, 0.6]])
    towards_0, towards_2 = noise_posterior(codes, probs, joint)
    assert towards_0 > towards_2
