"""Rendering shared by CLI commands: JSON on stdout, Rich tables, progress on stderr."""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dcai._progress import ProgressCallback
from dcai.errors import DcaiWarning

if TYPE_CHECKING:
    # Not imported at start-up: `dcai --help` must not load pandas, numpy or SQLAlchemy.
    from dcai.data import BalanceReport
    from dcai.data.versions import DatasetVersion

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
if not console.is_terminal and "COLUMNS" not in os.environ and console.width < 120:
    # Pipes and CI logs: use a width where lineage tables stay readable (COLUMNS overrides).
    console.width = 120


def print_json(data: Any) -> None:
    """Machine-readable output: one strict JSON document on stdout.

    NaN, ±inf, pandas NA/NaT become ``null``; numpy scalars and arrays become numbers and
    lists; dates and times ISO strings. ``allow_nan=False`` makes any value that slips past
    :func:`json_safe` fail loudly instead of writing ``NaN``, which strict parsers reject.
    """
    print(json.dumps(json_safe(data), indent=2, ensure_ascii=False, allow_nan=False))


def json_safe(value: Any) -> Any:
    """``value`` with every part made strict-JSON-safe (see :func:`print_json`).

    >>> json_safe({"a": float("nan"), "b": [1.5, float("inf")], 3: (True, None)})
    {'a': None, 'b': [1.5, None], '3': [True, None]}
    >>> import numpy as np, pandas as pd
    >>> json_safe([np.float64("nan"), np.int64(2), pd.NA, pd.NaT, pd.Timestamp("2024-01-02")])
    [None, 2, None, None, '2024-01-02T00:00:00']
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {_json_key(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    return _json_other(value)


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    safe = json_safe(key)
    return json.dumps(safe) if safe is None or isinstance(safe, bool) else str(safe)


def _json_other(value: Any) -> Any:
    """numpy, pandas, datetime and anything else: checked by type name, importing nothing."""
    import datetime as dt

    module = type(value).__module__.split(".")[0]
    if module == "numpy":
        if type(value).__name__ == "datetime64":  # tolist() gives an int at ns precision
            return None if value != value else str(value)
        if hasattr(value, "tolist"):  # scalars and arrays; tolist() gives Python values
            return json_safe(value.tolist())
    elif module == "pandas":
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
        if isinstance(value, pd.Timedelta):
            return str(value)
        if isinstance(value, pd.DataFrame):
            return json_safe(value.to_dict(orient="records"))
        if isinstance(value, pd.Series | pd.Index):
            return json_safe(value.tolist())
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if hasattr(value, "to_dict"):
        return json_safe(value.to_dict())
    return str(value)


@contextmanager
def progress_bar(title: str) -> Iterator[ProgressCallback]:
    """A Rich progress bar on stderr, shown only on a terminal, fed by library step callbacks."""
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn("[bold]{task.fields[title]}[/] {task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as progress:
        task = progress.add_task("starting", total=None, title=title)

        def callback(description: str, done: int, total: int) -> None:
            progress.update(task, description=description, completed=done, total=total)

        yield callback


def version_table(versions: list[DatasetVersion], *, title: str | None = None) -> Table:
    """Lineage as a table: ref, operation, rows, parents, author, time, message."""
    table = Table(title=title, title_justify="left")
    for column in ("version", "op", "rows", "parents", "author", "created (UTC)", "message"):
        table.add_column(column, no_wrap=column in ("version", "created (UTC)"))
    for v in versions:
        table.add_row(
            f"[bold cyan]{v.ref}[/] v{v.seq}",
            escape(v.operation),
            f"{v.rows:,}",
            ", ".join(p[:7] for p in v.parent_ids) or "—",
            escape(v.author),
            v.created_at[:19].replace("T", " "),
            escape(v.message),
        )
    return table


def balance_table(report: BalanceReport) -> Table:
    """Class share per split, with counts."""
    table = Table(title="Balance: class share per split (count)", title_justify="left")
    table.add_column("class")
    for split in report.counts.columns:
        table.add_column(f"{split} ({report.sizes[split]:,})", justify="right")
    for label, row in report.counts.iterrows():
        cells = []
        for split in report.counts.columns:
            count = int(row[split])
            share = float(report.shares.loc[label, split])
            style = "red" if count < 5 else ""
            cell = f"{share:6.1%} ({count:,})"
            cells.append(f"[{style}]{cell}[/]" if style else cell)
        table.add_row(escape(str(label)), *cells)
    return table


def print_warnings(warnings: list[str], *, limit: int = 10) -> None:
    for text in warnings[:limit]:
        console.print(f"[yellow]warning:[/] {escape(text)}")
    if len(warnings) > limit:
        console.print(f"[yellow]… and {len(warnings) - limit} more warnings[/]")


@contextmanager
def dcai_warnings_to_stderr() -> Iterator[None]:
    """Show dcai's warnings (e.g. a fallback to fewer folds) as one line each on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DcaiWarning)
        yield
    seen: set[str] = set()
    for warning in caught:
        if issubclass(warning.category, DcaiWarning):
            text = str(warning.message)
            if text not in seen:
                seen.add(text)
                err_console.print(f"[yellow]warning:[/] {escape(text)}", soft_wrap=True)
        else:
            warnings.showwarning(
                warning.message, warning.category, warning.filename, warning.lineno
            )


_BREAKDOWN_KEYS = ("action", "decision", "type", "kind", "operation", "status")


def summarize_value(value: Any, *, max_items: int = 6, max_chars: int = 80) -> str:
    """One short line for a lineage parameter: long lists and dicts become counts.

    >>> summarize_value([{"action": "keep"}, {"action": "remove"}, {"action": "keep"}] * 3)
    '9 (keep 6, remove 3)'
    >>> summarize_value({"keep": 200, "relabel": 150})
    'keep=200, relabel=150'
    >>> summarize_value(list(range(40)))
    '40 items: 0, 1, 2, 3, 4, 5, …'
    >>> summarize_value("x" * 100, max_chars=20)
    'xxxxxxxxxxxxxxxxxxx… (100 characters)'
    """
    if isinstance(value, Mapping):
        shown = ", ".join(f"{k}={_short_scalar(v, max_chars)}" for k, v in value.items())
        if len(value) <= max_items and _all_scalar(value.values()) and len(shown) <= max_chars:
            return shown or "{}"
        keys = ", ".join(str(k) for k in list(value)[:max_items])
        more = ", …" if len(value) > max_items else ""
        return f"{len(value):,} entries ({_truncate(keys + more, max_chars)})"
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        if not items:
            return "—"
        if all(isinstance(v, Mapping) for v in items):
            return f"{len(items):,}{_breakdown(items)}"
        shown = ", ".join(_short_scalar(v, max_chars) for v in items[:max_items])
        if len(items) <= max_items and _all_scalar(items) and len(shown) <= max_chars:
            return shown
        more = ", …" if len(items) > max_items else ""
        return f"{len(items):,} items: {_truncate(shown + more, max_chars)}"
    return _short_scalar(value, max_chars)


def _breakdown(records: list[Any]) -> str:
    """`` (keep 200, remove 41)``: counts by the first categorical key all records share."""
    for key in _BREAKDOWN_KEYS:
        values = [r.get(key) for r in records]
        if all(isinstance(v, str) for v in values):
            counts: dict[str, int] = {}
            for v in values:
                counts[v] = counts.get(v, 0) + 1
            if len(counts) <= 10:
                return " (" + ", ".join(f"{k} {n:,}" for k, n in sorted(counts.items())) + ")"
    return ""


def _all_scalar(values: Any) -> bool:
    return all(v is None or isinstance(v, bool | int | float | str) for v in values)


def _short_scalar(value: Any, max_chars: int) -> str:
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        return f"({len(value)} items)"
    return _truncate(str(value), max_chars)


def _truncate(text: str, max_chars: int) -> str:
    text = " ".join(text.split())  # one line
    if len(text) <= max_chars:
        return text
    return f"{text[: max_chars - 1]}… ({len(text):,} characters)"


def params_lines(params: Mapping[str, Any]) -> tuple[list[str], bool]:
    """Lineage parameters as ``key: summary`` lines, and whether anything was shortened."""
    lines: list[str] = []
    shortened = False
    for key, value in params.items():
        text = summarize_value(value)
        nested = isinstance(value, list | tuple | set | frozenset | Mapping) and any(
            isinstance(v, Mapping | list | tuple) for v in _values(value)
        )
        shortened = (
            shortened or nested or text != summarize_value(value, max_items=10**9, max_chars=10**9)
        )
        lines.append(f"{key}: {text}")
    return lines, shortened


def _values(value: Any) -> list[Any]:
    return list(value.values()) if isinstance(value, Mapping) else list(value)
