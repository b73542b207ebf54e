"""``dcai retrain NAME``: the serving model retrained on its data plus labelled production rows."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from dcai.cli._context import open_workspace
from dcai.cli._output import console, print_json


def _comparison_line(name: str, found: dict[str, Any] | None) -> str:
    if found is None:
        return f"  {name}: not compared"
    verdict = (
        "[green]real[/]"
        if found["real"] and found["difference"] > 0
        else ("[red]real[/]" if found["real"] else "within noise")
    )
    return (
        f"  {name}: candidate {found['candidate_accuracy']:.3f} vs production "
        f"{found['production_accuracy']:.3f} on {found['n']} examples, "
        f"{found['difference'] * 100:+.1f} points [{found['low'] * 100:+.1f}, "
        f"{found['high'] * 100:+.1f}] ({verdict})"
    )


def retrain(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The deployment whose primary is retrained.")],
    canary: Annotated[
        float | None,
        typer.Option("--canary", help="Start a canary of the candidate at this percentage."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only production rows since: 7d or an ISO date."),
    ] = None,
    holdout: Annotated[
        str | None,
        typer.Option(
            "--holdout",
            help="The newest labelled rows held out for the comparison: this long a window "
            "(default \\[monitor] window, else 1h).",
        ),
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the lineage.")] = "",
    json_: Annotated[
        bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")
    ] = False,
) -> None:
    """Retrain a deployment's model on its training data plus the production rows that got a
    feedback label (a new dataset version), register the candidate, compare it with production
    on the dev split and the newest labelled production window, optionally start a canary."""
    ws = open_workspace(ctx)
    result = ws.monitor.retrain(
        name, canary=canary, since=since, holdout=holdout, reason=reason or "dcai retrain"
    )
    if json_:
        print_json(result.to_dict())
        return
    console.print(
        f"dataset [bold cyan]{escape(result.dataset)}[/] (+{result.added_rows} labelled "
        f"production rows; {result.held_out_rows} held out)"
    )
    console.print(f"run {result.run[:8]} → model [bold]{escape(result.model)}[/]")
    console.print(_comparison_line("dev split", result.comparison.get("dev")))
    console.print(_comparison_line("production window", result.comparison.get("production")))
    if result.canary is not None:
        console.print(
            f"canary: {escape(result.model)} at {result.canary['percent']:g} % "
            f"(revision {result.canary['revision']})"
        )
    for note in result.notes:
        console.print(f"[dim]note: {escape(note)}[/]")
