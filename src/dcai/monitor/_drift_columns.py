"""What kind a column is, and its values as a drift check needs them.

The rule (documented in ``docs/monitor.md``): booleans, pandas ``category``, strings and
object columns of strings are *categorical*; integer and float columns (nullable ones too)
and object columns holding only numbers are *numeric* — integers stay numeric even with few
distinct values unless declared with ``categorical=[...]``. An object column mixing strings
and numbers is refused unless declared categorical (its values are then compared as text).
Datetimes are refused: convert them to numbers first.

>>> import pandas as pd
>>> raw_kind(pd.Series(["a", "b"]), "c"), raw_kind(pd.Series([1, 2]), "n")
('categorical', 'numeric')
>>> category_keys(pd.Series([1.0, 2.0, None, 1.0]))
({'1': 2, '2': 1}, 1)
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from dcai.errors import SchemaError

__all__ = ["Kind", "category_keys", "numeric_values", "raw_kind"]

Kind = Literal["numeric", "categorical"]


def raw_kind(series: pd.Series, name: str) -> Kind | None:
    """The kind a column's dtype and values suggest; ``None`` when every value is missing."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise SchemaError(
            "date/time columns are not checked for drift",
            column=name,
            hint="Convert it to numbers (e.g. seconds since an epoch) or drop it.",
        )
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if isinstance(dtype, pd.StringDtype):
        return "categorical"  # pandas' string dtypes
    inferred = pd.api.types.infer_dtype(series, skipna=True)  # one pass in C
    if inferred == "empty":
        return None
    if inferred in ("string", "boolean"):
        return "categorical"
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
        return "numeric"
    types = {type(v) for v in series.dropna().array[:1000]}
    shown = ", ".join(sorted(t.__name__ for t in types))
    raise SchemaError(
        f"the column mixes value types ({shown})",
        column=name,
        hint="Cast it to one type, or declare it with categorical=[...] to compare its values as text.",
    )


def numeric_values(series: pd.Series, name: str) -> np.ndarray:
    """The column as float64, missing values as NaN."""
    try:
        return np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan))
    except (TypeError, ValueError) as exc:
        raise SchemaError(
            "the column is declared or fitted as numeric but holds values that are not numbers",
            column=name,
            hint="Fix the values, or declare the column with categorical=[...].",
        ) from exc


def _key(value: Any) -> str:
    """One category's text: integral floats print as integers (an int column with NaN is float)."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)


def category_keys(series: pd.Series) -> tuple[dict[str, int], int]:
    """Counts of each category (as text, most frequent first) and the number of missing values."""
    counts = series.value_counts(dropna=True, sort=False)
    merged: dict[str, int] = {}
    for value, count in zip(counts.index, counts.to_numpy(), strict=True):
        key = _key(value)
        merged[key] = merged.get(key, 0) + int(count)
    ordered = dict(sorted(merged.items(), key=lambda kv: (-kv[1], kv[0])))
    return ordered, int(series.isna().sum())
