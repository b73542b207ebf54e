"""The numeric input step of dcai's default models: one conversion for plain NumPy columns,
the same values as the column-by-column path for every dtype."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dcai.quality._features import numeric_values
from dcai.quality._models import _as_float

DTYPES = st.sampled_from(["bool", "int8", "int64", "uint16", "float32", "float64"])


def _column_by_column(frame: pd.DataFrame) -> np.ndarray:
    values = np.column_stack([numeric_values(frame[c]) for c in frame.columns])
    return np.where(np.isinf(values), np.nan, values)


@settings(max_examples=60, deadline=None)
@given(st.data(), st.lists(DTYPES, min_size=1, max_size=6), st.integers(0, 20))
def test_plain_numeric_frames_match_the_column_by_column_path(
    data: st.DataObject, dtypes: list[str], rows: int
) -> None:
    columns = {
        f"c{i}": data.draw(hnp.arrays(np.dtype(d), rows), label=f"c{i}")
        for i, d in enumerate(dtypes)
    }
    frame = pd.DataFrame(columns)
    got = _as_float(frame)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, _column_by_column(frame))


def test_infinities_become_missing_on_the_fast_path() -> None:
    frame = pd.DataFrame({"a": [1.0, np.inf, -np.inf], "b": [1, 2, 3]})
    got = _as_float(frame)
    assert np.isnan(got[1, 0]) and np.isnan(got[2, 0])
    np.testing.assert_array_equal(got[:, 1], [1.0, 2.0, 3.0])


def test_other_dtypes_keep_the_column_by_column_path() -> None:
    frame = pd.DataFrame(
        {
            "n": pd.array([1, None, 3], dtype="Int64"),
            "t": pd.to_datetime(["1970-01-01", "1970-01-02", None]),
            "s": ["1", "2.5", None],
        }
    )
    got = _as_float(frame)
    np.testing.assert_array_equal(got, _column_by_column(frame))
    assert got[0, 1] == 0.0 and got[1, 1] == 86_400.0
