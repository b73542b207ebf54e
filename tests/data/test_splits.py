"""Split assignment: proportions, stratification, groups, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcai.data import assign_splits, balance_report, split_fractions
from dcai.errors import InvalidInputError

FRACTIONS = {"train": 0.7, "dev": 0.1, "test": 0.2}


@settings(max_examples=60, deadline=None)
@given(
    labels=st.lists(st.sampled_from("abcde"), min_size=1, max_size=300),
    seed=st.integers(0, 2**16),
)
def test_stratified_counts_are_within_one_of_target_per_class(labels: list[str], seed: int) -> None:
    labels_arr = np.array(labels)
    splits = assign_splits(labels_arr, fractions=FRACTIONS, random_state=seed)
    assert set(splits) <= set(FRACTIONS)
    for cls in set(labels):
        n = int((labels_arr == cls).sum())
        for name, share in FRACTIONS.items():
            got = int(((labels_arr == cls) & (splits == name)).sum())
            assert abs(got - share * n) < 1.0 + 1e-9


@settings(max_examples=60, deadline=None)
@given(
    groups=st.lists(st.integers(0, 40), min_size=1, max_size=300),
    seed=st.integers(0, 2**16),
)
def test_a_group_never_straddles_two_splits(groups: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.choice(["x", "y", "z"], size=len(groups))
    splits = assign_splits(labels, fractions=FRACTIONS, groups=groups, random_state=seed)
    frame = pd.DataFrame({"g": groups, "s": splits})
    assert (frame.groupby("g")["s"].nunique() == 1).all()


def test_group_split_sizes_are_close_to_targets_with_many_groups() -> None:
    rng = np.random.default_rng(1)
    groups = rng.integers(0, 500, size=5000)
    labels = rng.choice(["a", "b"], size=5000, p=[0.8, 0.2])
    splits = assign_splits(labels, fractions=FRACTIONS, groups=groups, random_state=0)
    for name, share in FRACTIONS.items():
        assert abs((splits == name).mean() - share) < 0.02
        # stratification still holds approximately inside each split
        assert abs((labels[splits == name] == "b").mean() - 0.2) < 0.05


def test_same_seed_same_split_and_different_seed_differs() -> None:
    labels = np.repeat(["a", "b"], 100)
    first = assign_splits(labels, fractions=FRACTIONS, random_state=3)
    again = assign_splits(labels, fractions=FRACTIONS, random_state=3)
    other = assign_splits(labels, fractions=FRACTIONS, random_state=4)
    assert (first == again).all()
    assert (first != other).any()


def test_zero_dev_fraction_leaves_dev_empty() -> None:
    splits = assign_splits(np.zeros(50), fractions=split_fractions(0.0, 0.2), random_state=0)
    assert "dev" not in set(splits)
    assert (splits == "test").sum() == 10


@pytest.mark.parametrize(("dev", "test"), [(-0.1, 0.2), (0.5, 0.5), (0.2, 1.0), (0.6, 0.5)])
def test_bad_fractions_are_refused(dev: float, test: float) -> None:
    with pytest.raises(InvalidInputError, match=r"--dev|--test"):
        split_fractions(dev, test)


def test_balance_report_counts_and_warns_about_thin_classes() -> None:
    labels = ["a"] * 50 + ["b"] * 3
    splits = ["train"] * 35 + ["dev"] * 5 + ["test"] * 10 + ["train", "train", "test"]
    report = balance_report(labels, splits)
    assert report.counts.loc["a", "train"] == 35
    assert report.counts.loc["b", "dev"] == 0
    assert report.sizes == {"train": 37, "dev": 5, "test": 11}
    assert abs(report.shares["test"].sum() - 1.0) < 1e-12
    assert any("'b' has 0 examples in dev" in w for w in report.warnings)
    assert not any("'a'" in w for w in report.warnings)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=1, max_size=30),
    seed=st.integers(0, 2**16),
)
def test_split_sizes_stay_within_one_of_target_with_many_small_classes(
    sizes: list[int], seed: int
) -> None:
    labels = np.repeat(np.arange(len(sizes)), sizes)
    splits = assign_splits(labels, fractions=FRACTIONS, random_state=seed)
    for name, share in FRACTIONS.items():
        assert abs(int((splits == name).sum()) - share * len(labels)) < 1.0 + 1e-9
