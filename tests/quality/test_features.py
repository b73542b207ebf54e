"""Feature matrices: each column weighs about the same, roles are inferred, bad columns are named."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from dcai.errors import InvalidInputError
from dcai.quality import feature_matrix
from dcai.quality._features import FeatureRoles, infer_feature_roles, model_input_kind


def test_mixed_frame_is_finite_float32_one_row_each(small_frame: pd.DataFrame) -> None:
    X = feature_matrix(small_frame.drop(columns="label"), text_dims=8)
    assert X.dtype == np.float32 and X.flags["C_CONTIGUOUS"]
    assert X.shape == (60, 2 + 3 + 8)
    assert np.isfinite(X).all()
    np.testing.assert_array_equal(X, feature_matrix(small_frame.drop(columns="label"), text_dims=8))


def test_numeric_columns_are_imputed_and_standardised() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, np.nan, 4.0, 5.0], "const": [7, 7, 7, 7, 7]})
    X = feature_matrix(frame).astype(np.float64)
    filled = np.array([1.0, 2.0, 3.0, 4.0, 5.0])  # the median fills the gap
    np.testing.assert_allclose(X[:, 0], (filled - filled.mean()) / filled.std(), rtol=1e-6)
    np.testing.assert_array_equal(X[:, 1], 0.0)  # a constant column carries no distance


def test_categorical_one_hot_caps_rare_values_and_keeps_missing() -> None:
    values = [f"v{i}" for i in range(60)] * 2 + [None]
    X = feature_matrix(pd.DataFrame({"c": values}), categorical=["c"])
    assert X.shape == (121, 51)  # 50 most frequent values + "other"
    np.testing.assert_array_equal(X.sum(axis=1), 1.0)


def test_text_rows_are_unit_length_and_similar_texts_are_close() -> None:
    texts = [
        "the striker scored a late goal in the match",
        "a late goal by the striker won the match",
        "bake the bread in a hot oven for an hour",
        "knead the dough then bake it in the oven",
        "",
    ]
    X = feature_matrix(texts, text_dims=3).astype(np.float64)
    norms = np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(norms[:4], 1.0, rtol=1e-5)
    assert norms[4] == 0.0  # an empty text has no direction
    assert np.linalg.norm(X[0] - X[1]) < np.linalg.norm(X[0] - X[2])
    assert np.linalg.norm(X[2] - X[3]) < np.linalg.norm(X[2] - X[1])


def test_roles_are_inferred_from_values() -> None:
    frame = pd.DataFrame(
        {
            "n": [1.5, 2.5, 3.5],
            "i": [1, 2, 3],
            "flag": [True, False, True],
            "cat": pd.Categorical(["a", "b", "a"]),
            "city": ["Oslo", "Rome", "Oslo"],
            "note": [
                "a long free text comment here",
                "more words in this one",
                "and so on it goes",
            ],
            "when": pd.to_datetime(["2024-01-01", "2024-06-01", None]),
        }
    )
    assert infer_feature_roles(frame) == FeatureRoles(
        numeric=("n", "i", "when"), categorical=("flag", "cat", "city"), text=("note",)
    )


def test_named_columns_are_used_exactly() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x", "y", "x"], "label": [0, 1, 0]})
    X = feature_matrix(frame, numeric=["a"], categorical=["b"])
    assert X.shape == (3, 3)  # "label" is left out
    with pytest.raises(InvalidInputError, match='column "zz": column not found'):
        feature_matrix(frame, numeric=["zz"])
    with pytest.raises(InvalidInputError, match="more than one role"):
        feature_matrix(frame, numeric=["a"], categorical=["a"])
    with pytest.raises(InvalidInputError, match='column "b": declared numeric'):
        feature_matrix(frame, numeric=["b"])


@pytest.mark.parametrize(
    ("column", "match"),
    [
        ([np.nan, np.nan, np.nan], "every value is missing"),
        ([1 + 2j, 3j, 1j], "complex numbers"),
        ([[1, 2], [3], [4]], "nested values"),
        ([1.0, np.inf, 2.0], "infinite"),
    ],
)
def test_bad_columns_are_named(column: list[Any], match: str) -> None:
    frame = pd.DataFrame({"ok": [1, 2, 3], "bad": column})
    with pytest.raises(InvalidInputError, match=match) as info:
        feature_matrix(frame)
    assert info.value.column == "bad"


def test_bad_arguments() -> None:
    with pytest.raises(InvalidInputError, match="text_dims"):
        feature_matrix(pd.DataFrame({"a": [1]}), text_dims=0)
    with pytest.raises(InvalidInputError, match="no rows"):
        feature_matrix(pd.DataFrame({"a": []}))
    with pytest.raises(InvalidInputError, match="no columns"):
        feature_matrix(pd.DataFrame(index=[0, 1]))
    with pytest.raises(InvalidInputError, match="no words"):
        feature_matrix(["a", "b", "c"])


def test_numeric_arrays_pass_through_validated() -> None:
    array = np.arange(12, dtype=np.int64).reshape(4, 3)
    X = feature_matrix(array)
    assert X.dtype == np.float32
    np.testing.assert_array_equal(X, array)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (["a review", "another"], "text"),
        (pd.Series(["a review", "another"]), "text"),
        (np.array(["a review", "another"]), "text"),
        (
            pd.DataFrame({"t": ["a long free text comment here", "and another long one here"]}),
            "text",
        ),
        (pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), "tabular"),
        (pd.DataFrame({"city": ["Oslo", "Rome"]}), "tabular"),
        (np.zeros((3, 8, 8)), "image"),
        (np.zeros((3, 8, 8, 3)), "image"),
        (np.random.default_rng(0).integers(0, 256, size=(5, 784)), "image"),
        (np.random.default_rng(0).normal(size=(5, 384)), "embedding"),
        (np.random.default_rng(0).normal(size=(5, 6)), "tabular"),
        (np.arange(10), "tabular"),
    ],
)
def test_model_input_kind(data: Any, kind: str) -> None:
    assert model_input_kind(data) == kind
