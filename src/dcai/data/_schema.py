"""Column roles (id, label, features, text, meta, split): declaration, inference, validation.

Roles say what each column is for. Declared roles always win; undeclared columns are
inferred: a column named ``label``/``target``/``class``/``y`` is the label, ``example_id``
is the id, ``split`` holds the split, and among the other columns

- datetime columns, and string columns of ISO 8601 dates/times, are metadata;
- string columns that look like ids (every value unique and present, no whitespace, mostly
  with digits or all of one length) are metadata, never text: an id is not a model input,
  and it only becomes ``example_id`` when declared (``--id``), since ids are part of a
  version's identity;
- short string columns with many distinct values (more than half of the rows, e.g. author
  names) are metadata, not categorical features;
- string columns whose values look like prose (mean length ≥ 30 characters or ≥ 3 spaces)
  are text, and the rest are features.

:func:`inference_notes` says why an undeclared column became metadata.

Metadata columns of ISO 8601 date/time strings are stored as datetimes
(:func:`convert_iso_datetimes`, called when a table is added) when *every* non-missing value
parses: values without a UTC offset become ``datetime64[ns]``; when every value carries an
offset (``Z``, ``+02:00``) they are converted to UTC, ``datetime64[ns, UTC]``. Otherwise (a
value that does not parse, a mix of values with and without offsets, a date outside the
nanosecond range 1677-2262) the strings are kept as they are and the note says why.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dcai.errors import SchemaError

__all__ = [
    "EXAMPLE_ID",
    "LABEL_NAME_GUESSES",
    "SPLIT",
    "SPLIT_NAMES",
    "ColumnRoles",
    "convert_iso_datetimes",
    "infer_roles",
    "inference_notes",
    "iso_datetime_columns",
    "validate_table",
]

EXAMPLE_ID = "example_id"
SPLIT = "split"
SPLIT_NAMES = ("train", "dev", "test")
LABEL_NAME_GUESSES = ("label", "labels", "target", "class", "y")

_TEXT_MEAN_LENGTH = 30
_TEXT_MEAN_SPACES = 3
_MOSTLY_NUMERIC = 0.8
#: Rows looked at for the value-based rules (prose, dates).
_ROLE_SAMPLE = 2000
#: An id-like column needs at least this many values (two unique words are not ids).
_ID_MIN_VALUES = 20
#: ... and most values holding a digit, or all values of one length at least this long.
_ID_DIGIT_SHARE = 0.9
_ID_FIXED_LENGTH = 8
#: A name-like column: at least this many values, more than this share of them distinct.
_NAME_MIN_VALUES = 50
_NAME_DISTINCT_SHARE = 0.5
#: A date column: at least this share of the (sampled) values parse as ISO 8601.
_DATE_SHARE = 0.95
_ISO_DATE_START = re.compile(r"^\s*[+-]?\d{4}-\d{2}")
#: A time followed by a UTC offset: ``Z``, ``+02``, ``+0200`` or ``+02:00``.
_ISO_OFFSET_END = re.compile(
    r"[T ]\d{2}(?::?\d{2}(?::?\d{2}(?:[.,]\d+)?)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)\s*$"
)

#: Why an undeclared column was made metadata (keys of :func:`inference_notes`).
NOTE_DATETIME = "dates/times"
NOTE_ID = "looks like an id"
NOTE_NAMES = "many distinct short values, like names"
#: Start of the note for a column of ISO dates/times kept as strings (the reason follows).
NOTE_DATETIME_KEPT = "dates/times, kept as strings"


@dataclass(frozen=True)
class ColumnRoles:
    """What each column of a dataset version is for.

    ``id`` is the name of the user's id column whose values became ``example_id``
    (``None`` when ids were derived from content).
    """

    label: str
    id: str | None = None
    features: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    meta: tuple[str, ...] = ()
    split: str | None = None
    dtypes: dict[str, str] = field(default_factory=dict, compare=False)
    #: Boolean columns naming sets of examples (see :mod:`dcai.data.tags`); never model inputs.
    tags: tuple[str, ...] = ()
    #: Columns holding personal or confidential values (any role but id, label and split):
    #: a prediction server hashes them or leaves them out of its log (docs/deploy.md).
    sensitive: tuple[str, ...] = ()

    @property
    def inputs(self) -> tuple[str, ...]:
        """Columns a model reads: features then text."""
        return self.features + self.text

    @property
    def data_columns(self) -> tuple[str, ...]:
        """Every stored column other than ``example_id``, label and split."""
        return self.features + self.text + self.meta + self.tags

    def role_of(self, column: str) -> str:
        """The role of one stored column."""
        if column == EXAMPLE_ID:
            return "id"
        if column == self.label:
            return "label"
        if column == self.split:
            return "split"
        if column in self.tags:
            return "tag"
        for role in ("features", "text", "meta"):
            if column in getattr(self, role):
                return role.rstrip("s") if role == "features" else role
        raise KeyError(column)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("features", "text", "meta", "tags"):
            data[key] = list(data[key])
        data["sensitive"] = list(data["sensitive"])
        for key in ("tags", "sensitive"):
            if not data[key]:
                del data[key]  # versions without them keep the schema they always had
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnRoles:
        return cls(
            label=data["label"],
            id=data.get("id"),
            features=tuple(data.get("features", ())),
            text=tuple(data.get("text", ())),
            meta=tuple(data.get("meta", ())),
            split=data.get("split"),
            dtypes=dict(data.get("dtypes", {})),
            tags=tuple(data.get("tags", ())),
            sensitive=tuple(data.get("sensitive", ())),
        )


def column_not_found(column: str, columns: Sequence[str], source: str, option: str) -> SchemaError:
    close = difflib.get_close_matches(column, list(columns), n=1)
    suggestion = f'Did you mean "{close[0]}"? ' if close else ""
    listing = ", ".join(columns[:12]) + (", …" if len(columns) > 12 else "")
    return SchemaError(
        "no such column",
        path=source,
        column=column,
        hint=f"{suggestion}Pick one of the table's columns with {option} ({listing}).",
    )


def infer_roles(
    frame: pd.DataFrame,
    *,
    label: str | None = None,
    id: str | None = None,
    text: Sequence[str] = (),
    meta: Sequence[str] = (),
    features: Sequence[str] | None = None,
    sensitive: Sequence[str] = (),
    source: str = "<DataFrame>",
) -> ColumnRoles:
    """Decide each column's role from declarations, names and values.

    ``sensitive`` marks columns (of any role but id, label and split) whose values a
    prediction server must not log in the clear.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"x": [1, 2], "note": ["a very long free text comment here", "x y z w"],
    ...                    "target": ["a", "b"]})
    >>> roles = infer_roles(df)
    >>> roles.label, roles.features, roles.text
    ('target', ('x',), ('note',))
    """
    columns = [str(c) for c in frame.columns]
    declared: dict[str, str] = {}

    def declare(column: str, role: str, option: str) -> None:
        if column not in columns:
            raise column_not_found(column, columns, source, option)
        if column in declared and declared[column] != role:
            raise SchemaError(
                f"declared both as {declared[column]} and as {role}",
                path=source,
                column=column,
                hint="Give each column one role.",
            )
        declared[column] = role

    if label is None:
        guesses = [c for c in columns if c.lower() in LABEL_NAME_GUESSES]
        if not guesses:
            listing = ", ".join(columns[:12]) + (", …" if len(columns) > 12 else "")
            raise SchemaError(
                "no label column declared and none named label/target/class/y",
                path=source,
                hint=f"Name the label column with --label (columns: {listing}).",
            )
        label = guesses[0]
    declare(label, "label", "--label")
    if id is None and EXAMPLE_ID in columns and label != EXAMPLE_ID:
        id = EXAMPLE_ID
    if id is not None:
        declare(id, "id", "--id")
    for column in text:
        declare(column, "text", "--text")
    for column in meta:
        declare(column, "meta", "--meta")
    if features is not None:
        for column in features:
            declare(column, "feature", "--feature")
    split = SPLIT if SPLIT in columns and SPLIT not in declared else None
    if split:
        declared[split] = "split"
    if EXAMPLE_ID in columns and declared.get(EXAMPLE_ID) != "id":
        raise SchemaError(
            f'"{EXAMPLE_ID}" is reserved for the example id',
            path=source,
            column=EXAMPLE_ID,
            hint=f"Rename the column, or declare it as the id with --id {EXAMPLE_ID}.",
        )

    out: dict[str, list[str]] = {"feature": [], "text": [], "meta": []}
    for column in columns:
        role = declared.get(column)
        if role is None:
            # An explicit feature list makes every other column metadata.
            role = "meta" if features is not None else _infer_role(frame[column])
        if role in out:
            out[role].append(column)
    dtypes = {c: str(frame[c].dtype) for c in columns}
    for column in sensitive:
        if column not in columns:
            raise column_not_found(column, columns, source, "--sensitive")
        if column in (label, id, split):
            raise SchemaError(
                f"the {declared[column]} column cannot be marked sensitive",
                path=source,
                column=column,
                hint="Mark feature, text or metadata columns; a prediction server hashes them "
                "or leaves them out of its log.",
            )
    return ColumnRoles(
        label=label,
        id=id,
        features=tuple(out["feature"]),
        text=tuple(out["text"]),
        meta=tuple(out["meta"]),
        split=split,
        dtypes=dtypes,
        sensitive=tuple(dict.fromkeys(sensitive)),
    )


def _is_string_column(series: pd.Series) -> bool:
    return bool(pd.api.types.is_string_dtype(series.dtype) or series.dtype == object)


def _string_values(series: pd.Series) -> pd.Series | None:
    """The non-missing values when the column holds strings only, else ``None``."""
    if not _is_string_column(series):
        return None
    values = series.dropna()
    if not len(values) or not all(isinstance(v, str) for v in values.head(_ROLE_SAMPLE)):
        return None
    if pd.api.types.infer_dtype(values, skipna=False) != "string":
        return None
    return values.astype(str)


def _looks_like_prose(strings: pd.Series) -> bool:
    sample = strings.head(_ROLE_SAMPLE)
    return bool(
        sample.str.len().mean() >= _TEXT_MEAN_LENGTH
        or sample.str.count(" ").mean() >= _TEXT_MEAN_SPACES
    )


def _looks_like_dates(strings: pd.Series) -> bool:
    """At least 95% of the sampled values parse fully as ISO 8601 dates/times."""
    sample = strings.head(_ROLE_SAMPLE)
    # Cheap guard first: ISO dates start with a 4-digit year and a month ("2014-01").
    if sample.str.match(_ISO_DATE_START).mean() < _DATE_SHARE:
        return False
    try:
        parsed = pd.to_datetime(sample, format="ISO8601", errors="coerce", utc=True)
    except (ValueError, TypeError, OverflowError):
        return False
    return bool(parsed.notna().mean() >= _DATE_SHARE)


def _mostly_numbers(strings: pd.Series) -> bool:
    sample = strings.head(_ROLE_SAMPLE)
    return bool(pd.to_numeric(sample, errors="coerce").notna().mean() >= _MOSTLY_NUMERIC)


def _looks_like_id(series: pd.Series, strings: pd.Series) -> bool:
    """Every value present and unique, no whitespace, and id-shaped (digits, or fixed length)."""
    if len(strings) < _ID_MIN_VALUES or len(strings) != len(series) or not strings.is_unique:
        return False
    if strings.str.contains(r"\s", regex=True).any():
        return False
    lengths = strings.str.len()
    fixed = lengths.min() == lengths.max() and lengths.min() >= _ID_FIXED_LENGTH
    return bool(fixed or strings.str.contains(r"\d", regex=True).mean() >= _ID_DIGIT_SHARE)


def _looks_like_names(strings: pd.Series) -> bool:
    """Many distinct values (more than half the rows), like author names or free labels."""
    if len(strings) < _NAME_MIN_VALUES:
        return False
    return bool(strings.nunique() > _NAME_DISTINCT_SHARE * len(strings))


def _meta_note(series: pd.Series) -> str | None:
    """Why an undeclared column is metadata, or ``None`` when it is a model input."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return NOTE_DATETIME
    strings = _string_values(series)
    if strings is None:
        return None
    if _looks_like_dates(strings):
        return NOTE_DATETIME
    if _mostly_numbers(strings):
        return None  # numbers stored as strings: a feature (validation checks the strays)
    if _looks_like_id(series, strings):
        return NOTE_ID
    if _looks_like_prose(strings):
        return None
    if _looks_like_names(strings):
        return NOTE_NAMES
    return None


def _infer_role(series: pd.Series) -> str:
    if _meta_note(series) is not None:
        return "meta"
    strings = _string_values(series)
    if strings is not None and _looks_like_prose(strings):
        return "text"
    return "feature"


def inference_notes(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, str]:
    """Why each of ``columns`` would be inferred as metadata (columns with no reason are left out).

    Use it to explain inferred roles, e.g. to suggest ``--id COL`` for a column that looks
    like an id.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"cid": [f"c{i:04d}x" for i in range(30)],
    ...                    "when": ["2014-01-19T04:27:18"] * 30, "x": range(30)})
    >>> inference_notes(df, ["cid", "when", "x"])
    {'cid': 'looks like an id', 'when': 'dates/times'}
    """
    notes: dict[str, str] = {}
    for column in columns:
        if column in frame.columns:
            note = _meta_note(frame[column])
            if note == NOTE_DATETIME and _is_string_column(frame[column]):
                _, reason = _parse_iso(frame[column])
                if reason is not None:
                    note = f"{NOTE_DATETIME_KEPT}: {reason}"
            if note is not None:
                notes[column] = note
    return notes


def _parse_iso(series: pd.Series) -> tuple[pd.Series | None, str | None]:
    """``(datetimes, None)`` for a column of ISO 8601 strings that all parse, else ``(None, why)``.

    Naive values give ``datetime64[ns]``; values that all carry a UTC offset are converted
    to UTC (``datetime64[ns, UTC]``). Missing values become ``NaT``.
    """
    strings = _string_values(series)
    if strings is None or not _looks_like_dates(strings):
        return None, "not ISO 8601 dates/times"
    try:
        parsed = pd.to_datetime(series, format="ISO8601", errors="coerce", utc=True)
    except (ValueError, TypeError, OverflowError):
        return None, "values do not parse as ISO 8601"
    failed = int((parsed.isna() & series.notna()).sum())
    if failed:
        return None, f"{failed} value(s) do not parse"
    try:
        # Without utc=True pandas refuses mixed offsets, and mixed naive and offset values.
        local = pd.to_datetime(series, format="ISO8601", errors="coerce")
        aware = local.dt.tz is not None
    except (ValueError, TypeError, OverflowError, AttributeError):
        # Different offsets are fine (converted to UTC); a mix with naive values is not.
        if not strings.str.contains(_ISO_OFFSET_END).all():
            return None, "some values have a UTC offset and some do not"
        aware = True
    try:
        if aware:
            return parsed.astype("datetime64[ns, UTC]"), None
        return parsed.dt.tz_localize(None).astype("datetime64[ns]"), None
    except (ValueError, OverflowError):  # OutOfBoundsDatetime is a ValueError
        return None, "dates outside 1677-2262"


def iso_datetime_columns(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """Those of ``columns`` whose ISO 8601 date/time strings all parse (see :func:`convert_iso_datetimes`).

    Same rule as the "dates/times" note of :func:`inference_notes`, plus: *every* non-missing
    value parses, and offsets are either on every value or on none.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"when": ["2014-01-19T04:27:18", None], "odd": ["2014-01-19", "soon"]})
    >>> iso_datetime_columns(df, ["when", "odd"])
    ['when']
    """
    return [c for c in columns if c in frame.columns and _parse_iso(frame[c])[0] is not None]


def convert_iso_datetimes(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``frame`` with those of ``columns`` that hold ISO 8601 date/time strings as datetimes.

    A column converts only when every non-missing value parses: naive values become
    ``datetime64[ns]``, values that all carry a UTC offset become ``datetime64[ns, UTC]``.
    Other columns (and columns that do not fully parse) are returned unchanged.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"when": ["2014-01-19T04:27:18Z", "2014-01-19T06:00:00+02:00"]})
    >>> convert_iso_datetimes(df, ["when"])["when"].tolist()
    [Timestamp('2014-01-19 04:27:18+0000', tz='UTC'), Timestamp('2014-01-19 04:00:00+0000', tz='UTC')]
    """
    converted: dict[str, pd.Series] = {}
    for column in columns:
        if column in frame.columns:
            parsed, _ = _parse_iso(frame[column])
            if parsed is not None:
                converted[column] = parsed
    if not converted:
        return frame
    return frame.assign(**converted)


def _rows(mask: np.ndarray[Any, Any] | pd.Series) -> list[int]:
    """1-based data-row numbers where ``mask`` is true (the header is not counted)."""
    return [int(i) + 1 for i in np.flatnonzero(np.asarray(mask))]


def _type_family(value: object) -> str:
    if isinstance(value, bool | np.bool_):
        return "boolean"
    if isinstance(value, int | float | np.number):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple | dict | np.ndarray):
        return "nested"
    return type(value).__name__


def validate_table(frame: pd.DataFrame, roles: ColumnRoles, *, source: str = "<DataFrame>") -> None:
    """Raise :class:`~dcai.errors.SchemaError` for values dcai cannot version faithfully.

    Checks: no empty labels or ids, no duplicate ids, no column mixing numbers and strings,
    no nested values, no feature column of numbers with a few stray strings, and valid
    split names.
    """
    labels = frame[roles.label]
    missing = labels.isna().to_numpy(copy=True)
    if isinstance(labels.dtype, pd.StringDtype) or labels.dtype == object:
        missing |= (labels.astype("string").str.strip() == "").fillna(False).to_numpy(dtype=bool)
    if missing.any():
        raise SchemaError(
            f"{int(missing.sum())} empty label value{'s' if missing.sum() > 1 else ''}",
            path=source,
            column=roles.label,
            rows=_rows(missing),
            hint="Fill or drop them, or pick another column with --label.",
        )
    if roles.id is not None:
        ids = frame[roles.id]
        if ids.isna().any():
            raise SchemaError(
                "empty id values",
                path=source,
                column=roles.id,
                rows=_rows(ids.isna()),
                hint="Every row needs an id; fill them, or leave out --id to derive ids from content.",
            )
        as_text = ids.astype(str)
        dup = as_text.duplicated(keep=False).to_numpy()
        if dup.any():
            values = ", ".join(repr(v) for v in as_text[dup].unique()[:3])
            raise SchemaError(
                f"duplicate ids ({values})",
                path=source,
                column=roles.id,
                rows=_rows(dup),
                hint="Ids must be unique: fix the duplicates, or leave out --id to derive ids from content.",
            )
    for column in frame.columns:
        _check_types(frame[column], str(column), source, roles)
    if roles.split is not None:
        values = frame[roles.split].astype("string")
        bad = ~values.isin(SPLIT_NAMES).fillna(False).to_numpy(dtype=bool)
        if bad.any():
            shown = ", ".join(repr(v) for v in values[bad].unique()[:3])
            raise SchemaError(
                f"split values must be train, dev or test; found {shown}",
                path=source,
                column=roles.split,
                rows=_rows(bad),
                hint="Rename the values, or rename the column to keep it as metadata.",
            )


#: ``infer_dtype`` results whose values all fall in one :func:`_type_family`
#: ("integer" and "mixed-integer-float" exclude booleans; "string" is str values only).
_ONE_TYPE_FAMILY = frozenset({"string", "integer", "floating", "mixed-integer-float", "boolean"})


def _check_type_families(series: pd.Series, values: pd.Series, column: str, source: str) -> None:
    families = values.map(_type_family)
    counts = families.value_counts()
    if "nested" in counts.index:
        nested = families.reindex(series.index).eq("nested").fillna(False).to_numpy(dtype=bool)
        raise SchemaError(
            "holds nested values (lists or objects)",
            path=source,
            column=column,
            rows=_rows(nested),
            hint="Flatten them into separate columns, or store them as strings.",
        )
    if len(counts) > 1:
        minority = counts.index[-1]
        mask = families.reindex(series.index).eq(minority).fillna(False).to_numpy(dtype=bool)
        kinds = " and ".join(f"{n} {k}" for k, n in counts.items())
        raise SchemaError(
            f"mixes types ({kinds} values)",
            path=source,
            column=column,
            rows=_rows(mask),
            hint="Make the column one type (numbers or strings), or declare it with --text/--meta.",
        )


def _check_types(series: pd.Series, column: str, source: str, roles: ColumnRoles) -> None:
    if series.dtype == object:
        values = series.dropna()
        if len(values) == 0:
            return
        # pandas' C-level inference settles the common one-type columns; only the others
        # pay for classifying every value in Python (which also locates the offending rows).
        if pd.api.types.infer_dtype(values, skipna=False) not in _ONE_TYPE_FAMILY:
            _check_type_families(series, values, column, source)
    if column not in roles.features or not _is_string_column(series):
        return
    values = series.dropna()
    if len(values) == 0:
        return
    sample = pd.to_numeric(values.head(1000), errors="coerce")
    if sample.notna().mean() < _MOSTLY_NUMERIC:
        return
    numeric = pd.to_numeric(values, errors="coerce")
    share = float(numeric.notna().mean())
    if _MOSTLY_NUMERIC <= share < 1.0:
        stray = numeric.isna().reindex(series.index).fillna(False).to_numpy(dtype=bool)
        shown = ", ".join(repr(v) for v in series[stray].unique()[:3])
        raise SchemaError(
            f"mostly numbers, but {int(stray.sum())} value(s) are not ({shown})",
            path=source,
            column=column,
            rows=_rows(stray),
            hint="Clean those values (or leave them empty), or declare the column with --text or --meta.",
        )
