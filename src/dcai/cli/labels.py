"""``dcai labels``: annotations from several labelers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
