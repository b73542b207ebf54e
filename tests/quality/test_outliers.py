"""find_outliers: planted outliers, monotone scores, thresholds, reuse of neighbours, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtr
from sklearn.datasets import make_blobs
from sklearn.metrics import roc_auc_score

from dcai.errors import FallbackWarning, InvalidInputError
from dcai.quality import find_outliers, nearest_neighbors
from dcai.quality._outliers import DEFAULT_THRESHOLD, FENCE_Z

COLUMNS = ["outlier_score", "is_outlier_issue", "knn_distance"]


@pytest.fixture
def planted() -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs in 8 dimensions with 40 points drawn uniformly around them."""
    X, _ = make_blobs(n_samples=2000, centers=4, n_features=8, cluster_std=1.0, random_state=0)
    rng = np.random.default_rng(1)
    low, high = X.min(axis=0) - 3, X.max(axis=0) + 3
    far = rng.uniform(low, high, size=(40, 8))
    is_outlier = np.r_[np.zeros(len(X), dtype=bool), np.ones(40, dtype=bool)]
    return np.vstack([X, far]), is_outlier


def test_planted_outliers_are_ranked_first(planted: tuple[np.ndarray, np.ndarray]) -> None:
    X, truth = planted
    result = find_outliers(X)
    assert list(result.columns) == COLUMNS
    assert len(result) == len(X) and result.index.tolist() == list(range(len(X)))
    assert roc_auc_score(truth, 1 - result["outlier_score"]) > 0.95
    flagged = result["is_outlier_issue"].to_numpy()
    # The default fence finds most planted points and few of the clean ones.
    assert flagged[truth].mean() > 0.8
    assert flagged[~truth].mean() < 0.01


def test_score_is_monotone_in_the_distance(planted: tuple[np.ndarray, np.ndarray]) -> None:
    X, truth = planted
    result = find_outliers(X, k=5)
    order = np.argsort(result["knn_distance"].to_numpy(), kind="stable")
    scores = result["outlier_score"].to_numpy()[order]
    assert (np.diff(scores) <= 0).all()
    assert ((scores >= 0) & (scores <= 1)).all()
    # Same ranking, same AUROC as the raw distance.
    assert roc_auc_score(truth, -result["outlier_score"]) == pytest.approx(
        roc_auc_score(truth, result["knn_distance"])
    )


def test_knn_distance_is_the_mean_of_k_neighbour_distances(rng: np.random.Generator) -> None:
    X = rng.normal(size=(200, 3))
    full = np.sqrt(((X[:, None] - X[None]) ** 2).sum(axis=2))
    np.fill_diagonal(full, np.inf)
    expected = np.sort(full, axis=1)[:, :7].mean(axis=1)
    result = find_outliers(X, k=7)
    np.testing.assert_allclose(result["knn_distance"], expected, rtol=1e-5)


def test_score_formula_against_scipy(rng: np.random.Generator) -> None:
    X = rng.normal(size=(300, 4))
    result = find_outliers(X, k=5)
    logs = np.log(result["knn_distance"].to_numpy())
    q1, median, q3 = np.quantile(logs, [0.25, 0.5, 0.75])
    z = np.where(logs > median, (logs - median) / (1.4826 * (q3 - median)),
                 (logs - median) / (1.4826 * (median - q1)))  # fmt: skip
    np.testing.assert_allclose(result["outlier_score"], ndtr(-z), rtol=1e-9)
    assert pytest.approx(ndtr(-FENCE_Z)) == DEFAULT_THRESHOLD
    np.testing.assert_array_equal(result["is_outlier_issue"], z > FENCE_Z)


@pytest.mark.parametrize("contamination", [0.0, 0.01, 0.05, 0.5])
def test_contamination_flags_that_fraction(
    planted: tuple[np.ndarray, np.ndarray], contamination: float
) -> None:
    X, _ = planted
    result = find_outliers(X, contamination=contamination)
    n_flag = round(contamination * len(X))
    assert int(result["is_outlier_issue"].sum()) == n_flag
    if n_flag:
        flagged = result.loc[result["is_outlier_issue"], "knn_distance"]
        kept = result.loc[~result["is_outlier_issue"], "knn_distance"]
        assert flagged.min() >= kept.max()
    assert result.attrs == {"threshold": None, "contamination": contamination}


def test_threshold_is_on_the_score(planted: tuple[np.ndarray, np.ndarray]) -> None:
    X, _ = planted
    result = find_outliers(X, threshold=0.05)
    np.testing.assert_array_equal(result["is_outlier_issue"], result["outlier_score"] < 0.05)
    assert result.attrs["threshold"] == 0.05
    assert find_outliers(X, threshold=0.0)["is_outlier_issue"].sum() == 0


def test_precomputed_neighbours_give_the_same_result(
    planted: tuple[np.ndarray, np.ndarray],
) -> None:
    X, _ = planted
    knn = nearest_neighbors(X, k=15)
    pd.testing.assert_frame_equal(find_outliers(X, k=10, knn=knn), find_outliers(X, k=10))
    with pytest.warns(FallbackWarning, match="using 15"):
        wide = find_outliers(X, k=20, knn=knn)
    np.testing.assert_allclose(wide["knn_distance"], knn[0].astype(np.float64).mean(axis=1))
    # Cosine neighbours are accepted as they are.
    cosine = find_outliers(X, knn=nearest_neighbors(X, k=10, metric="cosine"))
    assert cosine["outlier_score"].between(0, 1).all()


def test_degenerate_distances() -> None:
    same = np.ones((20, 3))
    result = find_outliers(same, k=3)
    assert (result["outlier_score"] == 1).all() and not result["is_outlier_issue"].any()
    grid = np.arange(40.0).reshape(-1, 1)  # equal spacing: little spread, nobody flagged
    assert not find_outliers(grid, k=1)["is_outlier_issue"].any()


def test_dataframe_index_is_kept(rng: np.random.Generator) -> None:
    frame = pd.DataFrame(rng.normal(size=(30, 2)), index=[f"ex{i}" for i in range(30)])
    assert find_outliers(frame, k=3).index.tolist() == frame.index.tolist()


def test_k_at_least_n_falls_back() -> None:
    with pytest.warns(FallbackWarning, match="k=3"):
        result = find_outliers(np.arange(8.0).reshape(4, 2), k=10)
    assert len(result) == 4


@pytest.mark.parametrize(
    ("features", "kwargs", "match"),
    [
        ([[1.0, np.nan], [2.0, 3.0], [4.0, 5.0]], {}, "NaN"),
        ([["a"], ["b"], ["c"]], {}, "not numbers"),
        ([[1.0, 2.0]], {}, "at least 2"),
        (np.ones((5, 2)), {"threshold": 0.1, "contamination": 0.1}, "both"),
        (np.ones((5, 2)), {"threshold": 1.5}, "threshold"),
        (np.ones((5, 2)), {"threshold": True}, "threshold"),
        (np.ones((5, 2)), {"contamination": 0.7}, "contamination"),
        (np.ones((5, 2)), {"k": 0}, "positive integer"),
        (np.ones((5, 2)), {"knn": (np.zeros((4, 2)), np.zeros((4, 2), dtype=int))}, "4 rows"),
    ],
)
def test_bad_input(features: object, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        find_outliers(features, **kwargs)  # type: ignore[arg-type]
