"""Dataset-level issues: rare classes, and missing values per example and per column."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from dcai.errors import InvalidInputError
from dcai.quality._validation import encode_labels

__all__ = [
    "IMBALANCE_RATIO",
    "MIN_CLASS_COUNT",
    "find_class_imbalance",
    "find_missing_values",
    "missing_value_summary",
]

#: Default ``threshold``: a class is rare when its share is below this fraction of ``1/K``.
IMBALANCE_RATIO = 0.2
#: A class with fewer examples than this is always flagged: stratified 5-fold
#: cross-validation (how out-of-sample probabilities are made) cannot put one in each fold.
MIN_CLASS_COUNT = 5


def find_class_imbalance(
    labels: Sequence[Any] | np.ndarray | pd.Series, *, threshold: float | None = None
) -> pd.DataFrame:
    r"""Count the examples of each class and flag classes much rarer than the others.

    Use it before training: a rare class gets few gradient updates, unstable
    cross-validated probabilities and per-class thresholds, and often deserves more data
    (collect or augment) or a class weight.

    Parameters
    ----------
    labels
        One class per example (strings or integers).
    threshold
        Flag a class whose ``class_imbalance_score`` (its share divided by the balanced share
        ``1/K``, capped at 1) is below this value, in [0, 1]. Default
        :data:`IMBALANCE_RATIO` (0.2).

    Returns
    -------
    pandas.DataFrame
        One row per class, in sorted class order, with columns ``class``, ``count``,
        ``share`` (count / n), ``expected_share`` (``1/K``, the share under balance),
        ``class_imbalance_score`` (``min(1, share / expected_share)``, low = rare) and
        ``is_class_imbalance_issue``.

    Raises
    ------
    InvalidInputError
        Empty or missing labels, or ``threshold`` outside [0, 1].

    Notes
    -----
    With :math:`K` classes and class counts :math:`n_c`, the score is
    :math:`\min(1, K n_c / n)`. A class is flagged when the score is below ``threshold``
    (default 0.2: the class has under a fifth of its balanced share, e.g. under 2% of the
    examples with 10 classes, an imbalance ratio to the balanced share of 5:1) or when it has
    fewer than :data:`MIN_CLASS_COUNT` (5) examples whatever the threshold. Johnson &
    Khoshgoftaar [1]_ survey why such classes hurt learning and what to do about them.

    References
    ----------
    .. [1] Johnson, J. M. & Khoshgoftaar, T. M. (2019). Survey on deep learning with class
       imbalance. Journal of Big Data 6, 27.
    .. [2] He, H. & Garcia, E. A. (2009). Learning from imbalanced data. IEEE Transactions
       on Knowledge and Data Engineering 21(9), 1263–1284.

    Examples
    --------
    >>> labels = ["cat"] * 50 + ["dog"] * 45 + ["bird"] * 5
    >>> print(find_class_imbalance(labels).to_string())
      class  count  share  expected_share  class_imbalance_score  is_class_imbalance_issue
    0  bird      5   0.05        0.333333                   0.15                      True
    1   cat     50   0.50        0.333333                   1.00                     False
    2   dog     45   0.45        0.333333                   1.00                     False
    """
    if threshold is None:
        threshold = IMBALANCE_RATIO
    elif isinstance(threshold, bool) or not (
        isinstance(threshold, int | float | np.integer | np.floating) and 0 <= threshold <= 1
    ):
        raise InvalidInputError(
            f"threshold must be a number in [0, 1]; got {threshold!r}",
            hint=f"It is a fraction of the balanced share 1/K; the default is {IMBALANCE_RATIO}.",
        )
    encoded = encode_labels(labels)
    n = len(encoded.codes)
    counts = np.bincount(encoded.codes, minlength=encoded.n_classes)
    share = counts / n
    expected = np.full(encoded.n_classes, 1.0 / encoded.n_classes)
    score = np.minimum(1.0, share / expected)
    flagged = (score < float(threshold)) | (counts < MIN_CLASS_COUNT)
    return pd.DataFrame(
        {
            "class": encoded.classes,
            "count": counts.astype(np.int64),
            "share": share,
            "expected_share": expected,
            "class_imbalance_score": score,
            "is_class_imbalance_issue": flagged,
        }
    )


def _check_frame(frame: Any) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(
            f"frame must be a pandas DataFrame; got {type(frame).__name__}",
            hint="Pass the table with its columns, e.g. pd.read_parquet(path).",
        )
    return frame


def find_missing_values(frame: pd.DataFrame) -> pd.DataFrame:
    """Count the missing values of every example (row) and name the columns they are in.

    Use it before imputing or dropping: rows missing many values are often broken records,
    and the columns they miss tell whether values are missing at random.

    Parameters
    ----------
    frame
        The table, one row per example. Missing means ``pd.isna``: ``None``, ``NaN``,
        ``NaT`` and ``pd.NA`` (not empty strings; turn those into ``NA`` first if they mean
        missing).

    Returns
    -------
    pandas.DataFrame
        One row per example with ``frame``'s index and columns ``missing_count`` (int),
        ``missing_columns`` (the names of the columns with a missing value, joined with
        ``";"``; ``""`` for a complete row), ``missing_values_score`` (``1 - missing_count /
        n_columns``, low = more missing; 1 for a complete row) and
        ``is_missing_values_issue`` (any value missing).

    Raises
    ------
    InvalidInputError
        ``frame`` is not a DataFrame.

    Notes
    -----
    The score is the fraction of a row's values that are present. Every incomplete row is
    flagged: whether to impute, drop or collect is a decision per column, which
    :func:`missing_value_summary` informs. Little & Rubin [1]_ set out when dropping
    incomplete rows biases the analysis (unless values are missing completely at random).

    References
    ----------
    .. [1] Little, R. J. A. & Rubin, D. B. (2019). Statistical Analysis with Missing Data,
       3rd ed. Wiley.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"age": [31, None, 45], "city": ["Oslo", None, "Rome"],
    ...                       "score": [0.5, 0.7, None]})
    >>> print(find_missing_values(frame).to_string())
       missing_count missing_columns  missing_values_score  is_missing_values_issue
    0              0                              1.000000                    False
    1              2        age;city              0.333333                     True
    2              1           score              0.666667                     True
    """
    frame = _check_frame(frame)
    missing = frame.isna().to_numpy(dtype=bool)
    counts = missing.sum(axis=1).astype(np.int64)
    names = np.array([str(c) for c in frame.columns], dtype=object)
    columns = [
        ";".join(names[row]) if count else "" for row, count in zip(missing, counts, strict=True)
    ]
    n_columns = missing.shape[1]
    score = 1.0 - counts / n_columns if n_columns else np.ones(len(frame))
    return pd.DataFrame(
        {
            "missing_count": counts,
            "missing_columns": pd.Series(columns, index=frame.index, dtype=object),
            "missing_values_score": score,
            "is_missing_values_issue": counts > 0,
        },
        index=frame.index,
    )


def missing_value_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Summarise missing values per column: how many, and what share of the rows.

    Parameters
    ----------
    frame
        The table, one row per example; missing means ``pd.isna``.

    Returns
    -------
    pandas.DataFrame
        One row per column of ``frame`` (in its order), with columns ``column``,
        ``dtype`` (as text), ``missing_count`` and ``missing_share`` (``missing_count /
        n_rows``; 0 for an empty frame).

    Raises
    ------
    InvalidInputError
        ``frame`` is not a DataFrame.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"age": [31, None, 45, 52], "city": ["Oslo", None, None, "Rome"]})
    >>> print(missing_value_summary(frame).drop(columns="dtype").to_string())
      column  missing_count  missing_share
    0    age              1           0.25
    1   city              2           0.50
    """
    frame = _check_frame(frame)
    counts = frame.isna().sum(axis=0).to_numpy(dtype=np.int64)
    n = len(frame)
    return pd.DataFrame(
        {
            "column": [str(c) for c in frame.columns],
            "dtype": [str(t) for t in frame.dtypes],
            "missing_count": counts,
            "missing_share": counts / n if n else np.zeros(len(counts)),
        }
    )
