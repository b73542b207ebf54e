"""Consensus labels: majority vote, Dawid–Skene and model-assisted, on simulated labelers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dcai.errors import InvalidInputError
from dcai.labels._consensus import ConsensusResult, aggregate, majority_vote
from dcai.labels._dawid_skene import DawidSkene


def simulate_crowd(
    confusions: np.ndarray,
    n_items: int,
    *,
    per_item: tuple[int, int],
    seed: int,
    priors: np.ndarray | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Labels from annotators with known confusion matrices ``(M, K, K)``: each item gets a
    random number of labels in ``per_item`` from distinct random annotators."""
    rng = np.random.default_rng(seed)
    m, k, _ = confusions.shape
    truth = rng.choice(k, size=n_items, p=priors)
    rows = []
    for i in range(n_items):
        count = rng.integers(per_item[0], per_item[1] + 1)
        for a in rng.choice(m, size=count, replace=False):
            rows.append((i, f"a{a}", int(rng.choice(k, p=confusions[a, truth[i]]))))
    frame = pd.DataFrame(rows, columns=["example_id", "annotator", "label"])
    return frame, truth


def symmetric(k: int, accuracy: float) -> np.ndarray:
    matrix = np.full((k, k), (1 - accuracy) / (k - 1))
    np.fill_diagonal(matrix, accuracy)
    return matrix


def model_probs(truth: np.ndarray, k: int, *, accuracy: float, seed: int) -> np.ndarray:
    """Out-of-sample-like probabilities: right with probability ``accuracy``, else a random
    other class, with confidence drawn around the accuracy (roughly calibrated)."""
    rng = np.random.default_rng(seed)
    n = len(truth)
    right = rng.random(n) < accuracy
    predicted = np.where(right, truth, (truth + rng.integers(1, k, size=n)) % k)
    top = np.clip(rng.normal(accuracy, 0.1, size=n), 1.0 / k + 0.01, 0.99)
    probs = np.tile(((1 - top) / (k - 1))[:, None], (1, k))
    probs[np.arange(n), predicted] = top
    return probs


def accuracy_of(labels: pd.DataFrame, truth: np.ndarray) -> float:
    return float((labels["label"].to_numpy() == truth[labels["example_id"].to_numpy()]).mean())


# Majority vote ---------------------------------------------------------------------------


def test_majority_vote_counts_and_tie_rule() -> None:
    ann = pd.DataFrame(
        {
            "example_id": ["e1", "e1", "e1", "e2", "e2", "e3", "e4", "e4"],
            "annotator": ["a", "b", "c", "a", "b", "a", "a", "b"],
            "label": ["dog", "cat", "dog", "bird", "dog", "cat", "bird", "cat"],
        }
    )
    out = majority_vote(ann)
    assert list(out.columns) == ["example_id", "label", "confidence", "n_labels", "is_tie"]
    assert out["example_id"].tolist() == ["e1", "e2", "e3", "e4"]
    # Overall: dog 3, cat 3, bird 2. e2 ties bird/dog -> dog (more frequent overall);
    # e4 ties bird/cat -> cat (more frequent overall).
    assert out["label"].tolist() == ["dog", "dog", "cat", "cat"]
    assert out["is_tie"].tolist() == [False, True, False, True]
    assert out["confidence"].tolist() == pytest.approx([2 / 3, 0.5, 1.0, 0.5])
    assert out["n_labels"].tolist() == [3, 2, 1, 2]
    # Among classes equally frequent overall (dog and cat: 3 each), class order decides.
    tie = pd.DataFrame({"example_id": [9, 9], "annotator": ["a", "b"], "label": ["dog", "cat"]})
    both = pd.concat([ann, tie.astype({"example_id": str})], ignore_index=True)
    assert majority_vote(both).set_index("example_id").loc["9", "label"] == "cat"
    by_order = majority_vote(ann, tie_break="class_order")
    assert by_order["label"].tolist() == ["dog", "bird", "cat", "bird"]
    custom = majority_vote(ann, classes=["dog", "cat", "bird"], tie_break="class_order")
    assert custom["label"].tolist() == ["dog", "dog", "cat", "cat"]


def test_majority_vote_is_deterministic_under_row_order() -> None:
    confusions = np.stack([symmetric(4, 0.6)] * 4)
    ann, _ = simulate_crowd(confusions, 200, per_item=(1, 4), seed=1)
    shuffled = ann.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(majority_vote(ann), majority_vote(shuffled))


# Dawid–Skene ----------------------------------------------------------------------------


def _reference_dawid_skene(ann: pd.DataFrame, k: int, n_iter: int) -> np.ndarray:
    """The textbook EM written with loops (no smoothing), for comparison."""
    items = sorted(ann["example_id"].unique())
    workers = sorted(ann["annotator"].unique())
    item_of = {v: i for i, v in enumerate(items)}
    worker_of = {v: i for i, v in enumerate(workers)}
    triples = [
        (item_of[e], worker_of[w], int(c))
        for e, w, c in ann[["example_id", "annotator", "label"]].itertuples(index=False)
    ]
    t = np.zeros((len(items), k))
    for i, _, c in triples:
        t[i, c] += 1
    t /= t.sum(axis=1, keepdims=True)
    for _ in range(n_iter):
        counts = np.zeros((len(workers), k, k))
        for i, a, c in triples:
            counts[a, :, c] += t[i]
        rows = counts.sum(axis=2, keepdims=True)
        pi = np.where(rows > 0, counts / np.where(rows > 0, rows, 1), 1.0 / k)
        rho = t.mean(axis=0)
        log_t = np.tile(np.log(np.maximum(rho, 1e-300)), (len(items), 1))
        for i, a, c in triples:
            log_t[i] += np.log(np.maximum(pi[a, :, c], 1e-300))
        log_t -= log_t.max(axis=1, keepdims=True)
        t = np.exp(log_t)
        t /= t.sum(axis=1, keepdims=True)
    return t


def test_dawid_skene_without_smoothing_matches_the_textbook_loop() -> None:
    confusions = np.stack([symmetric(3, acc) for acc in (0.9, 0.7, 0.6, 0.5)])
    ann, _ = simulate_crowd(confusions, 150, per_item=(1, 4), seed=2)
    ds = DawidSkene(max_iter=7, tol=0.0, smoothing=0).fit(ann)
    assert ds.n_iter_ == 7
    expected = _reference_dawid_skene(ann, 3, 7)
    np.testing.assert_allclose(ds.probs_.to_numpy(), expected, atol=1e-9)


def test_dawid_skene_recovers_confusion_matrices() -> None:
    k = 3
    confusions = np.stack(
        [
            symmetric(k, 0.9),
            symmetric(k, 0.75),
            symmetric(k, 0.6),
            # confuses class 0 with class 1, right on class 2
            np.array([[0.4, 0.6, 0.0], [0.1, 0.9, 0.0], [0.0, 0.05, 0.95]]),
            symmetric(k, 0.8),
        ]
    )
    ann, truth = simulate_crowd(confusions, 3000, per_item=(3, 5), seed=3)
    ds = DawidSkene().fit(ann)
    assert ds.converged_
    for a in range(len(confusions)):
        estimated = ds.confusion_[f"a{a}"].to_numpy()
        np.testing.assert_allclose(estimated.sum(axis=1), 1.0)
        assert np.abs(estimated - confusions[a]).max() < 0.05, a
    priors = np.bincount(truth, minlength=k) / len(truth)
    assert np.abs(ds.priors_.to_numpy() - priors).max() < 0.03
    expected_accuracy = np.array([priors @ np.diag(c) for c in confusions])
    assert np.abs(ds.accuracy_.to_numpy() - expected_accuracy).max() < 0.04


def test_dawid_skene_beats_majority_when_one_labeler_is_bad() -> None:
    k = 4
    bad = np.full((k, k), 0.0)
    bad[np.arange(k), (np.arange(k) + 1) % k] = 0.7  # mostly answers the next class
    bad[np.arange(k), np.arange(k)] = 0.3
    confusions = np.stack([symmetric(k, 0.85), symmetric(k, 0.7), bad])
    ann, truth = simulate_crowd(confusions, 1500, per_item=(3, 3), seed=4)
    majority = accuracy_of(majority_vote(ann), truth)
    ds = DawidSkene().fit(ann)
    assert accuracy_of(ds.labels_, truth) > majority + 0.05
    assert ds.accuracy_.idxmin() == "a2"


def test_dawid_skene_fitted_attributes() -> None:
    confusions = np.stack([symmetric(3, 0.8)] * 3)
    ann, _ = simulate_crowd(confusions, 50, per_item=(1, 3), seed=5)
    ds = DawidSkene()
    assert "smoothing='auto'" in repr(ds)
    assert ds.fit(ann) is ds
    assert ds.classes_.tolist() == [0, 1, 2]
    assert ds.probs_.shape == (50, 3)
    np.testing.assert_allclose(ds.probs_.sum(axis=1), 1.0)
    assert ds.labels_["confidence"].to_numpy() == pytest.approx(ds.probs_.max(axis=1).to_numpy())
    assert ds.priors_.sum() == pytest.approx(1.0)
    assert sorted(ds.confusion_) == ["a0", "a1", "a2"]
    assert ds.log_likelihood_ <= 0
    assert len(ds.log_likelihood_history_) == ds.n_iter_
    assert ds.model_weight_ is None


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    k=st.integers(2, 6),
    n_items=st.integers(1, 60),
    smoothing=st.sampled_from([0.0, 0.5, "auto", 10.0]),
)
def test_dawid_skene_never_lowers_the_penalised_log_likelihood(
    seed: int, k: int, n_items: int, smoothing: float | str
) -> None:
    rng = np.random.default_rng(seed)
    confusions = rng.dirichlet(np.ones(k), size=(4, k))
    ann, _ = simulate_crowd(confusions, n_items, per_item=(1, 4), seed=seed)
    assume((ann.groupby("example_id").size() >= 2).any())  # else Dawid–Skene refuses
    ds = DawidSkene(max_iter=30, tol=0.0, smoothing=smoothing).fit(ann)  # type: ignore[arg-type]
    history = ds.log_likelihood_history_
    assert np.isfinite(history).all()
    assert (np.diff(history) >= -1e-8 * np.maximum(1.0, np.abs(history[1:]))).all()


# Model-assisted ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sparse_crowd() -> tuple[pd.DataFrame, np.ndarray]:
    """Few labels per item (1–2) from labelers of mixed skill, one confusing two classes."""
    k = 5
    confusing = symmetric(k, 0.75)
    confusing[0] = 0.0
    confusing[0, 0], confusing[0, 1] = 0.3, 0.7
    confusions = np.stack(
        [symmetric(k, 0.8), symmetric(k, 0.7), symmetric(k, 0.6), confusing, symmetric(k, 0.5)]
    )
    return simulate_crowd(confusions, 1500, per_item=(1, 2), seed=6)


def test_model_assisted_beats_majority_and_dawid_skene(
    sparse_crowd: tuple[pd.DataFrame, np.ndarray],
) -> None:
    ann, truth = sparse_crowd
    probs = model_probs(truth, 5, accuracy=0.8, seed=7)
    majority = accuracy_of(aggregate(ann).labels, truth)
    ds = accuracy_of(aggregate(ann, method="dawid_skene").labels, truth)
    assisted = aggregate(ann, method="model_assisted", pred_probs=probs)
    assert isinstance(assisted, ConsensusResult)
    accuracy = accuracy_of(assisted.labels, truth)
    assert accuracy > max(majority, ds) + 0.05
    assert accuracy > 0.8  # better than the model alone too
    assert assisted.model_weight is not None and 0.3 < assisted.model_weight < 4.0


def test_model_assisted_is_not_much_worse_with_a_useless_model(
    sparse_crowd: tuple[pd.DataFrame, np.ndarray],
) -> None:
    ann, truth = sparse_crowd
    rng = np.random.default_rng(8)
    # Confident and random: the worst kind of model.
    noise = rng.dirichlet(np.full(5, 0.2), size=len(truth))
    ds = accuracy_of(aggregate(ann, method="dawid_skene").labels, truth)
    assisted = aggregate(ann, method="model_assisted", pred_probs=noise)
    assert accuracy_of(assisted.labels, truth) > ds - 0.02
    assert assisted.model_weight is not None and assisted.model_weight < 0.2


def test_pred_probs_as_frame_or_array_agree(sparse_crowd: tuple[pd.DataFrame, np.ndarray]) -> None:
    ann, truth = sparse_crowd
    probs = model_probs(truth, 5, accuracy=0.8, seed=9)
    frame = pd.DataFrame(probs, columns=[str(c) for c in range(5)])
    frame.insert(0, "example_id", np.arange(len(truth)))
    # shuffled rows, reversed columns, an extra unannotated example: all fine
    extra = pd.DataFrame([[10_000, 0.2, 0.2, 0.2, 0.2, 0.2]], columns=frame.columns)
    frame = pd.concat([frame, extra]).sample(frac=1.0, random_state=0)
    frame = frame[["example_id", *reversed([str(c) for c in range(5)])]]
    from_array = aggregate(ann, method="model_assisted", pred_probs=probs)
    from_frame = aggregate(ann, method="model_assisted", pred_probs=frame)
    pd.testing.assert_frame_equal(from_array.labels, from_frame.labels)


# The result ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["majority", "dawid_skene"])
def test_aggregate_result_has_the_same_shape_for_every_method(method: str) -> None:
    # Three labelers: with two, Dawid–Skene falls back to majority (test_consensus_two_labelers).
    confusions = np.stack([symmetric(3, 0.8), symmetric(3, 0.6), symmetric(3, 0.7)])
    ann, _ = simulate_crowd(confusions, 40, per_item=(1, 2), seed=10)
    ann["label"] = ann["label"].map({0: "x", 1: "y", 2: "z"})
    result = aggregate(ann, method=method)  # type: ignore[arg-type]
    assert result.method == method
    assert list(result.labels.columns) == [
        "example_id",
        "label",
        "confidence",
        "n_labels",
        "is_tie",
    ]
    assert list(result.annotators.columns) == ["annotator", "n_labels", "accuracy"]
    assert result.annotators["n_labels"].sum() == len(ann)
    assert set(result.confusion) == {"a0", "a1", "a2"}
    assert result.confusion["a0"].index.tolist() == ["x", "y", "z"]
    assert list(result.probs.columns) == ["x", "y", "z"]
    json.dumps(result.to_dict())


def test_majority_annotator_accuracy_is_agreement_with_the_consensus() -> None:
    ann = pd.DataFrame(
        {
            "example_id": [1, 1, 1, 2, 2, 2],
            "annotator": ["a", "b", "c", "a", "b", "c"],
            "label": ["x", "x", "y", "y", "y", "y"],
        }
    )
    result = aggregate(ann)
    assert result.annotators.set_index("annotator")["accuracy"].to_dict() == {
        "a": 1.0,
        "b": 1.0,
        "c": 0.5,
    }
    c = result.confusion["c"]
    assert c.loc["x", "y"] == 1.0 and c.loc["y", "y"] == 1.0


def test_single_label_examples_are_allowed() -> None:
    ann = pd.DataFrame(
        {
            "example_id": [1, 2, 3, 3],
            "annotator": ["a", "a", "a", "b"],
            "label": ["x", "y", "x", "x"],
        }
    )
    for method in ("majority", "dawid_skene"):
        labels = aggregate(ann, method=method).labels  # type: ignore[arg-type]
        assert labels["label"].tolist() == ["x", "y", "x"]


@pytest.mark.parametrize(
    ("annotators", "who"),
    [(["a", "a"], "a single labeler"), (["a", "b"], "labelers who share no example")],
)
def test_dawid_skene_refuses_labels_without_overlap(annotators: list[str], who: str) -> None:
    ann = pd.DataFrame({"example_id": [1, 2], "annotator": annotators, "label": ["x", "y"]})
    with pytest.raises(InvalidInputError, match=f"two or more labelers.*{who}"):
        aggregate(ann, method="dawid_skene")
    probs = np.array([[0.8, 0.2], [0.3, 0.7]])
    assisted = aggregate(ann, method="model_assisted", pred_probs=probs)
    assert assisted.labels["label"].tolist() == ["x", "y"]


# Bad input -----------------------------------------------------------------------------


GOOD = pd.DataFrame(
    {"example_id": [1, 1, 2], "annotator": ["a", "b", "a"], "label": ["x", "y", "x"]}
)


@pytest.mark.parametrize(
    ("annotations", "kwargs", "match"),
    [
        (GOOD.drop(columns="annotator"), {}, "no column 'annotator'"),
        (GOOD.iloc[:0], {}, "empty"),
        (GOOD.assign(label=["x", None, "x"]), {}, r"empty value.*row 2"),
        (
            pd.DataFrame({"example_id": [1, 1], "annotator": ["a", "a"], "label": ["x", "y"]}),
            {},
            r"more than once.*rows 1, 2",
        ),
        (GOOD, {"classes": ["x"]}, r"not among the 1 classes \('y'\).*row 2"),
        (GOOD, {"classes": ["x", "x", "y"]}, "repeated"),
        ([1, 2, 3], {}, "must be a DataFrame"),
        (GOOD, {"method": "vote"}, "method must be one of"),
        (GOOD, {"method": "model_assisted"}, "needs pred_probs"),
        (GOOD, {"pred_probs": [[0.5, 0.5], [0.5, 0.5]]}, "only by method='model_assisted'"),
        (GOOD, {"tie_break": "random"}, "tie_break must be"),
        (GOOD, {"method": "dawid_skene", "max_iter": 0}, "max_iter must be"),
        (GOOD, {"method": "dawid_skene", "smoothing": -1}, "smoothing must be"),
        (GOOD, {"method": "dawid_skene", "tol": float("nan")}, "tol must be"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(
    annotations: object, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        aggregate(annotations, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("pred_probs", "match"),
    [
        (np.full((3, 2), 0.5), "3 rows but the annotations cover 2 examples"),
        (np.full((2, 3), 1 / 3), "3 columns but there are 2 classes"),
        (np.array([[0.5, 0.5], [np.nan, 0.5]]), r"NaN.*row 2"),
        (np.array([[0.5, 0.6], [0.5, 0.5]]), "do not sum to 1"),
        (pd.DataFrame({"example_id": [1], "x": [0.5], "y": [0.5]}), r"no row for 1 .*\(2\)"),
        (pd.DataFrame({"x": [0.5, 0.5], "y": [0.5, 0.5]}), "no example_id column"),
        (pd.DataFrame({"example_id": [1, 2], "x": [1.0, 1.0]}), r"no column for class\(es\) 'y'"),
        (
            pd.DataFrame({"example_id": [1, 2], "x": [0.5, 0.5], "y": [0.5, 0.5], "z": [0, 0]}),
            "not classes",
        ),
        (
            pd.DataFrame({"example_id": [1, 1], "x": [0.5, 0.5], "y": [0.5, 0.5]}),
            r"repeated example ids.*rows 1, 2",
        ),
    ],
)
def test_bad_pred_probs_are_refused(pred_probs: object, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        aggregate(GOOD, method="model_assisted", pred_probs=pred_probs)


def test_dawid_skene_refuses_an_unknown_init() -> None:
    with pytest.raises(InvalidInputError, match="init must be 'majority'"):
        DawidSkene(init="random").fit(GOOD)  # type: ignore[arg-type]


def test_public_names_and_a_light_import() -> None:
    import subprocess
    import sys

    import dcai.labels

    for name in (
        "ConsensusResult",
        "DawidSkene",
        "HLPReport",
        "aggregate",
        "human_level_performance",
        "majority_vote",
    ):
        assert name in dcai.labels.__all__
        assert getattr(dcai.labels, name) is not None
    code = "import sys, dcai.labels; print('sklearn' in sys.modules, 'crowdkit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
