"""``dcai predict``: a registered model over a file or a dataset version (batch)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from dcai.cli._context import open_workspace
from dcai.cli._output import console, print_json, progress_bar


def predict(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="NAME, NAME/3 or NAME@alias.")],
    source: Annotated[
        str, typer.Argument(help="A CSV, Parquet or JSON Lines file, or a dataset ref.")
    ],
    out: Annotated[Path, typer.Option("--out", help="The Parquet file to write.")],
    deployment: Annotated[
        str | None,
        typer.Option(
            "--deployment", help="Log the rows under this deployment (default: the model's name)."
        ),
    ] = None,
    chunk_rows: Annotated[int, typer.Option("--chunk-rows", help="Rows per chunk.")] = 50_000,
    no_log: Annotated[bool, typer.Option("--no-log", help="Do not log the predictions.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --out if it exists.")] = False,
    json_: Annotated[
        bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")
    ] = False,
) -> None:
    """Predict every row with a registered model, chunk by chunk, into a Parquet file (id,
    label, confidence, p_<class>); rows are logged like online requests with route batch."""
    ws = open_workspace(ctx)
    with progress_bar(f"predicting with {model}") as progress:
        result = ws.deployments.predict_batch(
            model,
            source,
            out,
            deployment=deployment,
            chunk_rows=chunk_rows,
            log=not no_log,
            force=force,
            progress=progress,
        )
    if json_:
        print_json(result.to_dict())
        return
    console.print(
        f"[green]wrote[/] {result.rows:,} predictions of {escape(result.model_version)} to "
        f"{escape(str(result.out))} in {result.seconds:.1f} s; logged {result.logged:,} rows "
        f"under {escape(result.deployment)}"
    )
