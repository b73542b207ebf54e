"""Read a table from a DataFrame, CSV/TSV, Parquet or JSON Lines, with errors that name the file."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

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


def source_name(source: pd.DataFrame | str | Path) -> str:
    """A short name for where a table came from, for lineage and messages."""
    return "<DataFrame>" if isinstance(source, pd.DataFrame) else str(source)


def read_table(source: pd.DataFrame | str | Path) -> pd.DataFrame:
    """Read ``source`` into a DataFrame with a fresh RangeIndex.

    Raises :class:`~dcai.errors.InvalidInputError` for a missing, empty, unreadable
    or unsupported file, naming the file and what to do.

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
        frame = _read_file(path)
        _check_csv_header(path, frame)
    if frame.shape[1] == 0 or len(frame) == 0:
        raise InvalidInputError(
            "the table is empty (no rows)" if frame.shape[1] else "the table has no columns",
            path=name,
            hint="Check that the right file was given and that it has a header row and data.",
        )
    _check_column_names(frame, name)
    return frame


def _read_file(path: Path) -> pd.DataFrame:
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
    if path.stat().st_size == 0:
        raise InvalidInputError(
            "the file is empty", path=str(path), hint="Give a file with a header row and data."
        )
    try:
        if kind == "csv":
            return pd.read_csv(path)
        if kind == "tsv":
            return pd.read_csv(path, sep="\t")
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
    frame = pd.read_parquet(path, **kwargs)
    # Hand Arrow's cached buffers back to the system: later steps allocate with numpy.
    pa.default_memory_pool().release_unused()
    return frame


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


def _check_csv_header(path: Path, frame: pd.DataFrame) -> None:
    """Refuse a repeated CSV header name, which pandas would silently rename ``x`` → ``x.1``."""
    names = {str(c) for c in frame.columns}
    if not any(n.rpartition(".")[0] in names and n.rpartition(".")[2].isdigit() for n in names):
        return  # nothing renamed: the common case costs no second read
    kind = SUPPORTED_SUFFIXES.get(path.suffix.lower())
    if kind not in ("csv", "tsv"):
        return
    header = pd.read_csv(path, sep="\t" if kind == "tsv" else ",", header=None, nrows=1, dtype=str)
    seen: set[str] = set()
    for name in header.iloc[0].dropna():
        if name in seen:
            raise InvalidInputError(
                "the column name appears twice in the header",
                path=str(path),
                column=name,
                hint="Rename one of them.",
            )
        seen.add(name)
