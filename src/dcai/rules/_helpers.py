"""Rules built from a column and a condition, run on whole columns at once.

Each helper returns a :class:`~dcai.rules.Rule` whose ``batch`` computes every row's vote in a
few vectorised pandas calls. Text matching runs on Arrow strings, whose regular expressions
(RE2) take linear time, so a pattern cannot stall on a long text. ``query`` goes through dcai's
query parser (:mod:`dcai.data._query`): the text is parsed into an allow-listed tree and never
executed.

>>> import pandas as pd
>>> frame = pd.DataFrame({"text": ["FREE prize", "see you", None], "n": [3, 40, 7]})
>>> keywords("text", ["free", "prize"], label="spam").batch(frame).tolist()
[True, False, False]
>>> threshold("n", ">=", 10, label="long").batch(frame).tolist()
[False, True, False]
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from dcai.errors import InvalidInputError, SchemaError
from dcai.rules._rule import Label, Rule

__all__ = ["keywords", "model_confident", "query", "regex", "threshold"]

_TEXT = pd.StringDtype("pyarrow")
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def _column(frame: pd.DataFrame, column: str, rule_name: str) -> pd.Series:
    if column not in frame.columns:
        raise SchemaError(
            f"rule {rule_name!r} reads column {column!r}, which the data does not have",
            column=column,
            hint=f"Columns: {', '.join(map(str, frame.columns[:12]))}.",
        )
    return frame[column]


def _text(series: pd.Series) -> pd.Series:
    return series.astype(_TEXT)


def keywords(
    column: str,
    words: Iterable[str],
    *,
    label: Label,
    name: str | None = None,
    case: bool = False,
    whole_words: bool = True,
) -> Rule:
    """Vote ``label`` where ``column`` contains any of ``words`` (whole words by default)."""
    listed = [str(w) for w in words if str(w)]
    if not listed:
        raise InvalidInputError("keywords() needs at least one word")
    alternatives = "|".join(re.escape(w) for w in listed)
    pattern = rf"\b(?:{alternatives})\b" if whole_words else f"(?:{alternatives})"
    rule_name = name or f"keywords_{column}_{'_'.join(listed[:3])}"
    return _pattern_rule(column, pattern, label, rule_name, case)


def regex(
    column: str, pattern: str, *, label: Label, name: str | None = None, case: bool = True
) -> Rule:
    """Vote ``label`` where ``column`` matches the regular expression ``pattern`` (RE2 syntax)."""
    return _pattern_rule(column, pattern, label, name or f"regex_{column}", case)


def _pattern_rule(column: str, pattern: str, label: Label, rule_name: str, case: bool) -> Rule:
    def batch(frame: pd.DataFrame) -> np.ndarray:
        text = _text(_column(frame, column, rule_name))
        found = text.str.contains(pattern, case=case, regex=True)
        return np.asarray(found.fillna(False).to_numpy(dtype=bool, na_value=False))

    return Rule(name=rule_name, label=label, batch=batch)


def query(text: str, *, label: Label, name: str | None = None) -> Rule:
    """Vote ``label`` where the row filter ``text`` holds (e.g. ``"age > 60 and smoker"``).

    The text is parsed by dcai's query parser, never run as Python.
    """
    from dcai.data._query import compile_query

    compiled = compile_query(text)
    rule_name = name or f"query_{re.sub(r'[^0-9A-Za-z]+', '_', text).strip('_')[:40]}"

    def batch(frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(compiled.mask(frame), dtype=bool)

    return Rule(name=rule_name, label=label, batch=batch)


def threshold(column: str, op: str, value: float, *, label: Label, name: str | None = None) -> Rule:
    """Vote ``label`` where ``column OP value`` (``<``, ``<=``, ``>``, ``>=``, ``==``, ``!=``)."""
    if op not in _OPS:
        raise InvalidInputError(f"unknown comparison {op!r}", hint=f"Use one of {list(_OPS)}.")
    compare = _OPS[op]
    rule_name = name or f"{column}_{op}_{value}"

    def batch(frame: pd.DataFrame) -> np.ndarray:
        series = _column(frame, column, rule_name)
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            hit = compare(numbers, float(value))
        return np.asarray(hit & ~np.isnan(numbers), dtype=bool)

    return Rule(name=rule_name, label=label, batch=batch)


def model_confident(
    predict_proba: Callable[[pd.DataFrame], Any],
    classes: Sequence[Label],
    *,
    min_confidence: float = 0.9,
    columns: Sequence[str] | None = None,
    name: str = "model_confident",
) -> Rule:
    """Vote a model's predicted class where its probability is at least ``min_confidence``.

    ``predict_proba`` maps the frame (``columns`` of it, if given) to an ``(n, len(classes))``
    array, as a fitted scikit-learn estimator's ``predict_proba`` does.
    """
    if not 0 < min_confidence <= 1:
        raise InvalidInputError(f"min_confidence={min_confidence} is outside (0, 1]")
    labels = np.asarray(list(classes), dtype=object)

    def batch(frame: pd.DataFrame) -> np.ndarray:
        inputs = frame[list(columns)] if columns is not None else frame
        proba = np.asarray(predict_proba(inputs), dtype=np.float64)
        if proba.ndim != 2 or proba.shape != (len(frame), labels.size):
            raise InvalidInputError(
                f"rule {name!r}: predict_proba gave shape {proba.shape}, "
                f"expected ({len(frame)}, {labels.size})",
                hint="Pass the classes in the model's column order.",
            )
        best = proba.argmax(axis=1)
        out = labels[best].copy()
        out[proba[np.arange(len(frame)), best] < min_confidence] = None
        return np.asarray(out, dtype=object)

    return Rule(name=name, batch=batch)
