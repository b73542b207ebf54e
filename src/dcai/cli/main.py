"""The ``dcai`` entry point: global options, command groups, and the one place errors are rendered."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from dcai import __version__
from dcai.cli import analyze as analyze_cli
from dcai.cli import audit as audit_cli
from dcai.cli import data as data_cli
from dcai.cli import deploy as deploy_cli
from dcai.cli import drift as drift_cli
from dcai.cli import labels as labels_cli
from dcai.cli import logs as logs_cli
from dcai.cli import models as models_cli
from dcai.cli import monitor as monitor_cli
from dcai.cli import predict as predict_cli
from dcai.cli import project as project_cli
from dcai.cli import retrain as retrain_cli
from dcai.cli import review as review_cli
from dcai.cli import review_queue as review_queue_cli
from dcai.cli import rules as rules_cli
from dcai.cli import runs as runs_cli
from dcai.cli import serve as serve_cli
from dcai.cli._context import open_workspace
from dcai.cli._output import (
    balance_table,
    console,
    dcai_warnings_to_stderr,
    err_console,
    print_json,
    print_warnings,
    progress_bar,
    version_table,
)
from dcai.errors import (
    CorruptObjectError,
    DcaiError,
    InvalidInputError,
    StorageError,
    UnknownRefError,
    WorkspaceBusyError,
)

app = typer.Typer(
    name="dcai",
    help="Data-centric AI as an everyday loop: version data, fix labels, analyse, serve, monitor.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
app.add_typer(data_cli.app, name="data")
app.add_typer(labels_cli.app, name="labels")
app.add_typer(review_cli.app, name="review")
app.add_typer(runs_cli.app, name="runs")
app.add_typer(models_cli.app, name="models")
app.add_typer(deploy_cli.app, name="deploy")
app.add_typer(logs_cli.app, name="logs")
app.add_typer(review_queue_cli.app, name="review-queue")
app.add_typer(rules_cli.app, name="rules")
app.add_typer(project_cli.scope_app, name="scope")
app.command("audit")(audit_cli.audit)
app.command("audits")(audit_cli.audits)
app.command("analyze")(analyze_cli.analyze)
app.command("train")(runs_cli.train)
app.command("serve")(serve_cli.serve)
app.command("predict")(predict_cli.predict)
app.command("drift")(drift_cli.drift)
app.command("status")(project_cli.status)
app.command("monitor")(monitor_cli.monitor)
app.command("retrain")(retrain_cli.retrain)

EXIT_BAD_INPUT = 2
EXIT_BUSY = 75


def _version_callback(value: bool) -> None:
    if value:
        print(f"dcai {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            "-w",
            help="Workspace folder (default: $DCAI_HOME, else ./.dcai).",
            envvar="DCAI_HOME",
            show_envvar=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version_callback,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """dcai: data-centric AI tooling."""
    ctx.obj = {"workspace": workspace}


@app.command("init")
def init(
    ctx: typer.Context, json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False
) -> None:
    """Create a workspace (SQLite metadata + content-addressed files) here or at --workspace."""
    ws = open_workspace(ctx, create=True)
    if json_:
        print_json(
            {
                "workspace": str(ws.path.resolve()),
                "metadata_url": ws.settings.metadata_url,
                "objects_url": ws.settings.objects_url,
            }
        )
        return
    console.print(
        f"[green]workspace ready[/] at {ws.path.resolve()} (settings in {ws.path / 'dcai.toml'})"
    )


@app.command("gc")
def gc(
    ctx: typer.Context,
    grace: Annotated[
        float, typer.Option("--grace", help="Keep objects younger than this many seconds.")
    ] = 3600.0,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only report what would be removed.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Remove objects even when they are older than the metadata database."
        ),
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Remove stored objects no version references (left behind by killed or failed commits)."""
    report = open_workspace(ctx).gc(grace_seconds=grace, dry_run=dry_run, force=force)
    if json_:
        print_json(report.to_dict())
        return
    verb = "would remove" if dry_run else "removed"
    console.print(
        f"{verb} {report.removed} objects ({report.bytes_freed:,} bytes); kept {report.kept}"
    )


@app.command("verify")
def verify(
    ctx: typer.Context,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Remove unreferenced objects older than --grace (nothing else is changed).",
        ),
    ] = False,
    grace: Annotated[
        float, typer.Option("--grace", help="Unreferenced objects younger than this are kept.")
    ] = 3600.0,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check every stored object against its hash, the database's integrity and the references
    both ways. Exit 0 when clean, 1 with a report otherwise; changes nothing without --repair."""
    ws = open_workspace(ctx)
    with progress_bar("verify") as progress:
        report = ws.verify(repair=repair, grace_seconds=grace, progress=progress)
    if json_:
        print_json(report.to_dict())
    else:
        _print_verify(report)
    if not report.clean:
        raise typer.Exit(1)


def _print_verify(report: Any) -> None:
    state = "[green]clean[/]" if report.clean else "[bold red]problems found[/]"
    console.print(
        f"{state}: {report.objects_checked:,} objects ({report.bytes_checked:,} bytes) checked "
        f"in {report.seconds:.1f} s"
    )
    for item in report.corrupt:
        users = ", ".join(f"{u['table']} row {u['row']}" for u in item["used_by"]) or "no row"
        console.print(
            f"  corrupt object {item['digest'][:12]} (hashes to {item['actual'][:12]}), "
            f"used by {escape(users)}"
        )
    for item in report.missing:
        console.print(
            f"  missing object {item['digest'][:12]} named by {item['table']} row {item['row']} "
            f"({item['column']})"
        )
    for line in report.database:
        console.print(f"  database: {escape(line)}")
    if report.orphans:
        removed = report.repaired.get("orphans_removed", 0)
        size = sum(o["size"] for o in report.orphans)
        verb = "removed" if removed else "found (dcai verify --repair removes them)"
        console.print(f"  {len(report.orphans)} unreferenced objects ({size:,} bytes) {verb}")
    if report.recent_unreferenced:
        console.print(
            f"  {report.recent_unreferenced} unreferenced objects younger than the grace period "
            "kept (a commit may be in progress)"
        )
    if report.corrupt or report.missing:
        console.print(
            "  next: restore from a backup (dcai backup makes one), or add the affected data "
            "again — dcai data add rewrites a damaged object"
        )


@app.command("backup")
def backup(
    ctx: typer.Context,
    dest: Annotated[Path, typer.Argument(help="A new folder for the copy.")],
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Write a consistent copy of the workspace (database snapshot + verified objects) that
    `dcai -w DEST ...` opens."""
    ws = open_workspace(ctx)
    with progress_bar("backup") as progress:
        report = ws.backup(dest, progress=progress)
    if json_:
        print_json(report.to_dict())
    else:
        console.print(
            f"[green]backed up[/] {report.objects:,} objects ({report.bytes:,} bytes) and the "
            f"metadata database to {escape(report.destination)} in {report.seconds:.1f} s"
        )
        if report.skipped_corrupt:
            console.print(
                f"[yellow]skipped {len(report.skipped_corrupt)} damaged objects[/]: run dcai verify"
            )
    if report.skipped_corrupt:
        raise typer.Exit(1)


@app.command("migrate")
def migrate(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only show the pending migrations; change nothing.")
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the metadata database's schema revision and the pending migrations, and apply them.

    Opening a workspace applies them too; this makes the upgrade explicit and visible."""
    from dcai.config import CONFIG_FILE, Settings, default_workspace_path
    from dcai.errors import WorkspaceError
    from dcai.store import MetadataStore, refuse_missing_database

    path: Path | None = (ctx.find_root().obj or {}).get("workspace")
    root = path if path is not None else default_workspace_path()
    if not (root / CONFIG_FILE).exists():
        raise WorkspaceError(
            "no dcai workspace here",
            path=str(root),
            hint="Create one with `dcai init`, or point at one with --workspace or DCAI_HOME.",
        )
    settings = Settings.load(root)
    refuse_missing_database(settings)
    # Not migrated on open: the status is read first, and --dry-run writes nothing.
    store = MetadataStore(settings.metadata_url, migrate=False)
    try:
        before = store.migration_status()
        applied = [] if dry_run else store.migrate()
        after = before if dry_run else store.migration_status()
    finally:
        store.dispose()
    if json_:
        print_json(
            {
                "workspace": str(root.resolve()),
                "dry_run": dry_run,
                **before.to_dict(),
                "applied": applied,
                "now": after.current,
            }
        )
        return
    current = before.current or "none (a new database)"
    console.print(f"schema revision {current} (schema {before.schema_version}); head {before.head}")
    if before.current is not None and before.revision is None:
        console.print(f"  made before Alembic: stamped at {before.current} before the upgrade")
    if not before.pending:
        console.print("[green]up to date[/]: nothing to migrate")
    elif dry_run:
        console.print(f"  pending: {', '.join(before.pending)}")
        console.print("  run `dcai migrate` to apply them (nothing was changed)")
    else:
        done = ", ".join(applied) or "nothing (another process migrated it meanwhile)"
        console.print(f"[green]migrated[/] to {after.current}: applied {done}")


@app.command("demo")
def demo(
    ctx: typer.Context,
    fresh: Annotated[
        bool, typer.Option("--fresh/--keep", help="Start from an empty workspace.")
    ] = True,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
) -> None:
    """Run the loop on scikit-learn's bundled digits, offline: add, split, tag, plant label
    errors, audit, accept confident suggestions, commit the clean version, simulate labelers,
    measure their agreement and HLP, analyse the errors (with an HTML report), train the same
    recipe on the noisy and the cleaned version and register the better model as production."""
    from dcai.cli.audit import render_audit
    from dcai.demo import DEMO_MIN_SCORE, run_demo

    path = (ctx.obj or {}).get("workspace") or Path("demo-workspace")
    console.rule("[bold]dcai demo[/]: scikit-learn digits")
    with dcai_warnings_to_stderr(), progress_bar("demo") as progress:
        result = run_demo(path, fresh=fresh, seed=seed, progress=progress)
    ws = result.workspace
    console.print(f"workspace: {Path(path).resolve()}")
    console.print(
        f"added [bold cyan]{result.added.ref}[/]: {result.added.rows:,} images, "
        f"{result.added.label_counts().size} classes, id derived from pixel content"
    )
    console.print(
        f"split [bold cyan]{result.split.ref}[/]: train/dev/test 0.7/0.1/0.2, stratified by label"
    )
    report = result.split.balance()
    console.print(balance_table(report))
    print_warnings(report.warnings)
    console.print(
        f"planted [bold cyan]{result.noisy.ref}[/]: {result.planted} labels flipped at random "
        f"(seed {seed}, recorded in lineage)"
    )
    console.rule("audit")
    render_audit(result.audit, top=5)
    console.rule("review")
    console.print(
        f"accepted {result.accepted} suggestions with score ≥ {DEMO_MIN_SCORE} → "
        f"[bold cyan]{result.cleaned.ref}[/]"
    )
    diff = ws.data.diff(result.noisy.ref, result.cleaned.ref)
    console.print(
        f"diff {result.noisy.ref} → {result.cleaned.ref}: "
        + ", ".join(f"{k} {v}" for k, v in diff.counts.items() if v)
    )
    precision = result.found / result.flagged if result.flagged else 0.0
    recall = result.found / result.planted if result.planted else 0.0
    console.print(
        f"[bold]planted errors found: {result.found} of {result.planted}[/] "
        f"(recall {recall:.0%}; {result.flagged} flagged, precision {precision:.0%}); "
        f"[bold]fixed[/] (back to the true label): {result.fixed}"
    )
    console.rule("labelers")
    _print_label_demo(result)
    console.rule("error analysis")
    _print_analysis_demo(result)
    console.rule("train and register")
    _print_training_demo(result)
    console.rule("deploy and serve")
    _print_deploy_demo(result)
    console.rule("monitor, alert, retrain")
    _print_monitor_demo(result)
    console.rule("status: are we there yet?")
    project_cli.render_status(result.status)
    console.print(version_table(ws.data.log("digits"), title="Lineage of digits"))
    console.print(
        f"next: dcai -w {path} review list digits --status all · "
        f"dcai -w {path} labels agreement digits · dcai -w {path} analyze digits · "
        f"dcai -w {path} runs data-view --recipe logreg --eval {result.split.ref} · "
        f"dcai -w {path} models card digits@production · "
        f"dcai -w {path} deploy show digits-web · dcai -w {path} serve · "
        f"dcai -w {path} status",
        soft_wrap=True,  # commands to copy: never broken across lines
    )


def _print_analysis_demo(result: Any) -> None:
    from dcai.cli.analyze import render_analysis

    noisy, clean = result.analysis_noisy, result.analysis_clean
    console.print(
        f"[bold]noisy labels[/] ({noisy.ref}): accuracy "
        f"{noisy.metrics.metric('accuracy').value:.3f} against the labels; "
        f"[bold]cleaned[/] ({clean.ref}): {clean.metrics.metric('accuracy').value:.3f}"
    )
    render_analysis(noisy, top=8)
    console.print(f"HTML report (opens offline): [bold]{result.report}[/]")


def _print_training_demo(result: Any) -> None:
    """The two runs, their paired difference, the data-centric view and the registry."""
    from rich.table import Table

    view = result.data_view
    params = ", ".join(f"{k}={v}" for k, v in view["params"].items() if k != "recipe")
    console.print(
        f"the same recipe ({view['recipe']}, {escape(params)}) and seed on the noisy and the "
        f"cleaned digits, both scored on {escape(view['eval']['examples'])}: the true labels, "
        "known because the errors were planted"
    )
    for what, run, version in (
        ("noisy labels", result.run_noisy, result.noisy),
        ("cleaned", result.run_clean, result.cleaned),
    ):
        acc = result.eval_accuracy[run.run]
        own = run.metrics.get("accuracy")
        console.print(
            f"run [bold]{run.run[:8]}[/] on [bold cyan]{version.ref}[/] ({what}): dev accuracy "
            f"{acc['value']:.3f} [{acc['low']:.3f}, {acc['high']:.3f}]"
            + ("" if own is None else f" (against its own dev labels: {own:.3f})")
        )
    paired = result.comparison["pairs"][0]["paired"]
    verdict = "real" if paired["real"] else "within noise"
    console.print(
        f"[bold]cleaned − noisy[/]: accuracy {paired['difference'] * 100:+.1f} points "
        f"[{paired['low'] * 100:+.1f}, {paired['high'] * 100:+.1f}] on "
        f"{paired['n_shared']:,} shared dev examples ([bold]{verdict}[/], paired bootstrap)"
    )
    table = Table(title="Data-centric view (same recipe, one evaluation set)", title_justify="left")
    for column in ("version", "operation", "accuracy", "change"):
        table.add_column(column, justify="right" if column in ("accuracy", "change") else "left")
    for row in view["rows"]:
        change = row["change"]
        table.add_row(
            escape(row["dataset"]),
            escape(row["operation"]),
            "—" if row["metric"] is None else f"{row['metric']:.4f}",
            "—"
            if change is None
            else f"{change * 100:+.1f} points [{row['low'] * 100:+.1f}, {row['high'] * 100:+.1f}] "
            + ("real" if row["real"] else "within noise"),
        )
    console.print(table)
    registered = ", ".join(model.ref for model in result.models)
    console.print(
        f"registered {registered}; [bold]production → {result.production.ref}[/] "
        f"({escape(result.production_reason)})"
    )


def _print_monitor_demo(result: Any) -> None:
    """Six simulated hours, the windows, the alerts, the retrained model and the promotion."""
    from rich.table import Table

    from dcai._demo_deploy import DEPLOYMENT

    shown = result.monitor
    if shown is None:
        console.print("skipped: monitoring reads the log of the serve extra")
        return
    console.print(
        f"{shown['requests']} requests over six simulated hours: two as usual, two after a "
        "sudden change (pixels x 1.6, a brighter camera), two of a gradual one; the true label "
        "comes back 45 minutes later for 60 % of them"
    )
    table = Table(title=f"dcai monitor {DEPLOYMENT} --window 1h", title_justify="left")
    for column in (
        "hour (UTC)",
        "requests",
        "drifted",
        "out of range",
        "confidence",
        "accuracy [95 %]",
        "estimated",
    ):
        table.add_column(column, justify="left" if column.startswith("hour") else "right")
    for row in shown["windows"].to_dict(orient="records"):
        accuracy = row["accuracy"]
        table.add_row(
            str(row["window_start"])[:16].replace("T", " "),
            f"{row['requests']:,}",
            "—" if row["drift_share"] != row["drift_share"] else f"{row['drift_share']:.0%}",
            f"{row['out_of_range_rate']:.1%}",
            f"{row['confidence_mean']:.3f}",
            "—"
            if accuracy != accuracy
            else f"{accuracy:.2f} [{row['accuracy_low']:.2f}, {row['accuracy_high']:.2f}]",
            f"{row['estimated_accuracy']:.2f}",
        )
    console.print(table)
    for alert in shown["alerts"]:
        console.print(
            f"  alert [red]{escape(alert['rule'])}[/] ({alert['state']}): {alert['metric']} = "
            f"{alert['value']:.3g} {alert['op']} {alert['threshold']:.3g} since "
            f"{str(alert['since'])[11:16]}"
        )
    retrained = shown["retrained"]
    dataset = shown["dataset"]
    console.print(
        f"retrained: [bold cyan]{dataset.ref}[/] = {dataset.params['base']} + "
        f"{retrained.added_rows} labelled production rows (operation retrain; lineage: "
        f"deployment, revisions, models, alerts) → [bold]{retrained.model}[/]"
    )
    for name, found in retrained.comparison.items():
        if found is None:
            continue
        console.print(
            f"  {name}: candidate {found['candidate_accuracy']:.3f} vs production "
            f"{found['production_accuracy']:.3f} on {found['n']} ({found['difference'] * 100:+.1f}"
            f" points [{found['low'] * 100:+.1f}, {found['high'] * 100:+.1f}]"
            f"{', real' if found['real'] else ', within noise'})"
        )
    history = shown["deployment"].history[-3:]
    console.print(
        "canary → ramp → promote: "
        + " · ".join(f"rev {r.revision} {r.action} ({escape(r.reason)})" for r in history)
    )
    console.print(f"monitoring report: {escape(str(shown['report']))}")


def _print_deploy_demo(result: Any) -> None:
    """The deployment's history, the simulated traffic, feedback, rollback, logged rows."""
    from rich.table import Table

    from dcai._demo_deploy import DEPLOYMENT, USERS

    shown = result.deploy
    if shown is None:
        console.print("skipped: serving needs the serve extra (pip install 'dcai\\[serve]')")
        return
    routes = ", ".join(f"{route} {n}" for route, n in sorted(shown["routes"].items()))
    accuracy = ", ".join(f"{route} {acc:.2f}" for route, acc in sorted(shown["accuracy"].items()))
    console.print(
        f"served {shown['requests']} requests over HTTP from {USERS} simulated users ({routes}; "
        f"sticky per user); {shown['needs_review']} answers below confidence 0.6 went to review "
        f"({shown['review_queue']} still queued); accuracy on feedback: {accuracy}"
    )
    console.print(
        f"rolled back without a restart: the next request went to the "
        f"[bold]{shown['route_after_rollback']}[/]"
    )
    deployment = shown["deployment"]
    table = Table(title=f"Deployment {DEPLOYMENT}", title_justify="left")
    for column in ("rev", "action", "primary", "canary", "mode", "why"):
        table.add_column(column, justify="right" if column == "rev" else "left")
    for r in deployment.history:
        table.add_row(
            str(r.revision),
            r.action,
            escape(r.primary),
            escape(f"{r.canary} ({r.canary_percent:g} %)") if r.canary else "—",
            r.mode + (f" <{r.review_below:g}" if r.review_below is not None else ""),
            escape(r.reason),
        )
    console.print(table)
    logged = Table(title="First rows of the prediction log (newest first)", title_justify="left")
    for column in ("time (UTC)", "route", "model", "label", "confidence", "feedback"):
        logged.add_column(column, justify="right" if column == "confidence" else "left")
    for row in shown["logged"].to_dict(orient="records"):
        feedback = row["feedback_label"]
        logged.add_row(
            str(row["time"])[:19],
            row["route"],
            escape(str(row["model_version"])),
            escape(str(row["label"])),
            f"{row['confidence']:.3f}",
            "—" if feedback is None or feedback != feedback else escape(str(feedback)),
        )
    console.print(logged)
    data = shown["production_data"]
    console.print(
        f"production data flows back: [bold cyan]{data.ref}[/] holds the {data.rows} labeled "
        "production rows (operation from_logs: deployment, revisions, model versions, time range)"
    )


def _print_label_demo(result: Any) -> None:
    """Agreement, the confused pair, consensus, HLP and the convention report of the demo."""
    agreement = result.agreement.to_dict()

    def value(key: str) -> str:
        estimate = agreement[key]
        return f"{estimate['value']:.3f} [{estimate['low']:.3f}, {estimate['high']:.3f}]"

    console.print(
        f"three labelers re-labeled {agreement['n_items']} digits → [bold cyan]{result.labeled.ref}[/] "
        "(guideline digits@v1; cy mixes up 1 and 8)"
    )
    console.print(
        f"agreement: Cohen's kappa {value('cohen_kappa')}, Fleiss' kappa {value('fleiss_kappa')}, "
        f"Krippendorff's alpha {value('krippendorff_alpha')}"
    )
    pair = result.agreement.confused_pairs(1).iloc[0]
    console.print(
        f"the class pair they disagree on most: [bold]{pair['class_a']} ↔ {pair['class_b']}[/] "
        f"({pair['share']:.0%} of all disagreements) — revise the guideline there"
    )
    accuracy = result.consensus.annotators.set_index("annotator")["accuracy"]
    console.print(
        "Dawid–Skene consensus; estimated labeler accuracy: "
        + ", ".join(f"{name} {acc:.1%}" for name, acc in accuracy.items())
    )
    frame = result.hlp.to_frame()
    overall = frame[frame["scope"] == "overall"].iloc[0]
    per_class = frame[frame["scope"] == "class"].set_index("group")
    worst = per_class["accuracy"].astype(float).nsmallest(2)
    console.print(
        f"human-level performance: accuracy {overall['accuracy']:.3f} "
        f"[{overall['low']:.3f}, {overall['high']:.3f}]; lowest on classes "
        + ", ".join(f"{cls} ({acc:.3f})" for cls, acc in worst.items())
        + " — stored as the baseline for error analysis"
    )
    report = result.conventions
    varying = report.conventions[report.conventions["n_texts"] > 0]
    first = report.groups.iloc[0]
    variants = report.variants[report.variants["group"] == first["group"]]
    console.print(
        f"transcripts ({result.speech.ref}): {int(report.groups['n_texts'].sum())} texts fall into "
        f"{len(report.groups)} groups that should each be written one way; conventions that vary: "
        + ", ".join(varying["convention"])
    )
    console.print(
        f"e.g. {' / '.join(repr(v) for v in variants['text'].astype(str).unique()[:3])} → "
        f"{first['canonical']!r} ({', '.join(first['conventions'])})"
    )


def _exit_code(error: DcaiError) -> int:
    if isinstance(error, WorkspaceBusyError):
        return EXIT_BUSY
    if isinstance(error, InvalidInputError | UnknownRefError | CorruptObjectError | StorageError):
        return EXIT_BAD_INPUT
    return 1


def hoist_global_options(argv: list[str]) -> list[str]:
    """Let ``--workspace``/``-w`` stand anywhere on the line, as users type it.

    >>> hoist_global_options(["data", "list", "--workspace", "ws", "--json"])
    ['--workspace', 'ws', 'data', 'list', '--json']
    >>> hoist_global_options(["data", "add", "-w=ws", "d", "f.csv"])
    ['--workspace=ws', 'data', 'add', 'd', 'f.csv']
    """
    hoisted: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg in ("--workspace", "-w") and i + 1 < len(argv):
            hoisted += ["--workspace", argv[i + 1]]
            i += 2
            continue
        if arg.startswith(("--workspace=", "-w=")):
            hoisted.append("--workspace=" + arg.split("=", 1)[1])
        else:
            rest.append(arg)
        i += 1
    return hoisted + rest


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; render dcai errors as one line on stderr with a meaningful exit code."""
    args = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    try:
        app(args=args, prog_name="dcai", standalone_mode=True)
    except DcaiError as error:
        err_console.print(
            # Escape: paths, columns and values in the message may look like Rich markup.
            f"[bold red]error:[/] {escape(str(error))}",
            markup=True,
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(_exit_code(error))


if __name__ == "__main__":
    main()
