"""``dcai review``: go through an audit's issues, decide, and commit a clean version."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from dcai.cli._context import open_workspace
from dcai.cli._output import console, print_json, version_table
from dcai.errors import InvalidInputError

app = typer.Typer(
    help="Review an audit's issues: list them, decide (relabel, keep, remove), apply.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
AuditArgument = Annotated[
    str, typer.Argument(help="An audit id (see `dcai audits`) or a dataset ref (its newest audit).")
]
TypeOption = Annotated[
    str | None,
    typer.Option(
        "--type",
        help="Only this issue type: label, label_conflict, duplicate, outlier, missing_values.",
    ),
]
ClassOption = Annotated[str | None, typer.Option("--class", help="Only examples given this label.")]
MinScoreOption = Annotated[
    float | None,
    typer.Option("--min-score", help="Only issues the detector is at least this sure of (0-1)."),
]


def _check_min_score(min_score: float | None) -> None:
    """Scores are between 0 and 1: refuse --min-score outside (or NaN) as one ``error:`` line."""
    if min_score is not None and not 0.0 <= min_score <= 1.0:
        raise InvalidInputError(
            f"--min-score must be between 0 and 1 (scores are between 0 and 1); got {min_score:g}",
            hint="e.g. --min-score 0.9 for the issues the detector is surest of.",
        )


ReviewerOption = Annotated[
    str | None, typer.Option("--reviewer", help="Who decides (default: $DCAI_AUTHOR or login).")
]


@app.command("list")
def list_(
    ctx: typer.Context,
    audit: AuditArgument,
    type: TypeOption = None,
    label: ClassOption = None,
    min_score: MinScoreOption = None,
    status: Annotated[
        str, typer.Option("--status", help="open (undecided), decided, or all.")
    ] = "open",
    limit: Annotated[int, typer.Option("--limit", help="Rows shown (0 = all).")] = 50,
    json_: JsonOption = False,
) -> None:
    """List issues to review, surest first, with decisions already taken."""
    _check_min_score(min_score)
    review = open_workspace(ctx).review(audit)
    queue = review.queue(
        type=type,
        label=label,
        min_score=min_score,
        status=status,  # type: ignore[arg-type]
        limit=limit or None,
    )
    if json_:
        print_json(
            {
                "audit": review.audit.short_id,
                "ref": review.audit.version_ref,
                "issues": [
                    {k: (None if pd.isna(v) else v) for k, v in row.items()}
                    for row in queue.astype(object).to_dict(orient="records")
                ],
            }
        )
        return
    table = Table(
        title=f"Issues of audit {review.audit.short_id} ({review.audit.version_ref}), {status}",
        title_justify="left",
    )
    for column in ("example_id", "type", "score", "given", "suggested", "decision"):
        table.add_column(column, justify="right" if column == "score" else "left")
    for row in queue.itertuples(index=False):
        decision = "" if pd.isna(row.decision) else str(row.decision)
        if decision == "relabel":
            decision = f"relabel → {row.new_label}"
        table.add_row(
            escape(str(row.example_id)),
            row.type,
            f"{row.score:.3f}",
            escape(str(row.given_label)),
            escape("" if pd.isna(row.suggested_label) else str(row.suggested_label)),
            escape(decision),
        )
    console.print(table)
    if not len(queue):
        console.print("nothing to review with these filters")


@app.command("decide")
def decide(
    ctx: typer.Context,
    audit: AuditArgument,
    example_ids: Annotated[
        list[str] | None,
        typer.Argument(
            help="Examples to decide on (default: every issue that passes the filters)."
        ),
    ] = None,
    accept_suggested: Annotated[
        bool, typer.Option("--accept-suggested", help="Relabel to the audit's suggested label.")
    ] = False,
    relabel: Annotated[str | None, typer.Option("--relabel", help="Set this label.")] = None,
    keep: Annotated[bool, typer.Option("--keep", help="The given label is right.")] = False,
    remove: Annotated[bool, typer.Option("--remove", help="Drop the examples.")] = False,
    type: TypeOption = None,
    label: ClassOption = None,
    min_score: MinScoreOption = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Decide on every open issue (when no filter is given).")
    ] = False,
    new_class: Annotated[
        bool,
        typer.Option("--new-class", help="Allow --relabel to a class the data does not have yet."),
    ] = False,
    note: Annotated[str, typer.Option("--note", help="Why (kept with the decision).")] = "",
    reviewer: ReviewerOption = None,
    json_: JsonOption = False,
) -> None:
    """Record decisions: one example at a time, or in bulk with filters.

    Examples: `dcai review decide AUDIT 17 --relabel 7`, `dcai review decide AUDIT --accept-suggested --min-score 0.9`.
    """
    actions = [
        name
        for name, on in (
            ("accept", accept_suggested),
            ("relabel", relabel is not None),
            ("keep", keep),
            ("remove", remove),
        )
        if on
    ]
    if len(actions) != 1:
        raise InvalidInputError(
            "give exactly one of --accept-suggested, --relabel LABEL, --keep, --remove",
            hint="e.g. dcai review decide AUDIT --accept-suggested --min-score 0.9",
        )
    action = actions[0]
    _check_min_score(min_score)
    review = open_workspace(ctx).review(audit)
    ids = list(example_ids or [])
    filtered = type is not None or label is not None or min_score is not None
    if not ids and not filtered and not all_:
        raise InvalidInputError(
            "no examples chosen",
            hint="Name example ids, filter with --min-score/--type/--class, or pass --all.",
        )
    if action == "accept":
        if type not in (None, "label"):
            raise InvalidInputError(
                "only label issues have suggestions", hint="Drop --type or use --type label."
            )
        count = review.accept_suggested(
            min_score=min_score or 0.0,
            example_ids=ids or None,
            label=label,
            note=note,
            reviewer=reviewer,
        )
    else:
        if not ids:
            queue = review.queue(type=type, label=label, min_score=min_score, status="open")
            ids = list(dict.fromkeys(queue["example_id"].astype(str)))
        count = review.decide(
            ids,
            "relabel" if action == "relabel" else action,  # type: ignore[arg-type]
            label=relabel,
            note=note,
            reviewer=reviewer,
            allow_new_class=new_class,
        )
    status = review.status()
    if json_:
        print_json(
            {
                "audit": review.audit.short_id,
                "recorded": count,
                "action": action,
                "status": status.to_dict(),
            }
        )
        return
    verb = {
        "accept": "accepted suggestions for",
        "relabel": "relabeled",
        "keep": "kept",
        "remove": "marked for removal",
    }[action]
    console.print(
        f"{verb} {count:,} example(s) · decided so far: "
        + ", ".join(f"{k} {v:,}" for k, v in status.decided.items())
        + f" · open: {status.open_examples:,}"
    )


@app.command("undo")
def undo(
    ctx: typer.Context,
    audit: AuditArgument,
    example_ids: Annotated[list[str], typer.Argument(help="Examples whose decisions to forget.")],
    json_: JsonOption = False,
) -> None:
    """Forget decisions (before applying)."""
    review = open_workspace(ctx).review(audit)
    count = review.undo(example_ids)
    if json_:
        print_json({"audit": review.audit.short_id, "removed": count})
        return
    console.print(f"forgot {count:,} decision(s)")


@app.command("status")
def status(ctx: typer.Context, audit: AuditArgument, json_: JsonOption = False) -> None:
    """Issues, decisions so far, applications, and whether the audit is still current."""
    review = open_workspace(ctx).review(audit)
    state = review.status()
    if json_:
        print_json(state.to_dict())
        return
    console.print(
        f"audit [bold]{state.audit}[/] of [bold cyan]{state.ref}[/]: {state.issues:,} issues on "
        f"{state.examples_with_issues:,} examples; open {state.open_examples:,}; decided "
        + ", ".join(f"{k} {v:,}" for k, v in state.decided.items())
    )
    if state.stale:
        console.print(f"[yellow]stale:[/] the dataset's latest version is {state.latest_ref}")
    for applied in state.applied:
        console.print(
            f"applied → [bold cyan]{applied['ref']}[/] "
            f"({applied['decisions']} decisions, {escape(applied['reviewer'])})"
        )


@app.command("apply")
def apply(
    ctx: typer.Context,
    audit: AuditArgument,
    message: Annotated[
        str, typer.Option("--message", "-m", help="Why (default: a summary of the decisions).")
    ] = "",
    author: Annotated[
        str | None, typer.Option("--author", help="Who commits (default: $DCAI_AUTHOR or login).")
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Commit the decisions as a child version (relabels and removals; lineage keeps every decision)."""
    ws = open_workspace(ctx)
    review = ws.review(audit)
    version = review.apply(message=message, author=author)
    counts = version.params.get("counts", {}) if version.created else {}
    if json_:
        print_json(
            {
                "ref": version.ref,
                "id": version.id,
                "rows": version.rows,
                "new": version.created,
                "parent": review.audit.version_ref,
                "audit": review.audit.short_id,
                "counts": counts,
            }
        )
        return
    if not version.created:
        console.print(
            f"[yellow]no change[/]: every decision keeps the data as it is ({version.ref}); the review is recorded"
        )
        return
    console.print(
        f"[green]committed[/] [bold cyan]{version.ref}[/] v{version.seq} from {review.audit.version_ref}: "
        + ", ".join(f"{k} {v:,}" for k, v in counts.items())
    )
    console.print(version_table([version], title="New version"))
    console.print(f"see the changes: dcai data diff {review.audit.version_ref} {version.ref}")
