"""``dcai review-queue NAME list|decide``: the answers a deployment left to a person."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from dcai.cli._context import open_workspace
from dcai.cli._output import console, print_json

app = typer.Typer(
    help="Human review of a deployment's answers (modes partial, assist, shadow): list the "
    "queue, confirm or correct.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


@app.callback()
def queue(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(help="The deployment whose queue to work on.")],
) -> None:
    """The review queue of one deployment."""
    ctx.meta["deployment"] = deployment


def _label(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@app.command("list")
def list_(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, oldest first.")] = 50,
    json_: JsonOption = False,
) -> None:
    """Answers waiting for a person: needs_review and no decision yet, oldest first."""
    name = ctx.meta["deployment"]
    frame = open_workspace(ctx).deployments.review_queue(name, limit=limit)
    items = [
        {
            "item": f"{r['request_id']}:{int(r['index'])}",
            "time": r["time"],
            "model_version": r["model_version"],
            "suggested": _label(r["label"]),
            "confidence": float(r["confidence"]),
            "inputs": json.loads(r["inputs"]),
        }
        for r in frame.to_dict(orient="records")
    ]
    if json_:
        print_json({"deployment": name, "items": items})
        return
    if not items:
        console.print(f"the review queue of {escape(name)} is empty")
        return
    table = Table(title=f"{escape(name)}: {len(items)} waiting", title_justify="left")
    for column in ("item", "time (UTC)", "suggested", "confidence", "model"):
        table.add_column(column, justify="right" if column == "confidence" else "left")
    for item in items:
        table.add_row(
            item["item"],
            str(item["time"])[:19],
            escape(str(item["suggested"])),
            f"{item['confidence']:.3f}",
            escape(item["model_version"]),
        )
    console.print(table)
    console.print(f"next: dcai review-queue {escape(name)} decide ITEM --accept | --label L")


@app.command("decide")
def decide(
    ctx: typer.Context,
    item: Annotated[str, typer.Argument(help="REQUEST_ID:INDEX, as the list shows it.")],
    label: Annotated[str | None, typer.Option("--label", help="The right label.")] = None,
    accept: Annotated[bool, typer.Option("--accept", help="The model's answer is right.")] = False,
    json_: JsonOption = False,
) -> None:
    """Confirm (--accept) or correct (--label) a queued answer; stored as feedback."""
    name = ctx.meta["deployment"]
    decision = open_workspace(ctx).deployments.decide(name, item, label=label, accept=accept)
    if json_:
        print_json(decision)
        return
    verb = "confirmed" if accept else "corrected to"
    console.print(f"[green]{verb}[/] {escape(str(decision['label']))}: {escape(item)}")
