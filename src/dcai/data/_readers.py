"""Read a table from a DataFrame, CSV/TSV, Parquet or JSON Lines, with errors that name the file."""

from __future__ import annotations

import csv
import inspect
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dcai.errors import InvalidInputError

__all__ = ["SUPPORTED_SUFFIXES", "read_table", "source_name"]

SUPPORTED_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}

_HINT_FORMATS = "Supported formats: CSV (.csv, .tsv), Parquet (.parquet), JSON Lines (.jsonl)."

# pandas >= 3.0 passes options through to ``pyarrow.Table.to_pandas``.
_TO_PANDAS_KWARGS = "to_pandas_kwargs" in inspect.signature(pd.read_parquet).parameters


#: A DataFrame read from a file by a caller (e.g. ``dcai data add --sep``) may carry the file's
#: name in ``frame.attrs[SOURCE_ATTR]``, so that messages and lineage still name the file.
SOURCE_ATTR = "dcai_source"

_SEPARATOR_NAMES = {"\t": "tab", ";": "semicolon", "|": "pipe", ",": "comma"}


def source_name(source: pd.DataFrame | str | Path) -> str:
    """A short name for where a table came from, for lineage and messages."""
    if isinstance(source, pd.DataFrame):
        return str(source.attrs.get(SOURCE_ATTR, "<DataFrame>"))
    return str(source)


def read_table(source: pd.DataFrame | str | Path, *, sep: str | None = None) -> pd.DataFrame:
    """Read ``source`` into a DataFrame with a fresh RangeIndex.

    ``sep`` overrides the field separator of a CSV/TSV file (default: ``,`` for ``.csv``,
    tab for ``.tsv``). Raises :class:`~dcai.errors.InvalidInputError` for a missing, empty,
    unreadable or unsupported file, naming the file, the line at fault and what to do.

    >>> import pandas as pd
    >>> read_table(pd.DataFrame({"x": [1, 2], "label": ["a", "b"]})).shape
    (2, 2)
    """
    if isinstance(source, pd.DataFrame):
        frame = source.reset_index(drop=True)
        name = "<DataFrame>"
    else:
        path = Path(source)
        name = str(path)
        frame = _read_file(path, sep)
        _check_csv_header(path, frame, sep)
    if frame.shape[1] == 0 or len(frame) == 0:
        raise InvalidInputError(
            "the table is empty (no rows)" if frame.shape[1] else "the table has no columns",
            path=name,
            hint="Check that the right file was given and that it has a header row and data.",
        )
    _check_column_names(frame, name)
    return frame


def _read_file(path: Path, sep: str | None = None) -> pd.DataFrame:
    if not path.exists():
        raise InvalidInputError("file not found", path=str(path), hint="Check the path.")
    if path.is_dir():
        raise InvalidInputError("is a folder, not a file", path=str(path), hint=_HINT_FORMATS)
    kind = SUPPORTED_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InvalidInputError(
            f"unsupported file type {path.suffix or '(no suffix)'!r}",
            path=str(path),
            hint=_HINT_FORMATS,
        )
    if sep is not None and kind not in ("csv", "tsv"):
        raise InvalidInputError(
            f"a separator applies to CSV and TSV files only, not to {kind} files",
            path=str(path),
            hint="Drop --sep.",
        )
    if path.stat().st_size == 0:
        raise InvalidInputError(
            "the file is empty", path=str(path), hint="Give a file with a header row and data."
        )
    try:
        if kind in ("csv", "tsv"):
            separator = sep or ("\t" if kind == "tsv" else ",")
            try:
                frame = pd.read_csv(path, sep=separator)
            except pd.errors.ParserError as exc:
                _check_separator(path, separator)
                raise _csv_error(path, separator, exc) from exc
            if frame.shape[1] == 1:
                _check_separator(path, separator)
            return frame
        if kind == "parquet":
            return _read_parquet(path)
        return _read_jsonl(path)
    except InvalidInputError:
        raise
    except pd.errors.EmptyDataError as exc:
        raise InvalidInputError(
            "the file has no data", path=str(path), hint="Give a file with a header row and data."
        ) from exc
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"the file is not UTF-8 text (byte {exc.start} cannot be decoded)",
            path=str(path),
            hint="Save it as UTF-8 (e.g. in a spreadsheet: CSV UTF-8) and add it again.",
        ) from exc
    except (pd.errors.ParserError, OSError, ValueError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidInputError(
            f"cannot read the file as {kind}: {detail}", path=str(path), hint=_HINT_FORMATS
        ) from exc


def _read_parquet(path: Path) -> pd.DataFrame:
    # Same frame as ``pd.read_parquet(path)`` with a lower peak: column chunks are read one
    # at a time (no pre-buffering of the whole file) and, where pandas allows it, Arrow
    # memory is freed column by column while converting, without consolidating columns.
    kwargs: dict[str, Any] = {"pre_buffer": False}
    if _TO_PANDAS_KWARGS:
        kwargs["to_pandas_kwargs"] = {"self_destruct": True, "split_blocks": True}
    try:
        frame = pd.read_parquet(path, **kwargs)
    except (pa.ArrowInvalid, ValueError):
        _check_parquet_names(path)
        raise
    # Hand Arrow's cached buffers back to the system: later steps allocate with numpy.
    pa.default_memory_pool().release_unused()
    return frame


def _check_parquet_names(path: Path) -> None:
    """Refuse a Parquet file with a repeated column name as a CSV header gets refused."""
    try:
        names = pq.read_schema(path).names
    except (pa.ArrowException, OSError, ValueError):
        return  # not readable as Parquet at all: the caller reports the original error
    _refuse_repeated_names(names, path)


def _first_lines(path: Path, count: int) -> list[str]:
    lines = []
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        for line in handle:
            lines.append(line.rstrip("\r\n"))
            if len(lines) == count:
                break
    return lines


def _check_separator(path: Path, sep: str) -> None:
    """A header without ``sep`` but split by another separator (and so is the next line, if
    any, into as many fields): say which separator to pass."""
    lines = _first_lines(path, 2)
    header = lines[0] if lines else ""
    if sep in header:
        return
    for other, word in _SEPARATOR_NAMES.items():
        count = header.count(other)
        if other != sep and count and all(line.count(other) == count for line in lines[1:]):
            shown = "\\t" if other == "\t" else other
            suffix = " (or rename the file to .tsv)" if other == "\t" else ""
            raise InvalidInputError(
                f"the file looks {word}-separated: its header holds {word}s and no "
                f"{_SEPARATOR_NAMES.get(sep, repr(sep))}s",
                path=str(path),
                hint=f"Pass --sep '{shown}' to dcai data add{suffix}.",
            )


_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_OPEN_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")


def _csv_error(path: Path, sep: str, exc: pd.errors.ParserError) -> InvalidInputError:
    """The parser's complaint as one line naming the line at fault and what to do."""
    text = str(exc)
    ragged = _RAGGED.search(text)
    if ragged:
        expected, line, found = ragged.groups()
        return InvalidInputError(
            f"line {line} has {found} fields but the header has {expected}",
            path=str(path),
            hint='Quote fields that contain the separator ("a, b") or remove the extra field.',
        )
    quote = _OPEN_QUOTE.search(text)
    if quote:
        line = _unclosed_quote_line(path, sep)
        where = f"line {line}" if line else f"record {int(quote.group(1)) + 1}"
        return InvalidInputError(
            f"a quote opened on {where} is never closed",
            path=str(path),
            hint="Check the quotes there: close the field's quote, and write a quote inside a "
            'quoted field as "".',
        )
    detail = text.splitlines()[0] if text else type(exc).__name__
    return InvalidInputError(
        f"cannot read the file as CSV: {detail}", path=str(path), hint=_HINT_FORMATS
    )


def _unclosed_quote_line(path: Path, sep: str) -> int | None:
    """The line where the record holding an unclosed quote starts (None if not found)."""
    if len(sep) != 1:
        return None
    start = 1
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter=sep, strict=True)
        try:
            for _ in reader:
                start = reader.line_num + 1
        except csv.Error as exc:
            return start if "end of data" in str(exc) else None
    return None


def _read_jsonl(path: Path) -> pd.DataFrame:
    records = []
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(
                    f"line {line_no} is not valid JSON: {exc.msg}",
                    path=str(path),
                    hint="Each line must hold one JSON object.",
                ) from exc
            if not isinstance(record, dict):
                raise InvalidInputError(
                    f"line {line_no} is a JSON {type(record).__name__}, not an object",
                    path=str(path),
                    hint='Each line must hold one JSON object such as {"text": ..., "label": ...}.',
                )
            records.append(record)
    return pd.DataFrame.from_records(records)


def _check_column_names(frame: pd.DataFrame, name: str) -> None:
    columns = [str(c) for c in frame.columns]
    if any(not isinstance(c, str) for c in frame.columns):
        frame.columns = pd.Index(columns)
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            raise InvalidInputError(
                "the column name appears twice",
                path=name,
                column=column,
                hint="Rename one of them.",
            )
        if not column.strip():
            raise InvalidInputError(
                "a column has an empty name", path=name, hint="Give every column a header."
            )
        seen.add(column)
        if column.startswith("Unnamed: ") and column[len("Unnamed: ") :].isdigit():
            position = int(column[len("Unnamed: ") :]) + 1
            raise InvalidInputError(
                f"column {position} has no name in the header",
                path=name,
                hint="Name it, or drop it (a nameless first column is often a saved row index).",
            )


def _check_csv_header(path: Path, frame: pd.DataFrame, sep: str | None = None) -> None:
    """Refuse a repeated CSV header name, which pandas would silently rename ``x`` → ``x.1``."""
    names = {str(c) for c in frame.columns}
    if not any(n.rpartition(".")[0] in names and n.rpartition(".")[2].isdigit() for n in names):
        return  # nothing renamed: the common case costs no second read
    kind = SUPPORTED_SUFFIXES.get(path.suffix.lower())
    if kind not in ("csv", "tsv"):
        return
    separator = sep or ("\t" if kind == "tsv" else ",")
    header = pd.read_csv(path, sep=separator, header=None, nrows=1, dtype=str)
    _refuse_repeated_names(header.iloc[0].dropna(), path)


def _refuse_repeated_names(names: Iterable[str], path: Path) -> None:
    """One message for a header that names a column twice, whatever the file format."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidInputError(
                "the column name appears twice in the header",
                path=str(path),
                column=name,
                hint="Rename one of them.",
            )
        seen.add(name)
