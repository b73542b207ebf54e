"""Rendering shared by CLI commands: JSON on stdout, Rich tables, progress on stderr."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from dcai._progress import ProgressCallback
from dcai.data import BalanceReport
from dcai.data.versions import DatasetVersion
from dcai.errors import DcaiWarning

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
if not console.is_terminal and console.width < 120:
    # Pipes and CI logs: use a width where lineage tables stay readable.
    console.width = 120


def print_json(data: Any) -> None:
    """Machine-readable output: one JSON document on stdout."""
    print(json.dumps(data, indent=2, default=str, ensure_ascii=False))


@contextmanager
def progress_bar(title: str) -> Iterator[ProgressCallback]:
    """A Rich progress bar on stderr, shown only on a terminal, fed by library step callbacks."""
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
