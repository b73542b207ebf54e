"""Dawid–Skene with two labelers: reliabilities are not identifiable, so consensus falls back.

With two labelers, every disagreement is explained equally well by either labeler being
right; EM then returns both labelers at the same accuracy and every disputed item at about
0.5. ``aggregate(method="dawid_skene")`` says so with a FallbackWarning and returns a
majority vote: disputed items are ties (confidence 0.5, ``is_tie``), broken by a model's
probabilities when ``tie_probs`` is given.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from dcai.errors import DcaiWarning, FallbackWarning, InvalidInputError
from dcai.labels import DawidSkene, aggregate


def _two_labelers(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A careful labeler (95% right) and a careless one (65% right), binary classes."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n)
    good = np.where(rng.random(n) < 0.95, truth, 1 - truth)
    bad = np.where(rng.random(n) < 0.65, truth, 1 - truth)
    ids = np.arange(n)
    ann = pd.DataFrame(
        {
            "example_id": np.r_[ids, ids],
            "annotator": ["good"] * n + ["bad"] * n,
            "label": np.r_[good, bad],
        }
    )
    return ann, truth


def test_dawid_skene_with_two_labelers_warns_and_falls_back_to_majority() -> None:
    ann, _ = _two_labelers()
    with pytest.warns(FallbackWarning, match="cannot tell which one is right"):
        result = aggregate(ann, method="dawid_skene")
    assert result.method == "majority"
    assert result.fallback is not None and "not identifiable" in result.fallback
    assert result.to_dict()["fallback"] == result.fallback
    labels = result.labels.set_index("example_id")
    wide = ann.pivot(index="example_id", columns="annotator", values="label")
    disputed = wide["good"] != wide["bad"]
    # Every disagreement is a flagged tie at confidence 0.5, never a made-up 0.501.
    assert labels.loc[disputed, "is_tie"].all()
    assert np.allclose(labels.loc[disputed, "confidence"], 0.5)
    assert not labels.loc[~disputed, "is_tie"].any()
    assert np.allclose(labels.loc[~disputed, "confidence"], 1.0)


def test_ties_go_to_the_models_most_probable_class_when_given() -> None:
    ann, truth = _two_labelers()
    probs = np.where(truth[:, None] == np.arange(2)[None, :], 0.8, 0.2)
    with pytest.warns(FallbackWarning, match="broken by the model"):
        result = aggregate(ann, method="dawid_skene", tie_probs=probs)
    labels = result.labels
    ties = labels["is_tie"].to_numpy()
    assert ties.any()
    assert (labels["label"].to_numpy()[ties] == truth[ties]).all()
    assert np.allclose(labels.loc[ties, "confidence"], 0.5)


def test_three_labelers_still_get_dawid_skene() -> None:
    ann, truth = _two_labelers()
    rng = np.random.default_rng(1)
    n = len(truth)
    third = np.where(rng.random(n) < 0.9, truth, 1 - truth)
    ann = pd.concat(
        [
            ann,
            pd.DataFrame({"example_id": np.arange(n), "annotator": "third", "label": third}),
        ],
        ignore_index=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", DcaiWarning)
        result = aggregate(ann, method="dawid_skene")
    assert result.method == "dawid_skene" and result.fallback is None
    accuracy = result.annotators.set_index("annotator")["accuracy"]
    # With three labelers the careless one is told apart.
    assert accuracy["good"] > accuracy["bad"] + 0.15


def test_the_estimator_itself_warns_with_two_labelers() -> None:
    ann, _ = _two_labelers(60)
    with pytest.warns(DcaiWarning, match="not identifiable"):
        DawidSkene().fit(ann)


def test_a_single_labeler_is_still_refused() -> None:
    ann = pd.DataFrame({"example_id": [1, 2], "annotator": ["a", "a"], "label": ["x", "y"]})
    with pytest.raises(InvalidInputError, match="a single labeler"):
        aggregate(ann, method="dawid_skene")


def test_tie_probs_is_not_for_model_assisted() -> None:
    ann, _ = _two_labelers(20)
    probs = np.full((20, 2), 0.5)
    with pytest.raises(InvalidInputError, match="tie_probs"):
        aggregate(ann, method="model_assisted", pred_probs=probs, tie_probs=probs)
