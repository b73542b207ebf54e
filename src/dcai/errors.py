"""Every error dcai raises, in one tree.

::

    DcaiError                          base of everything dcai raises on purpose
    ├── InvalidInputError (ValueError) bad data or arguments from the user
    │   └── SchemaError                a column is missing, mistyped or misdeclared
    ├── UnknownRefError (LookupError)  a dataset, version or object that does not exist
    ├── WorkspaceError                 the workspace is missing, damaged or too new
    │   ├── WorkspaceBusyError         another process holds the write lock: retry
    │   ├── CorruptObjectError         a stored object does not match its hash
    │   └── StorageError               a store cannot be written (full, read-only, denied)
    └── MissingDependencyError (ImportError)  an optional extra is not installed

    DcaiWarning (UserWarning)          something dcai did differently from what was asked
    └── FallbackWarning                a documented fallback was taken (e.g. fewer folds)

Each error carries fields (``path``, ``column``, ``rows``, ``hint``) so that the CLI,
the HTTP API and the web UI render it without parsing strings. ``str(error)`` is the
one-line message: where, what, what was received, and what to do.

Examples
--------
>>> from dcai.errors import SchemaError
>>> err = SchemaError("column not found", path="labels.csv", column="label",
...                   hint="Pick another column with --label.")
>>> str(err)
'labels.csv, column "label": column not found. Pick another column with --label.'
>>> isinstance(err, ValueError)
True
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "CorruptObjectError",
    "DcaiError",
    "DcaiWarning",
    "FallbackWarning",
    "InvalidInputError",
    "MissingDependencyError",
    "SchemaError",
    "StorageError",
    "UnknownRefError",
    "WorkspaceBusyError",
    "WorkspaceError",
]

_MAX_ROWS_SHOWN = 5


def format_rows(rows: Sequence[int], *, limit: int = _MAX_ROWS_SHOWN) -> str:
    """Render row numbers as ``rows 4, 18, 97`` (or ``row 4``), truncated past ``limit``.

    >>> format_rows([4, 18, 97])
    'rows 4, 18, 97'
    >>> format_rows(list(range(1, 9)), limit=3)
    'rows 1, 2, 3, … (8 in all)'
    """
    rows = list(rows)
    word = "row" if len(rows) == 1 else "rows"
    shown = ", ".join(str(r) for r in rows[:limit])
    more = f", … ({len(rows)} in all)" if len(rows) > limit else ""
    return f"{word} {shown}{more}"


class DcaiError(Exception):
    """Base class of every error dcai raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        column: str | None = None,
        rows: Sequence[int] | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.column = column
        self.rows = list(rows) if rows is not None else None
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = []
        if self.path:
            where.append(str(self.path))
        if self.column is not None:
            where.append(f'column "{self.column}"')
        prefix = ", ".join(where)
        text = f"{prefix}: {self.message}" if prefix else self.message
        if self.rows:
            text = f"{text} ({format_rows(self.rows)})"
        if not text.endswith((".", "?", "!")):
            text += "."
        if self.hint:
            text = f"{text} {self.hint}"
        return text

    def to_dict(self) -> dict[str, object]:
        """The error as the JSON object that the CLI and HTTP API print."""
        return {
            "type": type(self).__name__,
            "message": str(self),
            "hint": self.hint,
            "path": self.path,
            "column": self.column,
            "rows": self.rows,
        }


class InvalidInputError(DcaiError, ValueError):
    """Bad data or arguments from the user; fix the input and try again."""


class SchemaError(InvalidInputError):
    """A column is missing, has the wrong type, or is declared twice."""


class UnknownRefError(DcaiError, LookupError):
    """A dataset, version, run or object that the workspace does not hold."""


class WorkspaceError(DcaiError):
    """The workspace is missing, damaged, or was written by a newer dcai."""


class WorkspaceBusyError(WorkspaceError):
    """Another process holds the workspace's write lock; the operation can be retried."""


class CorruptObjectError(WorkspaceError):
    """A stored object's bytes do not hash to its name: damaged, or replaced by other bytes.

    Nothing read from such an object is ever used; ``dcai verify`` lists every one.
    """


class StorageError(WorkspaceError):
    """A store cannot be written: the disk is full, the file system is read-only, or
    permission is denied. Nothing was committed; free space or fix permissions and retry."""


class MissingDependencyError(DcaiError, ImportError):
    """An optional part of dcai needs an extra that is not installed."""


class DcaiWarning(UserWarning):
    """Base class of the warnings dcai emits (through :mod:`warnings` and the ``dcai`` logger)."""


class FallbackWarning(DcaiWarning):
    """dcai took a documented fallback, e.g. fewer cross-validation folds for a rare class."""
