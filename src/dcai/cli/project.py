"""``dcai scope`` (targets and baselines in dcai.toml) and ``dcai status`` (are we there yet?)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from dcai.cli._context import open_workspace
from dcai.cli._output import console, print_json

if TYPE_CHECKING:
    from dcai.project.status_workflow import ProjectStatus

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]

scope_app = typer.Typer(
    help="The project's scope: key metrics with targets, and baselines to hold results against.",
    no_args_is_help=True,
)


@scope_app.command("target")
def target(
    ctx: typer.Context,
    metric: Annotated[
        str,
        typer.Argument(
            help="A metric: a run's (accuracy, f1_macro, test.accuracy, …) or monitoring's "
            "(latency_p95_seconds, throughput_rps, error_rate, …)."
        ),
    ],
    text: Annotated[str, typer.Argument(help='The target, "OP VALUE": ">= 0.9", "<= 0.05".')],
    json_: JsonOption = False,
) -> None:
    """Set a metric's target in dcai.toml (\\[project.targets])."""
    ws = open_workspace(ctx)
    set_ = ws.project.target(metric, text)
    if json_:
        print_json({"metric": set_.metric, "target": set_.text, "measured_by": set_.source_kind})
        return
    console.print(f"target: {escape(set_.metric)} {escape(set_.text)}")
    if set_.source_kind == "unknown":
        console.print(
            f"[yellow]warning:[/] nothing dcai runs or monitors measures {escape(set_.metric)}; "
            "dcai status will show it unmeasured until a run logs it."
        )


@scope_app.command("baseline")
def baseline(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The baseline's name, e.g. old_system.")],
    value: Annotated[float, typer.Argument(help="Its value of the metric.")],
    source: Annotated[
        str, typer.Option("--source", help="Where the figure comes from (a paper, a system).")
    ],
    metric: Annotated[
        str | None,
        typer.Option(
            "--metric",
            help="The metric it is a value of (default: the target's, when there is one).",
        ),
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Keep a baseline in dcai.toml (\\[project.baselines]): HLP, the literature, the old system,
    a quick-and-dirty model."""
    ws = open_workspace(ctx)
    kept = ws.project.baseline(name, value, source=source, metric=metric)
    if json_:
        print_json(
            {"name": kept.name, "metric": kept.metric, "value": kept.value, "source": kept.source}
        )
        return
    console.print(
        f"baseline {escape(kept.name)}: {escape(kept.metric)} = {kept.value:g} "
        f"({escape(kept.source)})"
    )


def _value(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def status(ctx: typer.Context, json_: JsonOption = False) -> None:
    """Each target beside its newest measured value (a run, monitoring), met or not, and the
    next action from the newest error analysis."""
    report = open_workspace(ctx).project.status()
    if json_:
        print_json(report.to_dict())
        return
    render_status(report)


def render_status(report: ProjectStatus) -> None:
    """The targets table, the notes and the next action, as ``dcai status`` prints them."""
    table = Table(title="targets", title_justify="left")
    for name in ("metric", "target", "value", "met", "from", "baselines"):
        table.add_column(name)
    for row in report.targets:
        met = {True: "[green]met[/]", False: "[red]not yet[/]", None: "—"}[row.met]
        baselines = ", ".join(f"{b['name']} {b['value']:.4g}" for b in row.baselines)
        source = escape(row.source or "not measured")
        table.add_row(
            escape(row.metric), escape(row.target), _value(row.value), met, source,
            escape(baselines),
        )  # fmt: skip
    if report.targets:
        console.print(table)
    for note in report.notes:
        console.print(f"note: {escape(note)}")
    step = report.next_action
    if step.get("command"):
        detail = step["command"]
    elif step.get("slice"):
        detail = f"slice {step['slice']}: {step.get('reason') or ''}".rstrip(": ")
    else:
        detail = step.get("reason") or ""
    suffix = f" ({escape(str(detail))})" if detail else ""
    console.print(f"next: [bold]{escape(str(step['action']))}[/]{suffix}")
