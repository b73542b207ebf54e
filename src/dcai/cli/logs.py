"""``dcai logs``: the prediction log — rows with their feedback, and production data as a
dataset version."""

from __future__ import annotations

import math
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from dcai.cli._context import open_workspace
from dcai.cli._output import console, print_json

app = typer.Typer(
    help="Prediction logs: what each deployment answered, with feedback; back into a dataset.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
SinceOption = Annotated[
    str | None,
    typer.Option("--since", help="Only rows from the last 30m / 1h / 2d, or an ISO date."),
]


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@app.command("show")
def show(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(help="The deployment.")],
    since: SinceOption = None,
    limit: Annotated[
        int, typer.Option("--limit", help="At most this many rows, newest first.")
    ] = 20,
    json_: JsonOption = False,
) -> None:
    """Logged predictions of a deployment, newest first, with their feedback joined."""
    from dcai.deploy.logs import decoded

    ws = open_workspace(ctx)
    frame = ws.deployments.logs(deployment, since=since, limit=limit)
    rows = [
        {
            "request_id": r["request_id"],
            "index": _plain(r["index"]),
            "time": r["time"],
            "revision": _plain(r["revision"]),
            "route": r["route"],
            "model_version": r["model_version"],
            "inputs": decoded(r["inputs"]),
            "label": decoded(r["label"]),
            "confidence": _plain(r["confidence"]),
            "needs_review": _plain(r["needs_review"]),
            "latency_ms": _plain(r["latency_ms"]),
            "feedback": (
                None
                if _plain(r["feedback_time"]) is None
                else {
                    "label": decoded(r["feedback_label"]),
                    "outcome": _plain(r["feedback_outcome"]),
                    "time": r["feedback_time"],
                }
            ),
        }
        for r in frame.to_dict(orient="records")
    ]
    if json_:
        print_json({"deployment": deployment, "rows": rows})
        return
    if not rows:
        console.print(
            f"no logged predictions for {escape(deployment)}" + (f" since {since}" if since else "")
        )
        return
    table = Table(
        title=f"{escape(deployment)}: newest {len(rows)} logged predictions", title_justify="left"
    )
    for column in ("time (UTC)", "route", "model", "label", "confidence", "review", "feedback"):
        table.add_column(column, justify="right" if column == "confidence" else "left")
    for r in rows:
        feedback = r["feedback"]
        table.add_row(
            str(r["time"])[:19],
            r["route"],
            escape(str(r["model_version"])),
            escape(str(r["label"])),
            f"{r['confidence']:.3f}" if r["confidence"] is not None else "—",
            "yes" if r["needs_review"] else "",
            escape(str(feedback["label"] if feedback["label"] is not None else feedback["outcome"]))
            if feedback
            else "—",
        )
    console.print(table)


@app.command("to-dataset")
def to_dataset(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(help="The deployment whose rows to commit.")],
    name: Annotated[str, typer.Option("--name", help="The dataset to add the version to.")],
    since: SinceOption = None,
    only_labeled: Annotated[
        bool, typer.Option("--only-labeled", help="Only rows that got a feedback label.")
    ] = False,
    sample: Annotated[
        str | None,
        typer.Option(
            "--sample", help="uncertainty:N — the N least confident rows (to label next)."
        ),
    ] = None,
    message: Annotated[str, typer.Option("--message", "-m", help="What this version is.")] = "",
    json_: JsonOption = False,
) -> None:
    """Commit logged production rows as the next version of a dataset: inputs as features,
    feedback as labels, the model's answer as metadata; lineage names the deployment."""
    ws = open_workspace(ctx)
    version = ws.deployments.to_dataset(
        deployment,
        dataset=name,
        since=since,
        only_labeled=only_labeled,
        sample=sample,
        message=message,
    )
    if json_:
        print_json(
            {"ref": version.ref, "id": version.id, "rows": version.rows, "new": version.created}
        )
        return
    labeled = version.params.get("labeled", 0)
    console.print(
        f"[green]committed[/] [bold cyan]{escape(version.ref)}[/]: {version.rows:,} rows from "
        f"{escape(deployment)} ({labeled:,} with feedback labels)"
    )
