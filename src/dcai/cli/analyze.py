"""``dcai analyze``: error analysis of a version — metrics, slices, what to work on next."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from dcai.cli._context import open_workspace
from dcai.cli._output import console, dcai_warnings_to_stderr, print_json, progress_bar

if TYPE_CHECKING:
    from dcai.analysis.workflow import ErrorAnalysis

METRICS = ("accuracy", "recall", "f1")


def analyze(
    ctx: typer.Context,
    ref: Annotated[
        str, typer.Argument(help="The version to analyse: NAME, NAME@v3 or NAME@<hash>.")
    ],
    audit: Annotated[
        str | None,
        typer.Option(
            "--audit", help="The audit whose predictions to analyse (default: the newest)."
        ),
    ] = None,
    split: Annotated[
        str | None, typer.Option("--split", help="Evaluate on one split only, e.g. dev.")
    ] = None,
    by: Annotated[
        list[str] | None,
        typer.Option("--by", help="A column to slice by, value by value (repeatable)."),
    ] = None,
    slice_: Annotated[
        list[str] | None,
        typer.Option(
            "--slice", help="A slice written by hand, e.g. \"snr_db < 5 and device == 'car'\"."
        ),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option("--baseline", help="TOML with a \\[baselines] table (overrides stored HLP)."),
    ] = None,
    baseline_version: Annotated[
        str | None,
        typer.Option(
            "--baseline-version",
            help="Hold each slice against its metric in the newest stored analysis of this "
            "version or dataset (an earlier data version).",
        ),
    ] = None,
    baseline_run: Annotated[
        str | None,
        typer.Option("--baseline-run", hidden=True, help="Deprecated: --baseline-version."),
    ] = None,
    run: Annotated[
        str | None,
        typer.Option(
            "--run",
            help="Analyse this run's stored dev predictions (a run trained on this dataset) "
            "instead of the audit's cross-validated ones.",
        ),
    ] = None,
    hlp: Annotated[
        str | None,
        typer.Option(
            "--hlp", help="The HLP label report (its id) to use as baseline (default: newest)."
        ),
    ] = None,
    metric: Annotated[
        str, typer.Option("--metric", help="Metric of the priority table: accuracy, recall, f1.")
    ] = "accuracy",
    discover: Annotated[
        bool, typer.Option("--discover/--no-discover", help="Search slices automatically.")
    ] = True,
    curves: Annotated[
        bool,
        typer.Option(
            "--curves/--no-curves", help="Learning curve and clean-vs-collect (retrains)."
        ),
    ] = True,
    check: Annotated[
        Path | None,
        typer.Option("--check", help="A TOML requirements file; exit 1 when one fails."),
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write a self-contained HTML report here.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite the --html file if it exists.")
    ] = False,
    boot: Annotated[int, typer.Option("--boot", help="Bootstrap replicates for intervals.")] = 1000,
    repeats: Annotated[int, typer.Option("--repeats", help="Fits per learning-curve size.")] = 3,
    seed: Annotated[int, typer.Option("--seed", help="Seed for intervals and subsets.")] = 0,
    top: Annotated[int, typer.Option("--top", help="Slices shown.")] = 15,
    json_: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Which examples the model gets wrong, against which baseline, and what to do next.

    Reads the newest audit of REF (runs one when there is none) — or, with --run, that run's
    stored dev predictions — the stored human-level performance (the newest report, or the one
    chosen with --hlp; its id, method and value are shown) and the labelers' annotations; prints
    the metrics, the priority table (one row per slice, by potential gain; slices without a
    baseline are held against the rest of the data), the slices found automatically (by excess
    errors), the learning curve and the clean-vs-collect verdict. With --check, exits 1 when a
    requirement fails (a CI gate). --html refuses an existing file unless --force (checked
    before the analysis runs).
    """
    from dcai._user_files import check_output_path, write_user_bytes
    from dcai.errors import InvalidInputError

    if metric not in METRICS:
        raise InvalidInputError(
            f"--metric must be one of {', '.join(METRICS)}; got {metric!r}",
            hint="e.g. --metric recall",
        )
    if baseline_run is not None:
        typer.echo("note: --baseline-run is deprecated; use --baseline-version", err=True)
        baseline_version = baseline_version or baseline_run
    ws = open_workspace(ctx)
    if html is not None:
        check_output_path(html, workspace=ws, force=force)
    with dcai_warnings_to_stderr(), progress_bar(f"analysing {ref}") as progress:
        result = ws.analysis.analyze(
            ref,
            audit=audit,
            split=split,
            by=by or (),
            slices=slice_ or (),
            baselines=baseline,
            baseline_version=baseline_version,
            run=run,
            hlp=hlp,
            metric=metric,
            discover=discover,
            curves=curves,
            requirements=check,
            n_boot=boot,
            repeats=repeats,
            random_state=seed,
            progress=progress,
        )
    if html is not None:
        from dcai.analysis.html import render_html_report

        page = render_html_report(result).encode("utf-8")
        write_user_bytes(html, page, workspace=ws, force=force)
    if json_:
        data = result.to_dict()
        if html is not None:
            data["html"] = str(html)
        print_json(data)
    else:
        render_analysis(result, top=top)
        if html is not None:
            console.print(f"report: [bold]{escape(str(html))}[/]")
    if result.requirements is not None and not result.requirements.passed:
        raise typer.Exit(code=1)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def render_analysis(result: ErrorAnalysis, *, top: int = 15) -> None:
    """The analysis as tables: headline metrics, warnings, priorities, discovered slices."""
    m = result.metrics
    source = f"run {result.run[:8]}" if result.run else f"audit {result.audit}"
    console.print(
        f"[bold cyan]{result.ref}[/] · {source} · {result.n_examples:,} examples, "
        f"evaluated on {escape(result.evaluated_on)}"
    )
    if result.hlp is not None:
        value = result.hlp["value"]
        console.print(
            f"HLP baseline: report #{result.hlp['id']} ({escape(str(result.hlp['method']))}"
            + ("" if value is None else f", accuracy {value:.3f}")
            + f") of {escape(str(result.hlp['ref']))}"
        )
    head = Table(title="Metrics (95% bootstrap intervals)", title_justify="left")
    for column in ("metric", "value", "interval"):
        head.add_column(column, justify="left" if column == "metric" else "right")
    shown = [e for e in m.lead] + [
        m.metric(name)
        for name in ("accuracy", "macro_f1", "roc_auc")
        if name not in {e.name for e in m.lead}
    ]
    for estimate in shown:
        if estimate.value is None or estimate.value != estimate.value:
            head.add_row(escape(estimate.title), "—", escape(estimate.reason or ""))
            continue
        interval = "" if estimate.low is None else f"[{estimate.low:.3f}, {estimate.high:.3f}]"
        head.add_row(escape(estimate.title), f"{estimate.value:.3f}", interval)
    console.print(head)
    for warning in m.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")

    table = Table(title="What to work on next (by potential gain)", title_justify="left")
    for column in (
        "slice",
        "share",
        result.metric,
        "interval",
        "baseline",
        "gap",
        "gain",
        "label issues",
        "agreement",
        "action",
        "why",
    ):
        table.add_column(
            column, justify="right" if column not in ("slice", "action", "why") else "left"
        )
    for row in result.priorities.head(top).itertuples():
        table.add_row(
            escape(str(row.name)),
            f"{row.share:.1%}",
            _pct(row.value),
            "" if row.low is None or row.low != row.low else f"[{row.low:.3f}, {row.high:.3f}]",
            "—" if row.baseline is None or row.baseline != row.baseline else f"{row.baseline:.3f}",
            "—" if row.gap is None or row.gap != row.gap else f"{row.gap * 100:+.1f}",
            "—"
            if row.potential_gain is None or row.potential_gain != row.potential_gain
            else f"{row.potential_gain * 100:.2f}",
            "—"
            if row.label_issue_rate is None or row.label_issue_rate != row.label_issue_rate
            else f"{row.label_issue_rate:.0%}",
            "—"
            if row.agreement is None or row.agreement != row.agreement
            else f"{row.agreement:.0%}",
            escape(row.action),
            escape(row.reason),
        )
    console.print(table)
    console.print("gap and gain in points of the metric; gain = max(gap, 0) × share")

    if result.discovered is not None and len(result.discovered.slices):
        found = Table(
            title="Slices found automatically (significantly worse than the rest, by excess "
            "errors)",
            title_justify="left",
        )
        for column in (
            "slice",
            "size",
            "error rate",
            "outside",
            "excess errors",
            "lift",
            "p (adjusted)",
        ):
            found.add_column(column, justify="left" if column == "slice" else "right")
        for row in result.discovered.slices.head(10).itertuples():
            found.add_row(
                escape(str(row.name)),
                f"{row.size:,}",
                f"{row.error_rate:.3f}",
                f"{row.error_rate_outside:.3f}",
                f"{row.excess_errors:.0f}",
                f"{row.lift:.2f}×",
                f"{row.p_adjusted:.2g}",
            )
        console.print(found)

    curve = result.learning_curve
    if curve is not None:
        gains = [(f, curve.gain(f)) for f in (2, 10)]
        said = ", ".join(
            f"{f}× data {g.value * 100:+.1f} points [{g.low * 100:+.1f}, {g.high * 100:+.1f}]"
            for f, g in gains
            if g.value is not None and g.low is not None and g.high is not None
        )
        console.print(
            f"learning curve ({curve.metric}, {curve.n_train:,} training examples): {said or 'no extrapolation'}"
        )
    if result.clean_vs_collect is not None:
        console.print(f"clean vs collect: [bold]{escape(result.clean_vs_collect.sentence)}[/]")
    if result.requirements is not None:
        req = result.requirements
        state = (
            "[green]all requirements met[/]"
            if req.passed
            else f"[red]{len(req.failures)} requirement check(s) failed[/]"
        )
        console.print(f"requirements ({escape(req.source)}): {state}")
        for row in req.failures.itertuples():
            console.print(
                f"  [red]✗[/] {escape(row.rule)} — {escape(str(row.slice))}: {escape(row.detail)}"
            )
    for note in result.notes:
        console.print(f"[dim]note: {escape(note)}[/]")
