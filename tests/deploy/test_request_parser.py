"""The request parser: validated instances become the frame the model reads, with the dtypes
pandas gives the same dicts, on the one-block path for all-numeric signatures and the general
one otherwise; a misfit is refused naming the field."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcai.serve._inputs import InputError, RequestParser

INTS = [{"name": f"i{k}", "dtype": "int64", "role": "numeric"} for k in range(3)]
FLOATS = [{"name": f"f{k}", "dtype": "float64", "role": "numeric"} for k in range(3)]
MIXED = [*INTS[:1], *FLOATS[:1], {"name": "c", "dtype": "object", "role": "categorical"}]


def _parse(inputs: list[dict[str, Any]], body: Any) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    parsed = RequestParser("web", inputs, max_rows=1000).parse(body)
    return parsed.frame, parsed.records


def _as_pandas_would(rows: list[dict[str, Any]], features: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=features)


ints = st.one_of(st.none(), st.integers(-(2**53), 2**53))
floats = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(ints, ints, ints), min_size=1, max_size=8))
def test_integer_features_give_the_frame_pandas_gives(data: list[tuple[Any, ...]]) -> None:
    body = {"dataframe_split": {"columns": ["i0", "i1", "i2"], "data": [list(r) for r in data]}}
    frame, rows = _parse(INTS, body)
    expected = _as_pandas_would(rows, ["i0", "i1", "i2"])
    pd.testing.assert_frame_equal(frame, expected)  # dtypes too: int64 unless a column has a null
    if not any(v is None for r in data for v in r):
        assert all(d == np.int64 for d in frame.dtypes)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(floats, floats, floats), min_size=1, max_size=8))
def test_float_features_are_one_float_block(data: list[tuple[Any, ...]]) -> None:
    body = {"instances": [dict(zip(["f0", "f1", "f2"], r, strict=True)) for r in data]}
    frame, rows = _parse(FLOATS, body)
    assert all(d == np.float64 for d in frame.dtypes)
    expected = _as_pandas_would(rows, ["f0", "f1", "f2"]).astype(np.float64)
    pd.testing.assert_frame_equal(frame, expected)


def test_mixed_features_take_the_general_path_in_training_order() -> None:
    body = {"instances": [{"c": "red", "f0": 0.5, "i0": 3}, {"c": None, "f0": 1, "i0": 4}]}
    frame, rows = _parse(MIXED, body)
    assert list(frame.columns) == ["i0", "f0", "c"]
    assert frame["i0"].tolist() == [3, 4] and frame["c"].tolist()[0] == "red"
    assert rows[0] == {"i0": 3, "f0": 0.5, "c": "red"}


def test_validated_instances_are_plain_dicts_in_feature_order() -> None:
    _, rows = _parse(INTS, {"dataframe_records": [{"i2": 1, "i0": 2, "i1": 3.0}]})
    assert rows == [{"i0": 2, "i1": 3, "i2": 1}]
    assert type(rows[0]) is dict and list(rows[0]) == ["i0", "i1", "i2"]


@pytest.mark.parametrize(
    ("record", "loc", "kind"),
    [
        ({"i0": 1, "i1": 2}, ["body", "instances", 0, "i2"], "missing"),
        ({"i0": 1, "i1": 2, "i2": 3, "x": 1}, ["body", "instances", 0, "x"], "extra_forbidden"),
        ({"i0": 1, "i1": "2", "i2": 3}, ["body", "instances", 0, "i1"], "int_type"),
        ({"i0": True, "i1": 2, "i2": 3}, ["body", "instances", 0, "i0"], "int_type"),
        ({"i0": 1.5, "i1": 2, "i2": 3}, ["body", "instances", 0, "i0"], "int_type"),
    ],
)
def test_a_misfit_names_the_field(record: dict[str, Any], loc: list[Any], kind: str) -> None:
    with pytest.raises(InputError) as raised:
        _parse(INTS, {"instances": [record]})
    first = raised.value.detail[0]
    assert first["loc"] == loc and first["type"] == kind


ODD = [
    {"name": name, "dtype": "int64", "role": "numeric"}
    for name in ('50% "off"', "naïve\\path", "%s", "plain")
]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(*(st.integers(-(2**53), 2**53),) * 4), min_size=1, max_size=6),
    st.permutations(range(4)),
    st.booleans(),
)
def test_the_numeric_block_logs_what_the_general_path_logs(
    data: list[tuple[int, ...]], order: list[int], split: bool
) -> None:
    """Plain numbers take the one-block path (no dict per instance): its frame, its instances
    and its logged JSON are those of the general path, whatever the field names and order."""
    from dcai.deploy._privacy import Redactor
    from dcai.deploy.prediction_log import inputs_json

    features = [item["name"] for item in ODD]
    columns = [features[i] for i in order]
    rows = [[r[i] for i in order] for r in data]
    body: dict[str, Any] = (
        {"dataframe_split": {"columns": columns, "data": rows}}
        if split
        else {"instances": [dict(zip(columns, r, strict=True)) for r in rows]}
    )
    parsed = RequestParser("web", ODD, max_rows=1000).parse(body)
    assert parsed.values is not None  # the block path
    expected = [dict(zip(features, r, strict=True)) for r in data]
    assert parsed.records == expected
    pd.testing.assert_frame_equal(parsed.frame, _as_pandas_would(expected, features))
    logged = parsed.logged_inputs(Redactor(frozenset(), "hash", b""))
    assert [json.loads(text) for text in logged] == expected
    assert logged == [inputs_json(record) for record in expected]  # byte for byte
    # A sensitive column is redacted: the general logging path then.
    redacted = parsed.logged_inputs(Redactor(frozenset({"plain"}), "drop", b""))
    assert all("plain" not in json.loads(text) for text in redacted)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(*(st.floats(allow_nan=False, allow_infinity=False),) * 3), min_size=1))
def test_floats_logged_by_the_block_path_read_back_equal(data: list[tuple[float, ...]]) -> None:
    from dcai.deploy._privacy import Redactor

    body = {"dataframe_split": {"columns": ["f0", "f1", "f2"], "data": [list(r) for r in data]}}
    parsed = RequestParser("web", FLOATS, max_rows=1000).parse(body)
    assert parsed.values is not None
    logged = parsed.logged_inputs(Redactor(frozenset(), "hash", b""))
    assert [json.loads(text) for text in logged] == parsed.records


@pytest.mark.parametrize(
    "body",
    [
        {"instances": [{"i0": 1, "i1": None, "i2": 3}]},  # a null
        {"instances": [{"i0": 1, "i1": 2.0, "i2": 3}]},  # an integral float
        {"dataframe_split": {"columns": ["i0", "i1", "i2"], "data": [[1, None, 3]]}},
    ],
)
def test_what_the_block_cannot_take_the_general_path_accepts(body: dict[str, Any]) -> None:
    parsed = RequestParser("web", INTS, max_rows=1000).parse(body)
    assert parsed.values is None and len(parsed) == 1
    assert parsed.records[0]["i0"] == 1 and parsed.records[0]["i2"] == 3
