"""Turn a table (numbers, categories, free text) into one numeric matrix for distance-based checks.

Distance-based detectors (neighbour label agreement, outliers, near-duplicates) need every
example as a vector of numbers in which each input column weighs about the same.
:func:`feature_matrix` builds it; :func:`model_input_kind` says what kind of input a model
will see, which :func:`dcai.quality.default_model` uses to pick a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from dcai.errors import InvalidInputError
from dcai.quality._validation import check_features, rows_of

__all__ = ["FeatureRoles", "feature_matrix", "infer_feature_roles", "model_input_kind"]

InputKind = Literal["tabular", "text", "image", "embedding"]

#: Same rule as column-role inference in :mod:`dcai.data` (mean length or spaces).
_TEXT_MEAN_LENGTH = 30
_TEXT_MEAN_SPACES = 3
#: Rows looked at to infer a column's role.
_ROLE_SAMPLE = 2000
#: One-hot columns kept per categorical column; rarer values share one "other" column.
MAX_CATEGORIES = 50
#: Vocabulary cap of the TF-IDF step (terms by corpus frequency).
MAX_TEXT_TERMS = 50_000
#: A 2-D numeric array this wide, of non-negative integer (or [0, 1]) values, looks like pixels.
_MIN_PIXEL_COLUMNS = 256
#: A dense float array at least this wide, with negative values, looks like embeddings.
_MIN_EMBEDDING_COLUMNS = 32

_MISSING = "__missing__"
_OTHER = "__other__"


@dataclass(frozen=True)
class FeatureRoles:
    """Which columns are encoded as numbers, as categories, and as free text."""

    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    text: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        """All encoded columns: numeric, then categorical, then text."""
        return self.numeric + self.categorical + self.text


def _is_nested(value: object) -> bool:
    return isinstance(value, list | tuple | set | frozenset | dict | np.ndarray | bytes)


def _unsupported(column: str, what: str) -> InvalidInputError:
    return InvalidInputError(
        f"cannot turn {what} into features",
        column=column,
        hint="Convert the column to numbers, categories or text first, or leave it out "
        "(pass numeric=, categorical= and text= to choose the columns).",
    )


def _check_column(frame: pd.DataFrame, column: Any) -> pd.Series:
    if column not in frame.columns:
        raise InvalidInputError(
            "column not found",
            column=str(column),
            hint=f"Pick among: {', '.join(map(str, list(frame.columns)[:10]))}.",
        )
    series = frame[column]
    if isinstance(series, pd.DataFrame):
        raise InvalidInputError(
            "the column name appears more than once", column=str(column), hint="Rename the copies."
        )
    if series.isna().all():
        raise InvalidInputError(
            f"every value is missing ({len(series)} rows)",
            column=str(column),
            hint="Drop the column, or fill its values first.",
        )
    dtype = series.dtype
    if pd.api.types.is_complex_dtype(dtype):
        raise _unsupported(str(column), "complex numbers")
    if isinstance(dtype, pd.IntervalDtype | pd.PeriodDtype):
        raise _unsupported(str(column), f"values of type {dtype}")
    if pd.api.types.is_object_dtype(dtype):
        sample = series.dropna().head(_ROLE_SAMPLE)
        nested = [v for v in sample if _is_nested(v)]
        if nested:
            raise _unsupported(str(column), f"nested values ({type(nested[0]).__name__})")
    return series


def _looks_like_prose(series: pd.Series) -> bool:
    sample = series.dropna().head(_ROLE_SAMPLE)
    if not len(sample) or not all(isinstance(v, str) for v in sample):
        return False
    strings = sample.astype(str)
    return bool(
        strings.str.len().mean() >= _TEXT_MEAN_LENGTH
        or strings.str.count(" ").mean() >= _TEXT_MEAN_SPACES
    )


def _all_numbers(series: pd.Series) -> bool:
    sample = series.dropna()
    return bool(len(sample)) and all(
        isinstance(v, int | float | np.number) and not isinstance(v, bool | np.bool_)
        for v in sample
    )


def _infer_role(series: pd.Series) -> str:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if (
        pd.api.types.is_numeric_dtype(dtype)
        or pd.api.types.is_datetime64_any_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
    ):
        return "numeric"
    if pd.api.types.is_object_dtype(dtype) and _all_numbers(series):
        return "numeric"
    if _looks_like_prose(series):
        return "text"
    return "categorical"


def infer_feature_roles(
    frame: pd.DataFrame,
    *,
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    text: Sequence[str] | None = None,
) -> FeatureRoles:
    """Decide how each column is encoded; validate the columns.

    When ``numeric``, ``categorical`` and ``text`` are all omitted, every column is inferred:
    numbers, datetimes and durations are numeric; booleans, ``category`` columns and short
    strings are categorical; strings that look like prose (mean length ≥ 30 characters or
    ≥ 3 spaces, the rule :mod:`dcai.data` uses for text columns) are text. When any list is
    given, exactly the named columns are used.

    Raises
    ------
    InvalidInputError
        A named column that does not exist, a column whose values are all missing, or a column
        of an unsupported type (complex numbers, intervals, periods, nested values).

    Examples
    --------
    >>> df = pd.DataFrame({"age": [31, 45], "city": ["Oslo", "Rome"],
    ...                    "note": ["arrived late and left early", "no remarks at all today"]})
    >>> infer_feature_roles(df)
    FeatureRoles(numeric=('age',), categorical=('city',), text=('note',))
    """
    if numeric is None and categorical is None and text is None:
        roles: dict[str, list[str]] = {"numeric": [], "categorical": [], "text": []}
        for column in frame.columns:
            series = _check_column(frame, column)
            roles[_infer_role(series)].append(column)
        return FeatureRoles(
            tuple(roles["numeric"]), tuple(roles["categorical"]), tuple(roles["text"])
        )
    chosen = FeatureRoles(tuple(numeric or ()), tuple(categorical or ()), tuple(text or ()))
    seen: set[str] = set()
    for column in chosen.columns:
        if column in seen:
            raise InvalidInputError(
                "column is given more than one role",
                column=str(column),
                hint="Name each column in only one of numeric=, categorical= and text=.",
            )
        seen.add(column)
        series = _check_column(frame, column)
        if column in chosen.numeric and _infer_role(series) != "numeric":
            raise InvalidInputError(
                f"declared numeric but holds values of type {series.dtype} that are not numbers",
                column=str(column),
                hint="Pass it in categorical= or text= instead, or convert it to numbers.",
            )
    return chosen


def numeric_values(series: pd.Series) -> np.ndarray:
    """A column as float64 with NaN for missing (datetimes as seconds since the epoch)."""
    dtype = series.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        since_epoch = pd.to_datetime(series, utc=True) - pd.Timestamp(0, tz="UTC")
        return np.asarray(since_epoch.dt.total_seconds(), dtype=np.float64)
    if pd.api.types.is_timedelta64_dtype(dtype):
        return np.asarray(series.dt.total_seconds(), dtype=np.float64)
    return np.asarray(
        pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    )


def _encode_numeric(series: pd.Series, column: str) -> np.ndarray:
    values = numeric_values(series)
    infinite = np.isinf(values)
    if infinite.any():
        raise InvalidInputError(
            f"{int(infinite.sum())} infinite value(s)",
            column=column,
            rows=rows_of(infinite),
            hint="Replace them with finite values or leave them empty (empty values are imputed).",
        )
    missing = np.isnan(values)
    if missing.any():
        values = np.where(missing, np.nanmedian(values), values)
    centred = values - values.mean()
    scale = centred.std()
    # A constant column carries no distance information: it becomes zeros, not NaN.
    return centred / scale if scale > 0 else np.zeros_like(centred)


def _category_keys(series: pd.Series) -> pd.Series:
    keys = series.astype(object).where(series.notna(), _MISSING)
    return keys.map(str)


def _encode_categorical(series: pd.Series) -> np.ndarray:
    keys = _category_keys(series)
    counts = keys.value_counts(sort=True)
    kept = list(counts.index[:MAX_CATEGORIES])
    if len(counts) > MAX_CATEGORIES:
        kept.append(_OTHER)
        keys = keys.where(keys.isin(kept[:-1]), _OTHER)
    codes = pd.Categorical(keys, categories=kept).codes
    # Every row has exactly one 1, so each categorical column adds at most 2 to a squared distance.
    onehot: np.ndarray = np.eye(len(kept), dtype=np.float64)[codes]
    return onehot


def text_values(series: pd.Series) -> list[str]:
    """A column as a list of strings, missing values as ``""``."""
    return [v if isinstance(v, str) else "" if pd.isna(v) else str(v) for v in series.tolist()]


def _encode_text(
    texts: list[str], column: str, *, dims: int, random_state: int | None
) -> np.ndarray:
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2), sublinear_tf=True, max_features=MAX_TEXT_TERMS, dtype=np.float32
    )
    try:
        tfidf = vectorizer.fit_transform(texts)
    except ValueError as exc:  # "empty vocabulary": no word of two or more characters
        raise InvalidInputError(
            "no words found in the text",
            column=column,
            hint="Check that the column holds text, or encode it as a category instead.",
        ) from exc
    components = min(dims, tfidf.shape[1] - 1, tfidf.shape[0] - 1)
    if components >= 1:
        dense = TruncatedSVD(n_components=components, random_state=random_state).fit_transform(
            tfidf
        )
    else:
        dense = tfidf.toarray()
    return np.asarray(normalize(dense), dtype=np.float64)


def feature_matrix(
    frame: pd.DataFrame | pd.Series | np.ndarray | Sequence[str],
    *,
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    text: Sequence[str] | None = None,
    text_dims: int = 100,
    embeddings: bool = False,
    random_state: int | None = 0,
) -> np.ndarray:
    """Encode a table as a float32 matrix for distance-based detectors.

    Use it to give neighbour-based label checks, outlier and near-duplicate detection one
    numeric vector per example, from numbers, categories and free text alike. Each input column
    weighs about the same in a Euclidean distance: a standardised number has unit variance, a
    one-hot category and an L2-normalised text vector have unit length.

    Parameters
    ----------
    frame
        One row per example. A Series or a list of strings is one text column. A numeric
        array is taken as features already (only validated and cast to float32).
    numeric, categorical, text
        Columns to encode each way. When all three are omitted, roles are inferred (see
        :func:`infer_feature_roles`); when any is given, exactly the named columns are used.
    text_dims
        Dimensions kept per text column after TF-IDF (latent semantic analysis).
    embeddings
        Encode text columns with the all-MiniLM-L6-v2 sentence encoder
        (:func:`dcai.quality.embed_text`, the ``embeddings`` extra) instead of TF-IDF.
        Slower, but near-duplicates that share meaning without sharing words come closer.
    random_state
        Seed of the randomised SVD, for reproducible output.

    Returns
    -------
    numpy.ndarray
        ``(n_rows, n_features)`` float32, finite, C-ordered, in the order numeric columns,
        categorical columns, text columns.

    Raises
    ------
    InvalidInputError
        No rows or no columns, a missing or entirely empty column, an unsupported type,
        infinite numbers, a text column without words.

    Notes
    -----
    Numeric columns: missing values take the column median, then ``(x - mean) / std``; a
    constant column becomes zeros. Categorical columns: one-hot over the
    ``MAX_CATEGORIES`` (50) most frequent values; rarer values share one "other" column and
    missing values are a category of their own. Text columns: TF-IDF over word 1- and
    2-grams with sublinear term frequency, reduced by truncated SVD to ``text_dims``
    dimensions and L2-normalised per row [1]_; with ``embeddings=True``, sentence
    embeddings [2]_ (already unit length).

    References
    ----------
    .. [1] S. Deerwester, S. T. Dumais, G. W. Furnas, T. K. Landauer and R. Harshman,
       "Indexing by latent semantic analysis", Journal of the American Society for
       Information Science 41(6), 391-407, 1990.
    .. [2] N. Reimers and I. Gurevych, "Sentence-BERT: Sentence embeddings using Siamese
       BERT-networks", EMNLP 2019.

    Examples
    --------
    >>> df = pd.DataFrame({"age": [31, 45, None, 52], "city": ["Oslo", "Rome", "Oslo", None]})
    >>> X = feature_matrix(df)
    >>> X.shape, X.dtype
    ((4, 4), dtype('float32'))
    >>> X[:, 1:].tolist()  # one-hot city: Oslo, Rome, missing
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    if isinstance(text_dims, bool) or not isinstance(text_dims, int | np.integer) or text_dims < 1:
        raise InvalidInputError(
            f"text_dims must be a positive integer; got {text_dims!r}",
            hint="100 (the default) suits most text; use fewer for short texts.",
        )
    if isinstance(frame, np.ndarray) and frame.dtype.kind in "biuf":
        return check_features(frame, name="frame")
    if not isinstance(frame, pd.DataFrame):
        series = frame if isinstance(frame, pd.Series) else pd.Series(list(frame), dtype=object)
        frame = series.to_frame(name=series.name if series.name is not None else "text")
        if numeric is None and categorical is None and text is None:
            text = [frame.columns[0]]
    if len(frame) == 0:
        raise InvalidInputError("frame has no rows", hint="Give at least one example.")
    roles = infer_feature_roles(frame, numeric=numeric, categorical=categorical, text=text)
    if not roles.columns:
        raise InvalidInputError(
            "no columns to encode", hint="Give a frame with at least one column, or name columns."
        )
    blocks: list[np.ndarray] = [
        _encode_numeric(frame[c], str(c)).reshape(-1, 1) for c in roles.numeric
    ]
    blocks += [_encode_categorical(frame[c]) for c in roles.categorical]
    for column in roles.text:
        texts = text_values(frame[column])
        if embeddings:
            from dcai.quality._embeddings import embed_text

            blocks.append(embed_text(texts).astype(np.float64))
        else:
            blocks.append(
                _encode_text(texts, str(column), dims=int(text_dims), random_state=random_state)
            )
    return np.ascontiguousarray(np.hstack(blocks), dtype=np.float32)


def model_input_kind(frame_or_array: Any) -> InputKind:
    """Say what kind of input a model will see: ``"tabular"``, ``"text"``, ``"image"``, ``"embedding"``.

    Rules: a list or Series of strings, a 1-D string array, or a frame whose only column is
    prose is ``"text"``; any other frame is ``"tabular"``; a 3-D or 4-D array is ``"image"``;
    a 2-D numeric array is ``"image"`` when it is at least 256 columns wide with non-negative
    integer values or values in [0, 1] (flattened pixels), ``"embedding"`` when it is a dense
    float array at least 32 columns wide with non-integer and negative values, and
    ``"tabular"`` otherwise.

    Examples
    --------
    >>> model_input_kind(["a short review", "another one"])
    'text'
    >>> model_input_kind(np.zeros((10, 28, 28)))
    'image'
    >>> model_input_kind(np.random.default_rng(0).normal(size=(10, 384)))
    'embedding'
    >>> model_input_kind(pd.DataFrame({"age": [31, 45], "city": ["Oslo", "Rome"]}))
    'tabular'
    """
    data = frame_or_array
    if isinstance(data, pd.DataFrame):
        if data.shape[1] == 1 and _infer_role(data.iloc[:, 0]) == "text":
            return "text"
        return "tabular"
    if isinstance(data, pd.Series):
        return (
            "text"
            if data.dtype == object or pd.api.types.is_string_dtype(data.dtype)
            else "tabular"
        )
    if isinstance(data, list | tuple) and data and all(isinstance(v, str) for v in data[:100]):
        return "text"
    array = np.asarray(data)
    if array.dtype.kind in "OUS":
        return "text" if array.ndim == 1 else "tabular"
    if array.ndim >= 3:
        return "image"
    if array.ndim != 2 or array.dtype.kind not in "biuf" or array.size == 0:
        return "tabular"
    n_columns = array.shape[1]
    sample = array[: min(len(array), 500)].astype(np.float64)
    if not np.isfinite(sample).all():
        return "tabular"
    integral = bool(np.all(sample == np.round(sample)))
    non_negative = bool(sample.min() >= 0)
    if n_columns >= _MIN_PIXEL_COLUMNS and non_negative and (integral or sample.max() <= 1):
        return "image"
    if (
        array.dtype.kind == "f"
        and n_columns >= _MIN_EMBEDDING_COLUMNS
        and not integral
        and not non_negative
    ):
        return "embedding"
    return "tabular"
