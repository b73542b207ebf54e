"""Class imbalance and missing values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dcai.errors import InvalidInputError
from dcai.quality import find_class_imbalance, find_missing_values
from dcai.quality._dataset_issues import (
    IMBALANCE_RATIO,
    MIN_CLASS_COUNT,
    missing_value_summary,
)

IMBALANCE_COLUMNS = [
    "class",
    "count",
    "share",
    "expected_share",
    "class_imbalance_score",
    "is_class_imbalance_issue",
]


def test_class_imbalance_counts_and_flags() -> None:
    labels = ["a"] * 500 + ["b"] * 400 + ["c"] * 60 + ["d"] * 40
    result = find_class_imbalance(labels)
    assert list(result.columns) == IMBALANCE_COLUMNS
    assert result["class"].tolist() == ["a", "b", "c", "d"]
    assert result["count"].tolist() == [500, 400, 60, 40]
    np.testing.assert_allclose(result["share"], [0.5, 0.4, 0.06, 0.04])
    np.testing.assert_allclose(result["expected_share"], 0.25)
    np.testing.assert_allclose(result["class_imbalance_score"], [1, 1, 0.24, 0.16])
    # 0.2 x the balanced share 0.25 is 0.05: only "d" (4%) is below.
    assert result["is_class_imbalance_issue"].tolist() == [False, False, False, True]
    assert IMBALANCE_RATIO == 0.2
    loose = find_class_imbalance(labels, threshold=0.3)
    assert loose["is_class_imbalance_issue"].tolist() == [False, False, True, True]


def test_tiny_classes_are_flagged_whatever_the_threshold() -> None:
    labels = [0] * 6 + [1] * 6 + [2] * (MIN_CLASS_COUNT - 1)
    result = find_class_imbalance(labels, threshold=0)
    assert result["class"].tolist() == [0, 1, 2]
    assert result["is_class_imbalance_issue"].tolist() == [False, False, True]


def test_balanced_and_single_class() -> None:
    balanced = find_class_imbalance(np.repeat(["x", "y", "z"], 10))
    assert not balanced["is_class_imbalance_issue"].any()
    assert (balanced["class_imbalance_score"] == 1).all()
    single = find_class_imbalance(pd.Series(["only"] * 20))
    assert single["share"].tolist() == [1.0] and not single["is_class_imbalance_issue"].any()


@pytest.mark.parametrize(
    ("labels", "kwargs", "match"),
    [
        ([], {}, "empty"),
        (["a", None, "b"], {}, "missing"),
        (["a", "b"], {"threshold": 2}, "threshold"),
        (["a", "b"], {"threshold": "low"}, "threshold"),
    ],
)
def test_class_imbalance_bad_input(
    labels: list[object], kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        find_class_imbalance(labels, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def gappy() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [31.0, np.nan, 45.0, np.nan],
            "city": ["Oslo", None, "Rome", "Lima"],
            "when": pd.to_datetime(["2024-01-01", None, "2024-02-01", "2024-03-01"]),
            "n": pd.array([1, 2, pd.NA, 4], dtype="Int64"),
        },
        index=["r1", "r2", "r3", "r4"],
    )


def test_missing_values_per_example(gappy: pd.DataFrame) -> None:
    result = find_missing_values(gappy)
    assert list(result.columns) == [
        "missing_count",
        "missing_columns",
        "missing_values_score",
        "is_missing_values_issue",
    ]
    assert result.index.tolist() == ["r1", "r2", "r3", "r4"]
    assert result["missing_count"].tolist() == [0, 3, 1, 1]
    assert result["missing_columns"].tolist() == ["", "age;city;when", "n", "age"]
    np.testing.assert_allclose(result["missing_values_score"], [1.0, 0.25, 0.75, 0.75])
    assert result["is_missing_values_issue"].tolist() == [False, True, True, True]


def test_missing_value_summary(gappy: pd.DataFrame) -> None:
    summary = missing_value_summary(gappy)
    assert summary["column"].tolist() == ["age", "city", "when", "n"]
    assert summary["missing_count"].tolist() == [2, 1, 1, 1]
    np.testing.assert_allclose(summary["missing_share"], [0.5, 0.25, 0.25, 0.25])
    assert summary.loc[0, "dtype"] == "float64"


def test_missing_values_edge_cases() -> None:
    empty = pd.DataFrame({"a": pd.Series([], dtype=float)})
    assert len(find_missing_values(empty)) == 0
    assert missing_value_summary(empty)["missing_share"].tolist() == [0.0]
    no_columns = pd.DataFrame(index=range(3))
    assert (find_missing_values(no_columns)["missing_values_score"] == 1).all()
    # Empty strings are values, not missing.
    assert find_missing_values(pd.DataFrame({"t": ["", "x"]}))["missing_count"].tolist() == [0, 0]


@pytest.mark.parametrize("function", [find_missing_values, missing_value_summary])
def test_missing_values_need_a_frame(function: object) -> None:
    with pytest.raises(InvalidInputError, match="DataFrame"):
        function([[1, None]])  # type: ignore[operator]
