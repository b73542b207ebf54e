"""Sampling examples for double labeling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcai.errors import InvalidInputError, SchemaError
from dcai.labels._sampling import sample_for_labeling


@pytest.fixture
def frame() -> pd.DataFrame:
    labels = ["a"] * 90 + ["b"] * 8 + ["c"] * 2
    return pd.DataFrame({"example_id": [f"x{i}" for i in range(100)], "label": labels})


def test_stratified_keeps_rare_classes_and_is_proportional_above_the_floor(
    frame: pd.DataFrame,
) -> None:
    sample = sample_for_labeling(frame, 30, min_per_class=3)
    counts = sample["label"].value_counts().to_dict()
    assert sum(counts.values()) == 30 and counts["c"] == 2 and counts["b"] >= 3
    assert counts["a"] > counts["b"]
    assert set(sample["selected_by"]) == {"stratified"}
    assert sample["example_id"].is_unique
    assert list(sample.columns) == ["example_id", "label", "selected_by"]
    pd.testing.assert_frame_equal(sample.drop(columns="selected_by"), frame.loc[sample.index])


def test_same_seed_same_sample_other_seed_other_sample(frame: pd.DataFrame) -> None:
    first = sample_for_labeling(frame, 20, random_state=1)
    pd.testing.assert_frame_equal(first, sample_for_labeling(frame, 20, random_state=1))
    assert set(first.index) != set(sample_for_labeling(frame, 20, random_state=2).index)


def test_fewer_picks_than_classes_take_one_each_from_distinct_classes(frame: pd.DataFrame) -> None:
    sample = sample_for_labeling(frame, 2)
    assert sample["label"].nunique() == 2


def test_missing_labels_form_their_own_stratum() -> None:
    frame = pd.DataFrame({"example_id": range(12), "label": ["a"] * 8 + [None] * 4})
    sample = sample_for_labeling(frame, 6, min_per_class=2)
    assert sample["label"].isna().sum() >= 2


def test_all_available_examples_can_be_taken(frame: pd.DataFrame) -> None:
    assert len(sample_for_labeling(frame, 100)) == 100


def test_score_strategies_take_the_lowest_and_a_random_share() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"example_id": range(200), "label": rng.choice(["a", "b"], 200)})
    quality = rng.random(200)
    sample = sample_for_labeling(frame, 20, strategy="label_issues", scores=quality)
    by = sample.groupby("selected_by").size().to_dict()
    assert by == {"lowest_score": 16, "random": 4}
    lowest = set(np.argsort(quality)[:16])
    assert set(sample.index[sample["selected_by"] == "lowest_score"]) == lowest
    assert not set(sample.index[sample["selected_by"] == "random"]) & lowest
    only_hard = sample_for_labeling(
        frame, 10, strategy="label_issues", scores=quality, random_share=0
    )
    assert set(only_hard.index) == set(np.argsort(quality)[:10])


def test_uncertainty_accepts_pred_probs_and_uses_the_margin() -> None:
    frame = pd.DataFrame({"example_id": range(4)})
    pred_probs = np.array([[0.9, 0.1, 0.0], [0.4, 0.35, 0.25], [0.5, 0.5, 0.0], [0.7, 0.2, 0.1]])
    sample = sample_for_labeling(
        frame, 2, strategy="uncertainty", scores=pred_probs, random_share=0
    )
    assert set(sample["example_id"]) == {1, 2}


def test_scores_as_a_series_align_on_the_index() -> None:
    frame = pd.DataFrame({"example_id": ["p", "q", "r"]}, index=[10, 20, 30])
    scores = pd.Series([0.9, 0.1, 0.5], index=[30, 20, 10])
    sample = sample_for_labeling(frame, 1, strategy="label_issues", scores=scores, random_share=0)
    assert sample["example_id"].tolist() == ["q"]


def test_exclude_leaves_out_ids_or_already_double_labeled_examples(frame: pd.DataFrame) -> None:
    sample = sample_for_labeling(frame, 99, exclude=["x0"])
    assert "x0" not in set(sample["example_id"])
    annotations = pd.DataFrame(
        {
            "example_id": ["x1", "x1", "x2", "x98", "x98", "x99"],
            "annotator": ["ana", "ben", "ana", "ana", "ben", "ana"],
        }
    )
    sample = sample_for_labeling(frame, 98, exclude=annotations)
    assert {"x1", "x98"}.isdisjoint(sample["example_id"]) and {"x2", "x99"} <= set(
        sample["example_id"]
    )
    ids_only = pd.DataFrame({"example_id": ["x1", "x2"]})
    assert {"x1", "x2"}.isdisjoint(sample_for_labeling(frame, 98, exclude=ids_only)["example_id"])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n": 0}, InvalidInputError, "n is 0"),
        ({"n": -3}, InvalidInputError, "n is -3"),
        ({"n": True}, InvalidInputError, "n is True"),
        ({"n": 101}, InvalidInputError, "n is 101 but only 100 example"),
        (
            {"n": 100, "exclude": ["x1"]},
            InvalidInputError,
            r"only 99 example\(s\) are available \(100 rows, 1 excluded\)",
        ),
        ({"n": 5, "strategy": "hardest"}, InvalidInputError, "unknown strategy 'hardest'"),
        ({"n": 5, "strategy": "uncertainty"}, InvalidInputError, "needs scores"),
        ({"n": 5, "scores": np.zeros(100)}, InvalidInputError, "does not use them"),
        (
            {"n": 5, "strategy": "label_issues", "scores": np.zeros(3)},
            InvalidInputError,
            "3 values for 100 rows",
        ),
        (
            {"n": 5, "strategy": "label_issues", "scores": np.r_[np.nan, np.zeros(99)]},
            InvalidInputError,
            r"missing or infinite.*row 1",
        ),
        (
            {"n": 5, "strategy": "label_issues", "scores": np.zeros((100, 2))},
            InvalidInputError,
            "shape",
        ),
        ({"n": 5, "label_column": "class"}, SchemaError, '"class"'),
        ({"n": 5, "random_share": 1.5}, InvalidInputError, "random_share"),
        ({"n": 5, "exclude": "x1"}, InvalidInputError, "exclude is a str"),
    ],
)
def test_bad_parameters_are_refused(
    frame: pd.DataFrame, kwargs: dict, error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        sample_for_labeling(frame, **kwargs)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=6),
    share=st.floats(0.01, 1.0),
    floor=st.integers(0, 6),
    seed=st.integers(0, 2**16),
)
def test_stratified_allocation_invariants(
    sizes: list[int], share: float, floor: int, seed: int
) -> None:
    labels = np.repeat(np.arange(len(sizes)), sizes)
    frame = pd.DataFrame({"example_id": np.arange(len(labels)), "label": labels})
    n = max(1, int(share * len(labels)))
    sample = sample_for_labeling(frame, n, min_per_class=floor, random_state=seed)
    assert len(sample) == n and sample.index.is_unique
    counts = sample["label"].value_counts()
    if n >= len(sizes):
        for cls, size in enumerate(sizes):
            assert counts.get(cls, 0) >= min(size, floor, n // len(sizes))
    pd.testing.assert_frame_equal(
        sample, sample_for_labeling(frame, n, min_per_class=floor, random_state=seed)
    )
