"""``dcai deploy``: deployments — create, canary, ramp, shadow, promote, rollback, mode, show,
list."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from dcai.cli._context import open_workspace
from dcai.cli._output import console, print_json

if TYPE_CHECKING:
    from dcai.deploy.deployments import Deployment

app = typer.Typer(
    help="Deployments: route traffic to registered models — canary, shadow, blue-green promote, "
    "rollback, human review.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
AuthorOption = Annotated[
    str | None, typer.Option("--author", help="Who made the change (default: $DCAI_AUTHOR, user).")
]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why: kept in the history.")]
NameArgument = Annotated[str, typer.Argument(help="The deployment's name, e.g. web.")]
TrustOption = Annotated[
    list[str] | None,
    typer.Option(
        "--trust",
        help="An exact type name your own recipe's model holds (repeatable); nothing is "
        "trusted beyond dcai's list otherwise.",
    ),
]


def _routing_line(d: Deployment) -> str:
    parts = [f"primary [bold cyan]{escape(d.primary)}[/]"]
    if d.canary:
        parts.append(f"canary [bold yellow]{escape(d.canary)}[/] at {d.canary_percent:g} %")
    if d.shadow:
        parts.append(f"shadow {escape(d.shadow)}")
    mode = d.mode + (f" (review below {d.review_below:g})" if d.review_below is not None else "")
    parts.append(f"mode {mode}")
    return ", ".join(parts)


def _report(d: Deployment, json_: bool, verb: str) -> None:
    if json_:
        print_json(d.to_dict(history=False))
        return
    console.print(f"[green]{verb}[/] {escape(d.name)} revision {d.revision}: {_routing_line(d)}")


@app.command("create")
def create(
    ctx: typer.Context,
    name: NameArgument,
    model: Annotated[
        str, typer.Option("--model", help="NAME, NAME/3 or NAME@alias (pinned to its version).")
    ],
    mode: Annotated[str, typer.Option("--mode", help="full, partial, assist or shadow.")] = "full",
    review_below: Annotated[
        float | None,
        typer.Option("--review-below", help="partial: below this confidence a person decides."),
    ] = None,
    trusted: TrustOption = None,
    reason: ReasonOption = "",
    author: AuthorOption = None,
    json_: JsonOption = False,
) -> None:
    """Create a deployment serving one model version."""
    d = open_workspace(ctx).deployments.create(
        name,
        model=model,
        mode=mode,
        review_below=review_below,
        reason=reason,
        author=author,
        trusted=trusted or (),
    )
    _report(d, json_, "created")


@app.command("canary")
def canary(
    ctx: typer.Context,
    name: NameArgument,
    percent: Annotated[
        float, typer.Option("--percent", help="Share of the traffic for the canary, (0, 100].")
    ],
    model: Annotated[
        str | None,
        typer.Option("--model", help="The candidate; omit to change the live canary's percent."),
    ] = None,
    trusted: TrustOption = None,
    reason: ReasonOption = "",
    author: AuthorOption = None,
    json_: JsonOption = False,
) -> None:
    """Send a share of the traffic to a candidate (sticky by the request's routing key)."""
    d = open_workspace(ctx).deployments.canary(
        name, model=model, percent=percent, reason=reason, author=author, trusted=trusted or ()
    )
    _report(d, json_, "canary")


@app.command("ramp")
def ramp(
    ctx: typer.Context,
    name: NameArgument,
    model: Annotated[str, typer.Option("--model", help="The candidate: NAME/3 or NAME@alias.")],
    steps: Annotated[
        str,
        typer.Option("--steps", help="Canary percentages in order; a last 100 promotes."),
    ] = "5,25,50,100",
    every: Annotated[
        str, typer.Option("--every", help="Least time per step: 30s, 10m, 1h.")
    ] = "10m",
    guard: Annotated[
        list[str] | None,
        typer.Option(
            "--guard",
            help="METRIC<NUMBER that must hold on the canary's traffic (repeatable): "
            "error_rate, latency_p50/p95/p99 (seconds), disagreement.",
        ),
    ] = None,
    min_requests: Annotated[
        int,
        typer.Option("--min-requests", help="Canary requests a step needs before guards count."),
    ] = 100,
    trusted: TrustOption = None,
    reason: ReasonOption = "",
    author: AuthorOption = None,
    json_: JsonOption = False,
) -> None:
    """Ramp a canary up step by step while guards hold; roll back on its own if one fails.

    Reads the canary's live traffic from the prediction log that `dcai serve` writes. Exit 0
    when promoted or completed, 1 when rolled back or stopped by another change.
    """
    from dcai.deploy.ramp import RampEvent

    def show(event: RampEvent) -> None:
        if json_:
            return
        colour = {"failed": "red", "promoted": "green", "passed": "green", "step": "bold"}.get(
            event.kind, "dim"
        )
        console.print(
            f"[{colour}]{event.kind:>10}[/] step {event.step} ({event.percent:g} %) "
            f"rev {event.revision}: {escape(event.message)}"
        )

    try:
        result = open_workspace(ctx).deployments.ramp(
            name,
            model=model,
            steps=steps,
            every=every,
            guards=guard or (),
            min_requests=min_requests,
            reason=reason,
            author=author,
            trusted=trusted or (),
            on_event=show,
        )
    except KeyboardInterrupt:  # raised outside a step (the ramp catches its own)
        raise typer.Exit(130) from None
    if json_:
        print_json(result.to_dict())
    else:
        colour = "green" if result.outcome in ("promoted", "completed") else "red"
        console.print(
            f"[{colour}]{result.outcome.replace('_', ' ')}[/] {escape(name)} revision "
            f"{result.revision}: {escape(result.reason)}"
        )
    if result.outcome == "interrupted":
        raise typer.Exit(130)
    if result.outcome not in ("promoted", "completed"):
        raise typer.Exit(1)


@app.command("shadow")
def shadow(
    ctx: typer.Context,
    name: NameArgument,
    model: Annotated[
        str | None, typer.Option("--model", help="The model to run beside the primary.")
    ] = None,
    off: Annotated[bool, typer.Option("--off", help="Stop the shadow.")] = False,
    trusted: TrustOption = None,
    reason: ReasonOption = "",
    author: AuthorOption = None,
    json_: JsonOption = False,
) -> None:
    """Run a model on every request off the response path: logged, never returned."""
    from dcai.errors import InvalidInputError

    if (model is None) == (not off):
        raise InvalidInputError(
            "give either --model REF or --off", hint=f"dcai deploy shadow {name} --model REF"
        )
    d = open_workspace(ctx).deployments.shadow(
        name, model=model, reason=reason, author=author, trusted=trusted or ()
    )
    _report(d, json_, "shadow")


@app.command("promote")
def promote(
    ctx: typer.Context,
    name: NameArgument,
    reason: ReasonOption = "",
    author: AuthorOption = None,
    json_: JsonOption = False,
) -> None:
    """The canary (else the shadow) becomes the primary for all traffic, atomically."""
    d = open_workspace(ctx).deployments.promote(name, reason=reason, author=author)
    _report(d, json_, "promoted")


@app.command("rollback")
def rollback(
    ctx: typer.Context,
    name: NameArgument,
    to: Annotated[
        int | None,
        typer.Option("--to", help="Return to this earlier revision's routing instead."),
    ] = None,
    reason: ReasonOption = "",
    author: AuthorOption = None,
    json_: JsonOption = False,
) -> None:
    """Return to the routing before the live one, or to revision --to (a new revision)."""
    d = open_workspace(ctx).deployments.rollback(name, to=to, reason=reason, author=author)
    _report(d, json_, "rolled back")


@app.command("set")
def set_(
    ctx: typer.Context,
    name: NameArgument,
    mode: Annotated[str, typer.Option("--mode", help="full, partial, assist or shadow.")],
    review_below: Annotated[
        float | None,
        typer.Option("--review-below", help="partial: below this confidence a person decides."),
    ] = None,
    reason: ReasonOption = "",
    author: AuthorOption = None,
    json_: JsonOption = False,
) -> None:
    """Set the degree of automation: full, partial (with --review-below), assist, shadow."""
    d = open_workspace(ctx).deployments.set_mode(
        name, mode=mode, review_below=review_below, reason=reason, author=author
    )
    _report(d, json_, "set")


@app.command("show")
def show(ctx: typer.Context, name: NameArgument, json_: JsonOption = False) -> None:
    """A deployment's live routing and its whole history."""
    d = open_workspace(ctx).deployments.get(name)
    if json_:
        print_json(d.to_dict())
        return
    console.print(f"[bold]{escape(d.name)}[/] revision {d.revision}: {_routing_line(d)}")
    table = Table(title="History", title_justify="left")
    for column in ("rev", "action", "primary", "canary", "shadow", "mode", "by", "at (UTC)", "why"):
        table.add_column(column, justify="right" if column == "rev" else "left")
    for r in d.history:
        table.add_row(
            str(r.revision),
            r.action,
            escape(r.primary),
            escape(f"{r.canary} ({r.canary_percent:g} %)") if r.canary else "—",
            escape(r.shadow or "—"),
            r.mode + (f" <{r.review_below:g}" if r.review_below is not None else ""),
            escape(r.author),
            r.created_at[:19],
            escape(r.reason or ""),
        )
    console.print(table)


@app.command("list")
def list_(ctx: typer.Context, json_: JsonOption = False) -> None:
    """Every deployment with its live routing."""
    deployments = open_workspace(ctx).deployments.list()
    if json_:
        print_json({"deployments": [d.to_dict(history=False) for d in deployments]})
        return
    if not deployments:
        console.print("no deployments yet; create one: dcai deploy create NAME --model REF")
        return
    for d in deployments:
        console.print(f"[bold]{escape(d.name)}[/] revision {d.revision}: {_routing_line(d)}")
