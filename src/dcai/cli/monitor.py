"""``dcai monitor NAME``: a deployment's logged traffic per window, its alerts, an HTML report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from dcai.cli._context import open_workspace
from dcai.cli._output import console, err_console, print_json

if TYPE_CHECKING:
    from dcai.monitor.deployment import MonitorReport
    from dcai.workspace import Workspace

#: Columns of the human table: (metric, heading, format).
_SHOWN = (
    ("requests", "requests", "{:,.0f}"),
    ("error_rate", "errors", "{:.1%}"),
    ("latency_p95", "p95 (ms)", "ms"),
    ("drift_share", "drifted", "{:.0%}"),
    ("out_of_range_rate", "out of range", "{:.1%}"),
    ("confidence_mean", "confidence", "{:.3f}"),
    ("needs_review_rate", "review", "{:.1%}"),
    ("shadow_disagreement", "shadow ≠", "{:.1%}"),
)
_MAX_ROWS = 24


def _cell(value: Any, fmt: str) -> str:
    if value is None or value != value:
        return "—"
    if fmt == "ms":
        return f"{value * 1000:.1f}"
    return fmt.format(value)


def _accuracy(row: dict[str, Any], name: str) -> str:
    value = row.get(name)
    if value is None or value != value:
        return "—"
    low, high = row.get(f"{name}_low"), row.get(f"{name}_high")
    if low is None or low != low:
        return f"{value:.3f}"
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def _print(report: MonitorReport) -> None:
    windows = report.windows.to_dict(orient="records")
    title = f"{escape(report.deployment)}: {len(windows)} window(s) of {report.spec}" + (
        f", reference {escape(report.reference)}" if report.reference else ""
    )
    table = Table(title=title, title_justify="left")
    table.add_column("window (UTC)", no_wrap=True)
    for _, heading, _ in _SHOWN:
        table.add_column(heading, justify="right")
    table.add_column("accuracy [95 %]", justify="right")
    table.add_column("estimated [95 %]", justify="right")
    shown = windows[-_MAX_ROWS:]
    for row in shown:
        start = str(row["window_start"]).replace("+00:00", "")
        table.add_row(
            escape(start) + ("" if row.get("complete", True) else " …"),
            *(_cell(row.get(metric), fmt) for metric, _, fmt in _SHOWN),
            _accuracy(row, "accuracy") + (f" n={row['labeled']}" if row.get("labeled") else ""),
            _accuracy(row, "estimated_accuracy"),
        )
    if windows:
        console.print(table)
        if len(windows) > len(shown):
            console.print(f"(the newest {len(shown)} of {len(windows)} windows; --json has all)")
    firing = report.firing
    if firing:
        console.print(f"[red]{len(firing)} alert(s) firing[/]")
        for alert in firing:
            console.print(
                f"  [red]FIRING[/] {escape(alert['rule'])}: {escape(alert['metric'])} = "
                f"{alert['value']:.4g} {alert['op']} {alert['threshold']:.4g} "
                f"(since {escape(str(alert['since']))})"
            )
    elif report.alerts:
        console.print("[green]no alert firing[/]")
    for note in report.notes:
        console.print(f"[dim]note: {escape(note)}[/]")


def _html(ws: Workspace, report: MonitorReport, path: Path, *, force: bool) -> None:
    from dcai._user_files import write_user_bytes
    from dcai.monitor.deployment import report_page

    page = report_page(ws.stores, report)
    write_user_bytes(path, page.encode("utf-8"), workspace=ws, force=force)


def _maybe_retrain(
    ws: Workspace, name: str, report: MonitorReport, policy: Any, json_: bool
) -> None:
    """``[monitor.retrain]``: retrain when one of its rules fires (at most every interval)."""
    from dcai.errors import DcaiError
    from dcai.monitor.retrain import due_for_retraining

    reason = due_for_retraining(ws.stores, name, report.firing, policy)
    if reason is None:
        return
    try:
        result = ws.monitor.retrain(name, canary=policy.canary, reason=reason)
    except DcaiError as exc:  # e.g. no feedback yet: say so, keep watching
        err_console.print(f"retrain skipped: {escape(str(exc))}")
        return
    if json_:
        print_json({"retrained": result.to_dict()})
    else:
        console.print(
            f"retrained ({escape(reason)}): {escape(result.dataset)} → {escape(result.model)}"
            + (f", canary {result.canary['percent']:g} %" if result.canary else "")
        )


def monitor(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The deployment.")],
    window: Annotated[
        str | None,
        typer.Option(
            "--window", help="Window length: 10m, 1h, 1d (default \\[monitor] window, else 1h)."
        ),
    ] = None,
    every: Annotated[
        int | None, typer.Option("--every", help="Windows of this many requests instead.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only rows since: 6h, 2d or an ISO date.")
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Also write a self-contained HTML report (plotly) here."),
    ] = None,
    watch: Annotated[
        bool,
        typer.Option("--watch", help="Keep monitoring on a schedule (Ctrl-C stops)."),
    ] = False,
    interval: Annotated[
        str, typer.Option("--interval", help="With --watch: time between passes.")
    ] = "1m",
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite the --html file if it exists.")
    ] = False,
    fail_on_alert: Annotated[
        bool, typer.Option("--fail-on-alert", help="Exit 1 when an alert is firing.")
    ] = False,
    json_: Annotated[
        bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")
    ] = False,
) -> None:
    """Measure a deployment's logged traffic per window: software (rate, errors, latency),
    inputs (missing, out of range, drift against the training data), outputs (confidence,
    review, shadow disagreement) and accuracy, realised and estimated; judge the alert rules of
    dcai.toml (\\[\\[monitor.rules]]) and deliver new alerts."""
    from dcai.deploy.logs import parse_duration

    ws = open_workspace(ctx)
    pause = parse_duration(interval, option="--interval") if watch else 0.0
    if html is not None:
        from dcai._user_files import check_output_path

        check_output_path(html, workspace=ws, force=force)
    printer = None if json_ else (lambda line: err_console.print(f"[red]{escape(line)}[/]"))
    policy = None
    if watch:
        from dcai.monitor.deployment import monitor_settings
        from dcai.monitor.retrain import retrain_policy

        policy = retrain_policy(monitor_settings(ws.stores))
    report: MonitorReport
    while True:
        report = ws.monitor(name, window=window, every=every, since=since)
        if printer is not None and report.events:
            for event in report.events:
                printer(f"{event['state'].upper()} {event['rule']} ({event['metric']})")
        report.wait_for_delivery(30.0)
        if html is not None:
            _html(ws, report, html, force=force)
            force = True  # the next passes of --watch replace their own report
        if json_:
            print_json(report.to_dict() | ({"html": str(html)} if html is not None else {}))
        else:
            _print(report)
            if html is not None:
                console.print(f"report: {escape(str(html))}")
        if not watch:
            break
        if policy is not None:
            _maybe_retrain(ws, name, report, policy, json_)
        try:
            time.sleep(pause)
        except KeyboardInterrupt:
            break
    if fail_on_alert and report.firing:
        raise typer.Exit(1)
