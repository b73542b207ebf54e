"""Slice predicates: how a column becomes predicates, how predicates select rows, how to write them.

A predicate is a JSON-friendly triple ``(column, op, value)``; a slice is a conjunction (a list)
of predicates. The operators are::

    ==  !=  <  <=  >  >=     value: a string, number or boolean
    between                  value: [lo, hi], meaning lo <= x < hi
    in                       value: a list of strings, numbers or booleans
    is missing               value: None

Every operator except ``is missing`` is false on a missing value, so ``x < 3`` and ``x >= 3``
never select the rows where ``x`` is missing.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from dcai.analysis._slice_parse import PARSE_HINT, Predicate, json_friendly, parse_slice
from dcai.errors import InvalidInputError, SchemaError

__all__ = [
    "OPS",
    "EncodedColumn",
    "Predicate",
    "describe",
    "encode_column",
    "parse_slice",
    "slice_mask",
]

OPS = ("==", "!=", "<", "<=", ">", ">=", "between", "in", "is missing")
_ORDERED = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}
_SYMBOL = {"==": "==", "!=": "≠", "<": "<", "<=": "≤", ">": ">", ">=": "≥"}
#: Bin edges are rounded to this many significant digits, so that names read well.
EDGE_DIGITS = 3


# Encoding a column into disjoint predicates ---------------------------------------------


@dataclass(frozen=True)
class EncodedColumn:
    """A column as disjoint predicates: ``codes[i]`` is row i's predicate, ``len(predicates)``
    (the "none" code) when no predicate holds (a rare value, or a rare missing value)."""

    name: Hashable
    codes: np.ndarray
    predicates: tuple[Predicate, ...]


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value JSON knows; other values unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def _is_bool_column(series: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(series.dtype):
        return True
    if series.dtype != object:
        return False
    present = series.dropna()
    return len(present) > 0 and all(isinstance(v, bool | np.bool_) for v in present)


def _round_edge(value: float, integral: bool) -> float | int:
    if integral:
        # x < 37.5 and x < 38 select the same integers; the integer reads better.
        return math.ceil(value)
    return float(f"{value:.{EDGE_DIGITS}g}")


def _bin_edges(values: np.ndarray, n_bins: int, integral: bool) -> list[float | int]:
    """Inner cut points at the quantiles ``1/n_bins, …``, rounded, without empty end bins."""
    levels = np.arange(1, n_bins) / n_bins
    raw = np.quantile(values, levels)
    low, high = float(values.min()), float(values.max())
    edges = sorted({_round_edge(float(q), integral) for q in raw})
    edges = [e for e in edges if low < e <= high]
    if not edges:
        # Heavy ties (e.g. mostly zeros): cut just above the median value instead.
        median = float(np.median(values))
        above = values[values > median]
        if len(above):
            edges = [_plain(above.min())]
    return edges


def _value_codes(
    name: Hashable, values: pd.Series, missing: np.ndarray, min_size: int, miss_ok: bool
) -> tuple[np.ndarray, list[Predicate]] | str:
    """Codes for ``column == value`` predicates, values with fewer than ``min_size`` rows skipped."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    present = codes >= 0
    counts = np.bincount(codes[present], minlength=len(uniques))
    kept = [int(i) for i in np.flatnonzero(counts >= min_size)]
    plain = [_plain(uniques[i]) for i in kept]
    bad = [v for v in plain if not json_friendly(v)]
    if bad:
        return f"values of type {type(bad[0]).__name__} are not supported"
    order = sorted(range(len(kept)), key=lambda j: (-counts[kept[j]], str(plain[j])))
    lut = np.full(len(uniques) + 1, 0, dtype=np.int64)
    predicates: list[Predicate] = []
    for new, j in enumerate(order):
        lut[kept[j]] = new
        predicates.append((name, "==", plain[j]))
    none = len(predicates) + (1 if miss_ok else 0)
    mapped = np.full(len(codes), none, dtype=np.int64)
    keep_mask = np.zeros(len(uniques), dtype=bool)
    keep_mask[kept] = True
    selected = present & keep_mask[np.where(present, codes, 0)]
    mapped[selected] = lut[codes[selected]]
    if miss_ok:
        mapped[missing] = len(predicates)
        predicates.append((name, "is missing", None))
    return mapped, predicates


def encode_column(
    name: Hashable, series: pd.Series, *, n_bins: int, min_size: int
) -> EncodedColumn | str:
    """Turn one column into disjoint predicates, or say why it cannot be used.

    Booleans give ``col`` and ``not col``; numbers with at most ``n_bins`` distinct values and
    text or categories give ``col == value`` for each value with at least ``min_size`` rows
    (rarer values can never form a reportable slice, so they get no predicate); other numbers
    give ``n_bins`` quantile bins ``x < c1``, ``c1 <= x < c2``, …, ``x >= c_last`` (cut points
    rounded to three significant digits, end bins open, so the bins also cover values outside
    this data's range). Missing values form ``col is missing`` when there are ``min_size`` of
    them.
    """
    missing = series.isna().to_numpy(dtype=bool)
    miss_ok = int(missing.sum()) >= min_size
    if missing.all():
        return "every value is missing"
    if _is_bool_column(series):
        values = series.astype(object).where(~missing, None)
        result = _value_codes(name, values, missing, min_size, miss_ok)
    elif pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_complex_dtype(
        series.dtype
    ):
        x = series.to_numpy(dtype=np.float64, na_value=np.nan)
        if not np.all(np.isfinite(x[~missing])):
            return "holds infinite values"
        present = x[~missing]
        distinct = np.unique(present)
        integral = pd.api.types.is_integer_dtype(series.dtype) or bool(
            np.all(distinct == np.round(distinct))
        )
        if len(distinct) <= n_bins:
            typed = pd.Series(np.where(missing, np.nan, x))
            if integral:
                typed = typed.astype("Int64")
            result = _value_codes(name, typed, missing, min_size, miss_ok)
        else:
            edges = _bin_edges(present, n_bins, integral)
            codes = np.searchsorted(np.asarray(edges, dtype=np.float64), x, side="right")
            predicates: list[Predicate] = [(name, "<", edges[0])]
            predicates += [(name, "between", [lo, hi]) for lo, hi in pairwise(edges)]
            predicates.append((name, ">=", edges[-1]))
            codes = codes.astype(np.int64)
            # The code after the bins: "is missing" when kept, else "none".
            codes[missing] = len(predicates)
            if miss_ok:
                predicates.append((name, "is missing", None))
            result = codes, predicates
    elif (
        isinstance(series.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(series.dtype)
        or pd.api.types.is_string_dtype(series.dtype)
    ):
        result = _value_codes(name, series, missing, min_size, miss_ok)
    else:
        return f"type {series.dtype} is not supported (use numbers, text, categories or booleans)"
    if isinstance(result, str):
        return result
    codes, predicates = result
    if len(predicates) == 0:
        return f"no value (or bin) has at least {min_size} rows"
    if len(predicates) == 1 and not (codes == len(predicates)).any():
        return "has a single value"
    return EncodedColumn(name=name, codes=codes, predicates=tuple(predicates))


# Naming -------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _describe_one(predicate: Predicate) -> str:
    column, op, value = predicate
    col = str(column)
    if op == "==" and isinstance(value, bool):
        return col if value else f"not {col}"
    if op == "is missing":
        return f"{col} is missing"
    if op == "between":
        return f"{_fmt(value[0])} ≤ {col} < {_fmt(value[1])}"
    if op == "in":
        return f"{col} in {{{', '.join(_fmt(v) for v in value)}}}"
    return f"{col} {_SYMBOL[op]} {_fmt(value)}"


def describe(predicates: Sequence[Predicate]) -> str:
    """A slice's human-readable name: its predicates joined by ``&``.

    >>> describe([("colour", "==", "red"), ("x1", "between", [0.5, 1.2]), ("tag", "==", False)])
    'colour == red & 0.5 ≤ x1 < 1.2 & not tag'
    """
    return " & ".join(_describe_one(p) for p in predicates) or "all rows"


# Selecting rows -------------------------------------------------------------------------


def _check_predicate(predicate: Any) -> Predicate:
    if not isinstance(predicate, Sequence) or isinstance(predicate, str) or len(predicate) != 3:
        raise InvalidInputError(
            f"a predicate must be a (column, op, value) triple, got {predicate!r}",
            hint=PARSE_HINT,
        )
    column, op, value = predicate
    if op not in OPS:
        raise InvalidInputError(
            f"unknown predicate operator {op!r} (column {column!r})",
            column=str(column),
            hint=f"Use one of {', '.join(OPS)}.",
        )
    if op == "between" and (not isinstance(value, Sequence) or len(value) != 2):
        raise InvalidInputError(
            f"'between' needs [lo, hi], got {value!r}",
            column=str(column),
            hint="Give the lower (included) and upper (excluded) bound as a two-item list.",
        )
    if op == "in" and (not isinstance(value, Sequence) or isinstance(value, str)):
        raise InvalidInputError(
            f"'in' needs a list of values, got {value!r}",
            column=str(column),
            hint="Give the values as a list, e.g. ['red', 'blue'].",
        )
    return column, op, value


def _numbers(series: pd.Series, column: Any, op: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series.dtype) or not pd.api.types.is_numeric_dtype(series.dtype):
        raise InvalidInputError(
            f"operator {op!r} needs numbers but the column holds {series.dtype}",
            column=str(column),
            hint="Compare text, categories and booleans with ==, != or in.",
        )
    return np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def _predicate_mask(series: pd.Series, column: Any, op: str, value: Any) -> np.ndarray:
    missing = np.asarray(series.isna().to_numpy(dtype=bool), dtype=bool)
    if op == "is missing":
        return missing
    if op in _ORDERED:
        with np.errstate(invalid="ignore"):
            return np.asarray(_ORDERED[op](_numbers(series, column, op), value), dtype=bool)
    if op == "between":
        x = _numbers(series, column, op)
        with np.errstate(invalid="ignore"):
            return np.asarray((x >= value[0]) & (x < value[1]), dtype=bool)
    if op == "in":
        hit = series.isin(list(value))
    elif op == "==":
        hit = series.eq(value)
    else:
        hit = series.ne(value)
    selected: np.ndarray = np.logical_and(hit.to_numpy(dtype=bool, na_value=False), ~missing)
    return selected


def slice_mask(frame: pd.DataFrame, predicates: Sequence[Predicate] | str) -> np.ndarray:
    """Which rows of ``frame`` a slice selects: the conjunction of its predicates.

    Use it to apply a slice found on one data set (or written by hand) to another version of
    the data, or to compute any metric on a slice.

    Parameters
    ----------
    frame
        The examples' columns.
    predicates
        ``(column, op, value)`` triples (see :mod:`dcai.analysis`; lists from JSON work too),
        or a slice written as text, read by :func:`parse_slice`. No predicate: every row.

    Returns
    -------
    numpy.ndarray
        One boolean per row of ``frame``. Missing values satisfy only ``is missing``.

    Raises
    ------
    SchemaError
        A predicate names a column that ``frame`` does not have.
    InvalidInputError
        An unknown operator, or ``<``-type operators on a non-numeric column.

    Examples
    --------
    >>> frame = pd.DataFrame({"colour": ["red", "blue", "red"], "x1": [0.7, 0.9, None]})
    >>> slice_mask(frame, [("colour", "==", "red"), ("x1", ">=", 0.5)]).tolist()
    [True, False, False]
    >>> slice_mask(frame, "colour == 'red' and x1 is missing").tolist()
    [False, False, True]
    """
    if isinstance(predicates, str):
        predicates = parse_slice(predicates)
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(
            f"frame must be a pandas DataFrame, got {type(frame).__name__}",
            hint="Wrap the columns in pd.DataFrame(...).",
        )
    mask = np.ones(len(frame), dtype=bool)
    for predicate in predicates:
        column, op, value = _check_predicate(predicate)
        if column not in frame.columns:
            raise SchemaError(
                "the slice names a column the frame does not have",
                column=str(column),
                hint=f"The frame's columns are: {', '.join(map(str, frame.columns[:20]))}.",
            )
        series = frame[column]
        if isinstance(series, pd.DataFrame):
            raise SchemaError(
                "the frame has more than one column with this name",
                column=str(column),
                hint="Rename the duplicate columns.",
            )
        mask &= _predicate_mask(series, column, op, value)
    return mask
