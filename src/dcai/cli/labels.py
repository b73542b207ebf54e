"""``dcai labels``: annotations from several labelers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from dcai.cli._context import open_workspace
from dcai.cli._output import console, print_json

app = typer.Typer(help="Annotations from several labelers.", no_args_is_help=True)


@app.command("import")
def import_(
    ctx: typer.Context,
    ref: Annotated[
        str, typer.Argument(help="The dataset (or version ref) the annotations belong to.")
    ],
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV/Parquet/JSONL with example_id, annotator, label [, guideline, time]."
        ),
    ],
    id: Annotated[str, typer.Option("--id", help="Column holding the example id.")] = "example_id",
    annotator: Annotated[
        str, typer.Option("--annotator", help="Column holding the annotator.")
    ] = "annotator",
    label: Annotated[str, typer.Option("--label", help="Column holding the label.")] = "label",
    guideline: Annotated[
        str | None,
        typer.Option(
            "--guideline",
            help="The guideline in force (NAME or NAME@vN), recorded on rows that name none.",
        ),
    ] = None,
    message: Annotated[
        str, typer.Option("--message", "-m", help="Why these annotations were added.")
    ] = "",
    author: Annotated[str | None, typer.Option("--author", help="Who imported them.")] = None,
    json_: Annotated[
        bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")
    ] = False,
) -> None:
    """Import long-form annotations as a new version of the dataset."""
    ws = open_workspace(ctx)
    version = ws.import_annotations(
        ref,
        file,
        id_column=id,
        annotator_column=annotator,
        label_column=label,
        guideline=guideline,
        message=message,
        author=author,
    )
    if json_:
        print_json(
            {
                "ref": version.ref,
                "id": version.id,
                "rows": version.rows,
                "new": version.created,
                "annotations": version.n_annotations,
                "imported": version.params.get("annotations"),
            }
        )
        return
    state = "[green]imported[/]" if version.created else "[yellow]unchanged[/]"
    console.print(
        f"{state} {version.params.get('annotations', 0):,} annotations → [bold cyan]{version.ref}[/] "
        f"({version.n_annotations:,} annotations in all)"
    )


guideline_app = typer.Typer(help="Versioned labeling guidelines (markdown).", no_args_is_help=True)
app.add_typer(guideline_app, name="guideline")


@guideline_app.command("add")
def guideline_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Guideline name, e.g. sentiment.")],
    file: Annotated[Path, typer.Argument(help="A markdown file with the instructions.")],
    message: Annotated[str, typer.Option("--message", "-m", help="What changed and why.")] = "",
    author: Annotated[str | None, typer.Option("--author", help="Who wrote it.")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Store FILE as the next version of guideline NAME (the same text is stored once)."""
    guideline = open_workspace(ctx).add_guideline(name, file, message=message, author=author)
    if json_:
        print_json({**guideline.to_dict(), "new": guideline.created})
        return
    state = "[green]added[/]" if guideline.created else "[yellow]unchanged[/]"
    console.print(f"{state} guideline [bold cyan]{guideline.ref}[/]")


@guideline_app.command("list")
def guideline_list(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Only this guideline.")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List guideline versions."""
    found = open_workspace(ctx).guidelines(name)
    if json_:
        print_json([g.to_dict() for g in found])
        return
    if not found:
        console.print("No guidelines yet. Add one with: dcai labels guideline add NAME FILE.md")
        return
    table = Table()
    for column in ("guideline", "author", "created (UTC)", "message"):
        table.add_column(column)
    for g in found:
        table.add_row(
            f"[bold cyan]{g.ref}[/]",
            escape(g.author),
            g.created_at[:19].replace("T", " "),
            escape(g.message),
        )
    console.print(table)


@guideline_app.command("show")
def guideline_show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME (latest) or NAME@vN.")],
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print a guideline version's text."""
    guideline = open_workspace(ctx).guideline(ref)
    if json_:
        print_json({**guideline.to_dict(), "text": guideline.text})
        return
    console.print(
        f"[bold cyan]{guideline.ref}[/] by {escape(guideline.author)}, {guideline.created_at[:19]}"
    )
    console.print(guideline.text, markup=False, highlight=False)
