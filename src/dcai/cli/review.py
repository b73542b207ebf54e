"""``dcai review``: go through an audit's issues, decide, and commit a clean version."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

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
    import pandas as pd

    from dcai.cli.audit import issue_table
    from dcai.quality.audit import content_text

    _check_min_score(min_score)
    review = open_workspace(ctx).quality.review(audit)
    queue = review.queue(
        type=type,
        label=label,
        min_score=min_score,
        status=status,  # type: ignore[arg-type]
        limit=limit or None,
        content=True,
    )
    carried = review.status().carried
    if json_:
        print_json(
            {
                "audit": review.audit.short_id,
                "ref": review.audit.version_ref,
                "carried": sum(carried.values()),
                "issues": [
                    {k: _json_cell(v) for k, v in row.items()}
                    for row in queue.astype(object).to_dict(orient="records")
                ],
            }
        )
        return
    rows = []
    for row in queue.itertuples(index=False):
        decision = "" if pd.isna(row.decision) else str(row.decision)
        if decision == "relabel":
            decision = f"relabel → {row.new_label}"
        if decision and not pd.isna(row.carried_from):
            decision += f" (carried from {row.carried_from})"
        shown = content_text(row.content)
        if row.duplicate_group is not None:
            shown = f"[group {row.duplicate_group}] {shown}"
        rows.append(
            [
                str(row.example_id),
                str(row.type),
                f"{row.score:.3f}",
                str(row.given_label),
                "" if pd.isna(row.suggested_label) else str(row.suggested_label),
                decision,
                shown,
            ]
        )
    table = issue_table(
        f"Issues of audit {review.audit.short_id} ({review.audit.version_ref}), {status}",
        ["example_id", "type", "score", "given", "suggested", "decision", "content"],
        rows,
    )
    console.print(table)
    if not len(queue):
        console.print("nothing to review with these filters")
    if carried:
        console.print(
            f"{sum(carried.values()):,} decision(s) carried from earlier audits ("
            + ", ".join(f"{n:,} from {audit_id}" for audit_id, n in carried.items())
            + f"); see them with: dcai review list {review.audit.short_id} --status decided"
        )


def _json_cell(value: object) -> object:
    """A queue cell for JSON: missing values as null; dicts and text as they are."""
    import pandas as pd

    if isinstance(value, dict | list | str):
        return value
    return None if pd.isna(value) else value


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
    review = open_workspace(ctx).quality.review(audit)
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
    review = open_workspace(ctx).quality.review(audit)
    count = review.undo(example_ids)
    if json_:
        print_json({"audit": review.audit.short_id, "removed": count})
        return
    console.print(f"forgot {count:,} decision(s)")


@app.command("status")
def status(ctx: typer.Context, audit: AuditArgument, json_: JsonOption = False) -> None:
    """Issues, decisions so far, applications, and whether the audit is still current."""
    review = open_workspace(ctx).quality.review(audit)
    state = review.status()
    if json_:
        print_json(state.to_dict())
        return
    console.print(
        f"audit [bold]{state.audit}[/] of [bold cyan]{state.ref}[/]: {state.issues:,} issues on "
        f"{state.examples_with_issues:,} examples; open {state.open_examples:,}; decided "
        + ", ".join(f"{k} {v:,}" for k, v in state.decided.items())
    )
    if state.carried:
        console.print(
            f"carried {sum(state.carried.values()):,} decision(s) on unchanged examples from "
            + ", ".join(f"audit {audit_id} ({n:,})" for audit_id, n in state.carried.items())
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
    review = ws.quality.review(audit)
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
