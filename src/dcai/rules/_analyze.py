"""Per-rule summary of a label matrix: coverage, overlap, conflict, and accuracy where labels exist.

* ``coverage``: share of rows the rule votes on.
* ``overlap``: share of rows where it votes and at least one other rule votes too.
* ``conflict``: share of rows where it votes and another rule votes a *different* label.
* With ground truth ``y`` (missing values allowed): ``labeled`` votes with a known label,
  ``correct``, ``accuracy`` and its Wilson (1927) score interval.

These are the columns Snorkel's ``LFAnalysis`` reports (Ratner et al. 2017), with intervals.

>>> import numpy as np
>>> L = np.array([[0, 0], [0, 1], [-1, 1], [1, -1]])
>>> table = analyze(L, y=[0, 1, 1, 0])
>>> table[["coverage", "overlap", "conflict", "correct", "labeled"]].to_dict("list")
{'coverage': [0.75, 0.75], 'overlap': [0.5, 0.5], 'conflict': [0.25, 0.25], 'correct': [1, 3], 'labeled': [3, 3]}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from dcai.errors import InvalidInputError
from dcai.rules._apply import LabelMatrix, as_codes, vote_counts

__all__ = ["ANALYSIS_COLUMNS", "analyze", "encode_labels"]

ANALYSIS_COLUMNS = (
    "rule",
    "polarity",
    "votes",
    "coverage",
    "overlap",
    "conflict",
    "labeled",
    "correct",
    "accuracy",
    "accuracy_low",
    "accuracy_high",
)


def encode_labels(
    y: Sequence[Any] | np.ndarray | pd.Series, classes: Sequence[Any] | None, n: int
) -> np.ndarray:
    """Ground truth as class numbers (``-1`` where missing); labels go through ``classes``."""
    values = pd.Series(np.asarray(y, dtype=object) if not isinstance(y, pd.Series) else y.array,
                       dtype=object)  # fmt: skip
    if len(values) != n:
        raise InvalidInputError(f"y has {len(values)} labels for {n} rows of the label matrix")
    missing = values.isna().to_numpy()
    if classes is None:
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
        plain = np.array([isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_)
                          for v in values.to_numpy()])  # fmt: skip
        bad = ~missing & (~plain | (numbers < 0))
        if bad.any():
            i = int(np.argmax(bad))
            raise InvalidInputError(
                f"y[{i}] = {values.iloc[i]!r}: with a plain label matrix, y holds class numbers "
                "0..K-1"
            )
        return np.where(missing, -1, np.nan_to_num(numbers, nan=-1)).astype(np.int32)
    mapped = values.map({c: i for i, c in enumerate(classes)})
    bad = ~missing & mapped.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise InvalidInputError(
            f"y[{i}] = {values.iloc[i]!r} is not one of the labels {list(classes)}",
            hint="Pass the ground truth in the label matrix's label set.",
        )
    return np.asarray(mapped.fillna(-1).to_numpy(dtype=np.int32))


def analyze(
    matrix: LabelMatrix | np.ndarray,
    y: Sequence[Any] | np.ndarray | pd.Series | None = None,
    *,
    rules: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """One row per rule (see :data:`ANALYSIS_COLUMNS`)."""
    from dcai.analysis._priorities import wilson_interval

    codes = as_codes(matrix)
    n, m = codes.shape
    classes = matrix.classes if isinstance(matrix, LabelMatrix) else None
    names = list(matrix.rules if isinstance(matrix, LabelMatrix) else rules or
                 [f"rule_{j}" for j in range(m)])  # fmt: skip
    if len(names) != m:
        raise InvalidInputError(f"{len(names)} rule names for {m} columns")
    truth = encode_labels(y, classes, n) if y is not None else None
    voted = codes >= 0
    per_row = voted.sum(axis=1)
    # Per row and class, how many rules voted it: a rule conflicts where the row holds votes
    # for some other class than its own.
    counts = vote_counts(codes, int(codes.max(initial=-1)) + 1)
    rows: list[dict[str, Any]] = []
    for j in range(m):
        mine = voted[:, j]
        differs = np.zeros(n, dtype=bool)
        own = counts[mine, codes[mine, j]]
        differs[mine] = per_row[mine] - own > 0
        present = np.unique(codes[mine, j])
        polarity = [classes[c] if classes is not None else int(c) for c in present]
        row: dict[str, Any] = {
            "rule": names[j],
            "polarity": polarity,
            "votes": int(mine.sum()),
            "coverage": float(mine.mean()) if n else 0.0,
            "overlap": float((mine & (per_row > 1)).mean()) if n else 0.0,
            "conflict": float((mine & differs).mean()) if n else 0.0,
            "labeled": 0,
            "correct": 0,
            "accuracy": float("nan"),
            "accuracy_low": float("nan"),
            "accuracy_high": float("nan"),
        }
        if truth is not None:
            known = mine & (truth >= 0)
            labeled = int(known.sum())
            correct = int((codes[known, j] == truth[known]).sum())
            row.update(labeled=labeled, correct=correct)
            if labeled:
                low, high = wilson_interval(correct, labeled, confidence)
                row.update(accuracy=correct / labeled, accuracy_low=low, accuracy_high=high)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(ANALYSIS_COLUMNS))
