"""find_duplicates: planted copies, exact copies, hashes, label conflicts, group invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.datasets import load_digits

from dcai.errors import InvalidInputError
from dcai.quality import find_duplicates, nearest_neighbors
from dcai.quality._duplicates import NEAR_DUPLICATE_RATIO

COLUMNS = [
    "duplicate_group",
    "duplicate_score",
    "is_duplicate_issue",
    "is_exact_duplicate",
    "nearest_duplicate",
    "is_label_conflict_issue",
]


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    bunch = load_digits()
    return bunch.data, bunch.target


def test_ordinary_neighbours_in_digits_are_not_duplicates(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = digits
    result = find_duplicates(X, labels=y)
    assert list(result.columns) == COLUMNS
    assert (result["duplicate_group"] == -1).all()
    assert not result[["is_duplicate_issue", "is_label_conflict_issue"]].any().any()
    assert (result["nearest_duplicate"] == -1).all()
    assert result["duplicate_score"].between(0, 1).all()
    assert result["duplicate_score"].median() == pytest.approx(0.5, abs=0.01)


def test_planted_near_copies_are_found(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    rng = np.random.default_rng(3)
    sources = rng.choice(len(X), size=60, replace=False)
    jitter = rng.normal(size=(60, X.shape[1])) * X.std(axis=0) * 0.01
    copies = X[sources] + jitter
    labels = np.r_[y, y[sources]]
    labels[len(X) : len(X) + 10] = (labels[len(X) : len(X) + 10] + 1) % 10  # 10 relabelled
    result = find_duplicates(np.vstack([X, copies]), labels=labels)
    group = result["duplicate_group"].to_numpy()
    copy_rows = np.arange(len(X), len(X) + 60)
    assert (group[sources] >= 0).all() and (group[sources] == group[copy_rows]).all()
    assert (group >= 0).sum() == 120  # nothing else grouped
    assert result["is_duplicate_issue"].sum() == 60
    assert result.loc[copy_rows, "is_duplicate_issue"].all()  # the source comes first
    np.testing.assert_array_equal(result.loc[copy_rows, "nearest_duplicate"], sources)
    assert not result["is_exact_duplicate"].any()
    conflict = result["is_label_conflict_issue"].to_numpy()
    assert conflict.sum() == 20
    assert conflict[copy_rows[:10]].all() and conflict[sources[:10]].all()


def test_exact_duplicates_and_representatives(rng: np.random.Generator) -> None:
    X = rng.normal(size=(50, 3))
    X[[7, 30, 44]] = X[2]
    X[40] = X[9]
    # -0.0 and 0.0 are the same value (rows that are all zero never pair: see
    # tests/quality/test_text_duplicates.py, so the copies keep one non-zero value)
    X[12] = [-0.0, 0.0, 1.5]
    X[13] = [0.0, -0.0, 1.5]
    result = find_duplicates(X, threshold=0)
    group = result["duplicate_group"].to_numpy()
    assert group[[2, 7, 30, 44]].tolist() == [0] * 4
    assert group[[9, 40]].tolist() == [1, 1]
    assert group[[12, 13]].tolist() == [2, 2]
    assert (group >= 0).sum() == 8
    assert result["is_exact_duplicate"].sum() == 8
    assert np.flatnonzero(result["is_duplicate_issue"]).tolist() == [7, 13, 30, 40, 44]
    assert (result.loc[result["is_exact_duplicate"], "duplicate_score"] == 0).all()
    assert result.loc[2, "nearest_duplicate"] in (7, 30, 44)
    assert result.loc[40, "nearest_duplicate"] == 9


def test_more_copies_than_neighbours_form_one_group(rng: np.random.Generator) -> None:
    X = rng.normal(size=(100, 4))
    X[50:80] = X[49]  # 31 copies, k = 10
    result = find_duplicates(X)
    assert result.loc[49:79, "duplicate_group"].eq(0).all()
    assert result["is_duplicate_issue"].sum() == 30
    assert not result.loc[49, "is_duplicate_issue"]


def test_row_hashes_define_exact_duplicates(rng: np.random.Generator) -> None:
    X = rng.normal(size=(40, 3))
    hashes = [f"h{i}" for i in range(40)]
    hashes[25] = hashes[3]  # same content, different features (e.g. two embeddings runs)
    X[30] = X[31]  # same features, different hashes: still a (near) duplicate at distance 0
    result = find_duplicates(X, row_hashes=hashes, threshold=0)
    assert result.loc[[3, 25], "is_exact_duplicate"].all()
    assert not result.loc[[30, 31], "is_exact_duplicate"].any()
    assert result.loc[3, "duplicate_group"] == result.loc[25, "duplicate_group"] >= 0
    assert result.loc[30, "duplicate_group"] == result.loc[31, "duplicate_group"] >= 0
    assert result.loc[25, "nearest_duplicate"] == 3 and result.loc[3, "nearest_duplicate"] == 25
    assert result.loc[[3, 25], "duplicate_score"].eq(0).all()


def test_threshold_scales_with_the_data(rng: np.random.Generator) -> None:
    X = rng.normal(size=(300, 5))
    X[1] = X[0] + 1e-3
    small = find_duplicates(X)
    big = find_duplicates(X * 1000.0)
    pd.testing.assert_frame_equal(small, big, check_exact=False, rtol=1e-4)
    assert small.attrs["distance_threshold"] * 1000 == pytest.approx(
        big.attrs["distance_threshold"], rel=1e-4
    )
    d, _ = nearest_neighbors(X, k=1)
    assert small.attrs["distance_threshold"] == pytest.approx(
        NEAR_DUPLICATE_RATIO * np.median(d[:, 0]), rel=1e-5
    )
    # A larger threshold groups more; the score does not depend on the threshold.
    loose = find_duplicates(X, threshold=0.8)
    assert (loose["duplicate_group"] >= 0).sum() > (small["duplicate_group"] >= 0).sum()
    np.testing.assert_allclose(loose["duplicate_score"], small["duplicate_score"])


def test_precomputed_knn_and_dataframe_index(rng: np.random.Generator) -> None:
    X = rng.normal(size=(60, 3))
    X[5] = X[4]
    frame = pd.DataFrame(X, index=[f"r{i}" for i in range(60)])
    result = find_duplicates(frame, knn=nearest_neighbors(X, k=4))
    assert result.index.tolist() == frame.index.tolist()
    assert result.loc["r5", "nearest_duplicate"] == 4  # positions, not index labels
    cosine = find_duplicates(X, knn=nearest_neighbors(X, k=4, metric="cosine"))
    assert cosine.loc[5, "duplicate_group"] >= 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"threshold": -0.1}, "threshold"),
        ({"threshold": "big"}, "threshold"),
        ({"labels": [0, 1, 2]}, "labels has 3"),
        ({"labels": [0, None, 1, 1, 1, 1]}, "missing"),
        ({"row_hashes": ["a"] * 5}, "row_hashes has 5"),
        ({"row_hashes": ["a", None, "b", "c", "d", "e"]}, "missing"),
        ({"knn": (np.zeros((6, 1)), np.zeros((6, 1), dtype=int))}, "invalid"),
    ],
)
def test_bad_input(kwargs: dict[str, object], match: str) -> None:
    X = np.arange(12.0).reshape(6, 2)
    with pytest.raises(InvalidInputError, match=match):
        find_duplicates(X, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("features", "match"),
    [
        ([[1.0, np.nan], [2.0, 3.0]], "NaN"),
        ([["a"], ["b"]], "not numbers"),
        ([[1.0]], "at least 2"),
    ],
)
def test_bad_features(features: object, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        find_duplicates(features)


def _partition(groups: np.ndarray) -> set[frozenset[int]]:
    return {frozenset(np.flatnonzero(groups == g).tolist()) for g in np.unique(groups[groups >= 0])}


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(4, 60),
    dims=st.integers(1, 5),
    copy_share=st.floats(0, 1 / 3),
    exact_share=st.floats(0, 1),
)
def test_groups_are_an_equivalence_relation(
    seed: int, n: int, dims: int, copy_share: float, exact_share: float
) -> None:
    # Copies of at most a third of the rows: the median nearest-neighbour distance (the
    # threshold's unit) must be that of ordinary rows, as documented.
    rng = np.random.default_rng(seed)
    n_copies = int(copy_share * n)
    base = rng.normal(size=(n, dims))
    sources = rng.integers(0, n, size=n_copies)
    copies = base[sources] + rng.normal(size=(n_copies, dims)) * 1e-6
    exact = rng.random(n_copies) < exact_share
    copies[exact] = base[sources[exact]]
    X = np.vstack([base, copies])
    result = find_duplicates(X)
    group = result["duplicate_group"].to_numpy()
    nearest = result["nearest_duplicate"].to_numpy()
    members = group >= 0

    # Every planted copy shares its source's group (reflexive closure of the planting).
    assert (group[n + np.arange(n_copies)] == group[sources]).all()
    assert (group[sources] >= 0).all()
    # nearest_duplicate links i to j only inside i's group, never to itself ...
    assert ((nearest >= 0) == members).all()
    assert (group[nearest[members]] == group[members]).all()
    assert (nearest[members] != np.flatnonzero(members)).all()
    # Same group <=> linked by a chain of pairs within the distance cut or with equal
    # features: the reflexive, symmetric and transitive closure, computed by brute force.
    full = np.sqrt(((X[:, None] - X[None]) ** 2).sum(axis=2))
    np.fill_diagonal(full, np.inf)
    linked = (full <= result.attrs["distance_threshold"]) | (full == 0)
    _, component = connected_components(coo_matrix(linked), directed=False)
    sizes = np.bincount(component)[component]
    assert _partition(np.where(sizes > 1, component, -1)) == _partition(group)
    # Each nearest_duplicate link lies inside one such class.
    rows = np.flatnonzero(members)
    assert (component[nearest[rows]] == component[rows]).all()
    # Groups are numbered in order of their first member, and each keeps one representative.
    firsts = [np.flatnonzero(group == g)[0] for g in range(group.max() + 1)]
    assert firsts == sorted(firsts)
    assert (~result["is_duplicate_issue"][members]).sum() == group.max() + 1
    # The partition does not depend on the order of the rows.
    order = rng.permutation(len(X))
    shuffled = find_duplicates(X[order])["duplicate_group"].to_numpy()
    back = np.empty_like(shuffled)
    back[order] = shuffled
    assert _partition(back) == _partition(group)
