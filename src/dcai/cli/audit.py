"""``dcai audit`` and ``dcai audits``: find bad data in a version, list stored audits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from dcai.cli._context import open_workspace
from dcai.cli._output import console, dcai_warnings_to_stderr, print_json, progress_bar

if TYPE_CHECKING:
    from dcai.quality.audit import Audit

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


def audit(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The version to audit: NAME, NAME@v3 or NAME@<hash>.")],
    cv: Annotated[int, typer.Option("--cv", help="Cross-validation folds.")] = 5,
    embeddings: Annotated[
        bool,
        typer.Option(
            "--embeddings",
            help="Compare text by sentence embeddings (needs: pip install 'dcai\\[embeddings]').",
        ),
    ] = False,
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend",
            help="Where cross-validation folds run: joblib (this machine) or dask "
            "(the scheduler in dcai.toml). Default: the workspace setting.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for folds and intervals.")] = 0,
    top: Annotated[int, typer.Option("--top", help="Worst examples shown.")] = 10,
    json_: JsonOption = False,
) -> None:
    """Find label errors, outliers, near-duplicates, missing values and class imbalance.

    Stores the per-example scores and the issue list with the version; review them with
    `dcai review list` and commit fixes with `dcai review apply`.
    """
    ws = open_workspace(ctx)
    with dcai_warnings_to_stderr(), progress_bar(f"auditing {ref}") as progress:
        result = ws.quality.audit(
            ref, cv=cv, embeddings=embeddings, backend=backend, random_state=seed, progress=progress
        )
    if json_:
        print_json(result.to_dict(issues=True))
        return
    render_audit(result, top=top)


def render_audit(result: Audit, *, top: int = 10) -> None:
    """The audit summary: issues by type and class, noise per class, the worst examples."""
    from dcai.quality.audit import ISSUE_TYPES, content_text, suggest_min_score

    summary = result.summary
    state = "[green]audited[/]" if result.created else "[yellow]already audited[/]"
    console.print(
        f"{state} [bold cyan]{result.version_ref}[/]: audit [bold]{result.short_id}[/] · "
        f"{summary['examples']:,} examples, {summary['examples_with_issues']:,} with issues · "
        f"model agrees with {summary['model_agreement']:.1%} of labels"
    )
    noise = summary["label_noise"]
    low, high = noise["interval"]
    console.print(
        f"estimated label errors: [bold]{noise['n_issues']:,.0f}[/] ({noise['rate']:.1%}), "
        f"95% interval {low:,.0f}–{high:,.0f}"
    )
    by_class: dict[str, dict[str, int]] = summary["issues_by_class"]
    table = Table(title="Issues by type and class", title_justify="left")
    table.add_column("class")
    for kind in ISSUE_TYPES:
        table.add_column(kind.replace("_", " "), justify="right")
    table.add_column("est. noise rate", justify="right")
    rates: dict[str, float] = noise["noise_rate"]
    classes = sorted(set(rates) | set(by_class), key=_natural)
    for label in classes:
        counts = by_class.get(label, {})
        table.add_row(
            escape(label),
            *(f"{counts.get(kind, 0):,}" if counts.get(kind) else "·" for kind in ISSUE_TYPES),
            f"{rates.get(label, 0.0):.1%}",
        )
    totals = summary["issues_by_type"]
    table.add_row(
        "[bold]all[/]",
        *(f"[bold]{totals.get(k, 0):,}[/]" for k in ISSUE_TYPES),
        f"[bold]{noise['rate']:.1%}[/]",
    )
    console.print(table)
    pairs = noise.get("confused_pairs", [])[:5]
    if pairs:
        console.print(
            "most confused (given → true): "
            + ", ".join(
                f"{escape(p['given'])} → {escape(p['true'])} ≈{p['count']:.0f}" for p in pairs
            )
        )
    leakage = summary.get("split_leakage") or {}
    if leakage.get("groups"):
        console.print(
            f"[yellow]split leakage:[/] {leakage['groups']:,} duplicate group(s) "
            f"({leakage['examples']:,} examples) span train/dev/test; keep each group in one "
            f"split: tag the copies, or re-split with dcai data split "
            f"{escape(result.dataset)} --group COLUMN"
        )
    imbalanced = [c for c in summary.get("class_balance", []) if c.get("is_class_imbalance_issue")]
    if imbalanced:
        console.print(
            "[yellow]rare classes:[/] "
            + ", ".join(f"{escape(str(c['class']))} ({c['count']:,})" for c in imbalanced)
        )
    issues = result.issues
    worst = issues[issues["type"] == "label"].head(top)
    if len(worst):
        worst = result.issue_content(worst)
        rows = [
            [
                str(row.example_id),
                str(row.given_label),
                str(row.suggested_label),
                f"{row.score:.3f}",
                content_text(row.content),
            ]
            for row in worst.itertuples(index=False)
        ]
        console.print(
            issue_table(
                f"Most likely label errors (top {len(worst)})",
                ["example_id", "given", "suggested", "score", "content"],
                rows,
            )
        )
    carried = int(summary.get("carried_decisions") or 0)
    if carried:
        console.print(
            f"carried {carried:,} review decision(s) on unchanged examples from earlier audits "
            f"(see: dcai review status {result.short_id})"
        )
    steps = [f"dcai review list {result.short_id}"]
    # A threshold taken from the scores present, so following the hint accepts something.
    min_score = suggest_min_score(issues)
    if min_score is not None:
        steps.append(
            f"dcai review decide {result.short_id} --accept-suggested --min-score {min_score:g}"
        )
    steps.append(f"dcai review apply {result.short_id}")
    console.print("next: " + " · ".join(steps))


def issue_table(title: str, columns: list[str], rows: list[list[str]]) -> Table:
    """A table of issues whose last column (the content) is cut with an ellipsis to the width
    the other columns leave on the terminal; cells are plain text (escaped here)."""
    from rich.cells import cell_len

    table = Table(title=title, title_justify="left")
    fixed = 4  # the table's outer border and the last column's padding
    for i, column in enumerate(columns[:-1]):
        table.add_column(column, justify="right" if column == "score" else "left", no_wrap=True)
        fixed += 3 + max([cell_len(column), *(cell_len(r[i]) for r in rows)])
    table.add_column(
        columns[-1],
        overflow="ellipsis",
        no_wrap=True,
        max_width=max(16, min(_CONTENT_WIDTH, console.width - fixed)),
    )
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    return table


#: The widest the content column gets, however wide the terminal.
_CONTENT_WIDTH = 100


def _natural(value: str) -> tuple[int, Any]:
    try:
        return (0, float(value))
    except ValueError:
        return (1, value)


def audits(
    ctx: typer.Context,
    ref: Annotated[
        str | None, typer.Argument(help="Only audits of this dataset or version.")
    ] = None,
    json_: JsonOption = False,
) -> None:
    """List stored audits, newest first."""
    from dcai.quality.audit import ISSUE_TYPES

    ws = open_workspace(ctx)
    found = ws.quality.audits(ref)
    if json_:
        print_json([a.to_dict() for a in found])
        return
    if not found:
        console.print("No audits yet. Run one with: dcai audit NAME")
        return
    table = Table()
    for column in (
        "audit",
        "version",
        "examples",
        *(k.replace("_", " ") for k in ISSUE_TYPES),
        "created (UTC)",
    ):
        table.add_column(column)
    for a in found:
        counts = a.summary.get("issues_by_type", {})
        table.add_row(
            f"[bold]{a.short_id}[/]",
            a.version_ref,
            f"{a.summary.get('examples', 0):,}",
            *(f"{counts.get(k, 0):,}" for k in ISSUE_TYPES),
            a.created_at[:19].replace("T", " "),
        )
    console.print(table)
