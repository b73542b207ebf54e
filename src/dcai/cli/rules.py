"""``dcai rules``: labeling rules written in a Python file, measured on a dataset version."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from dcai.cli._context import open_workspace
from dcai.cli._output import console, dcai_warnings_to_stderr, print_json, progress_bar

app = typer.Typer(
    help="Labeling rules: functions of a row that vote a label or abstain, measured and combined.",
    no_args_is_help=True,
)


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


@app.command("analyze")
def analyze(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Dataset version: name, name@v3 or name@<hash>.")],
    rules: Annotated[
        Path,
        typer.Option(
            "--rules",
            help="Python file whose @rule functions (from dcai.rules) are the rules; it is run "
            "as your code.",
        ),
    ],
    split: Annotated[
        str | None, typer.Option("--split", help="Only this split's rows (train, dev or test).")
    ] = None,
    json_: Annotated[
        bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")
    ] = False,
) -> None:
    """Run the rules on the version's rows (the label hidden from them): each rule's coverage,
    overlap, conflict and accuracy against the version's labels, then the label model against
    majority vote on the test split."""
    ws = open_workspace(ctx)
    with dcai_warnings_to_stderr(), progress_bar(f"rules on {ref}") as progress:
        report = ws.rules.analyze(ref, rules, split=split, progress=progress)
    if json_:
        print_json(report.to_dict())
        return
    title = f"{escape(str(rules))} on {escape(report.ref)}" + (f" ({split})" if split else "")
    table = Table(title=title, title_justify="left")
    columns = ("rule", "votes", "coverage", "overlap", "conflict", "accuracy [95 % CI]",
               "label model's estimate")  # fmt: skip
    for name in columns:
        table.add_column(name, justify="left" if name == "rule" else "right")
    for row in report.to_dict()["rules"]:
        accuracy = (
            "—"
            if row["accuracy"] is None
            else f"{row['accuracy']:.1%} [{row['accuracy_low']:.1%}, {row['accuracy_high']:.1%}]"
        )
        table.add_row(
            escape(row["rule"]),
            f"{row['votes']:,}",
            _share(row["coverage"]),
            _share(row["overlap"]),
            _share(row["conflict"]),
            accuracy,
            _share(row["estimated_accuracy"]),
        )
    console.print(table)
    where = (
        report.evaluated_on if report.evaluated_on == "all rows" else f"the {report.evaluated_on}"
    )
    console.print(
        f"{report.rows:,} rows; at least one vote on {_share(report.coverage)}. "
        f"On {escape(where)} ({report.evaluated_rows:,} rows with a vote): "
        f"label model {_share(report.label_model_accuracy)}, "
        f"majority vote {_share(report.majority_accuracy)}."
    )
