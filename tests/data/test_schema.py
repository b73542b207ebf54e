"""Column-role inference and validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dcai.data import infer_roles, validate_table
from dcai.errors import SchemaError


def test_inference_picks_label_id_text_meta_and_features() -> None:
    frame = pd.DataFrame(
        {
            "example_id": ["a", "b"],
            "size": [1.0, 2.0],
            "colour": ["red", "blue"],
            "body": [
                "a long paragraph of free text about things",
                "another long free text paragraph here",
            ],
            "when": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "target": [0, 1],
        }
    )
    roles = infer_roles(frame)
    assert roles.label == "target"
    assert roles.id == "example_id"
    assert roles.features == ("size", "colour")
    assert roles.text == ("body",)
    assert roles.meta == ("when",)


def test_declared_roles_win_and_conflicts_are_refused() -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "y": [0, 1]})
    roles = infer_roles(frame, label="y", meta=["a"], text=["b"])
    assert roles.meta == ("a",) and roles.text == ("b",)
    with pytest.raises(SchemaError, match="declared both"):
        infer_roles(frame, label="y", meta=["a"], text=["a"])


def test_misspelled_label_suggests_the_close_name() -> None:
    frame = pd.DataFrame({"x": [1], "label": ["a"]})
    with pytest.raises(SchemaError) as info:
        infer_roles(frame, label="lable", source="f.csv")
    assert 'Did you mean "label"' in str(info.value)
    assert info.value.column == "lable"


def test_no_label_guess_is_an_error_listing_columns() -> None:
    with pytest.raises(SchemaError, match="--label"):
        infer_roles(pd.DataFrame({"x": [1], "z": [2]}))


def _validate(frame: pd.DataFrame, **kw: object) -> None:
    validate_table(frame, infer_roles(frame, **kw), source="t.csv")  # type: ignore[arg-type]


def test_empty_labels_are_named_by_row() -> None:
    frame = pd.DataFrame({"x": [1, 2, 3], "label": ["a", None, " "]})
    with pytest.raises(SchemaError) as info:
        _validate(frame)
    assert info.value.rows == [2, 3]


def test_duplicate_ids_are_named() -> None:
    frame = pd.DataFrame({"id": [1, 2, 1], "x": [0, 0, 0], "label": ["a", "b", "a"]})
    with pytest.raises(SchemaError, match="duplicate ids") as info:
        _validate(frame, id="id")
    assert info.value.rows == [1, 3]


def test_mixed_python_types_are_refused() -> None:
    frame = pd.DataFrame({"x": pd.Series([1, "two", 3], dtype=object), "label": ["a", "b", "a"]})
    with pytest.raises(SchemaError, match="mixes types") as info:
        _validate(frame)
    assert info.value.rows == [2]


def test_numbers_with_stray_strings_are_refused_unless_declared_meta() -> None:
    values = [str(i) for i in range(20)] + ["?"]
    frame = pd.DataFrame({"age": values, "label": ["a"] * 21})
    with pytest.raises(SchemaError, match="mostly numbers") as info:
        _validate(frame)
    assert info.value.rows == [21]
    _validate(frame, meta=["age"])


def test_nested_values_are_refused() -> None:
    frame = pd.DataFrame({"x": pd.Series([[1], [2]], dtype=object), "label": ["a", "b"]})
    with pytest.raises(SchemaError, match="nested"):
        _validate(frame)


def test_split_values_must_be_known() -> None:
    frame = pd.DataFrame(
        {"x": np.arange(3), "split": ["train", "valid", "test"], "label": [0, 1, 0]}
    )
    with pytest.raises(SchemaError, match="train, dev or test") as info:
        _validate(frame)
    assert info.value.rows == [2]
