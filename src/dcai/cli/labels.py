"""``dcai labels``: annotations from several labelers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from dcai.cli._context import open_workspace
from dcai.cli._output import console, print_json

app = typer.Typer(
    help="Labels from several labelers: agreement, consensus, human-level performance, "
    "conventions, double labeling, guidelines.",
    no_args_is_help=True,
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
RefArgument = Annotated[str, typer.Argument(help="The dataset or version with annotations.")]


@app.command("import")
def import_(
    ctx: typer.Context,
    ref: Annotated[
        str, typer.Argument(help="The dataset (or version ref) the annotations belong to.")
    ],
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV/Parquet/JSONL with example_id, annotator, label [, guideline, time], "
            "or a Label Studio JSON export."
        ),
    ],
    id: Annotated[str, typer.Option("--id", help="Column holding the example id.")] = "example_id",
    annotator: Annotated[
        str, typer.Option("--annotator", help="Column holding the annotator.")
    ] = "annotator",
    label: Annotated[str, typer.Option("--label", help="Column holding the label.")] = "label",
    guideline: Annotated[
        str | None,
        typer.Option(
            "--guideline",
            help="The guideline in force (NAME or NAME@vN), recorded on rows that name none.",
        ),
    ] = None,
    format: Annotated[
        str | None,
        typer.Option(
            "--format", help="labelstudio for a Label Studio JSON export (default: by suffix)."
        ),
    ] = None,
    classes: Annotated[
        str | None,
        typer.Option(
            "--classes",
            help="The declared class set, comma-separated (default: the label column's values).",
        ),
    ] = None,
    allow_new_classes: Annotated[
        bool,
        typer.Option("--allow-new-classes", help="Accept labels outside the declared class set."),
    ] = False,
    message: Annotated[
        str, typer.Option("--message", "-m", help="Why these annotations were added.")
    ] = "",
    author: Annotated[str | None, typer.Option("--author", help="Who imported them.")] = None,
    json_: Annotated[
        bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")
    ] = False,
) -> None:
    """Import long-form annotations as a new version of the dataset."""
    ws = open_workspace(ctx)
    version = ws.labels.import_annotations(
        ref,
        file,
        id_column=id,
        annotator_column=annotator,
        label_column=label,
        guideline=guideline,
        format=format,
        classes=[c.strip() for c in classes.split(",") if c.strip()] if classes else None,
        allow_new_classes=allow_new_classes,
        message=message,
        author=author,
    )
    if json_:
        print_json(
            {
                "ref": version.ref,
                "id": version.id,
                "rows": version.rows,
                "new": version.created,
                "annotations": version.n_annotations,
                "imported": version.params.get("annotations"),
            }
        )
        return
    state = "[green]imported[/]" if version.created else "[yellow]unchanged[/]"
    console.print(
        f"{state} {version.params.get('annotations', 0):,} annotations → [bold cyan]{version.ref}[/] "
        f"({version.n_annotations:,} annotations in all)"
    )


guideline_app = typer.Typer(help="Versioned labeling guidelines (markdown).", no_args_is_help=True)
app.add_typer(guideline_app, name="guideline")


@guideline_app.command("add")
def guideline_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Guideline name, e.g. sentiment.")],
    file: Annotated[Path, typer.Argument(help="A markdown file with the instructions.")],
    message: Annotated[str, typer.Option("--message", "-m", help="What changed and why.")] = "",
    author: Annotated[str | None, typer.Option("--author", help="Who wrote it.")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Store FILE as the next version of guideline NAME (the same text is stored once)."""
    guideline = open_workspace(ctx).labels.add_guideline(name, file, message=message, author=author)
    if json_:
        print_json({**guideline.to_dict(), "new": guideline.created})
        return
    state = "[green]added[/]" if guideline.created else "[yellow]unchanged[/]"
    console.print(f"{state} guideline [bold cyan]{guideline.ref}[/]")


@guideline_app.command("list")
def guideline_list(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Only this guideline.")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List guideline versions."""
    found = open_workspace(ctx).labels.guidelines(name)
    if json_:
        print_json([g.to_dict() for g in found])
        return
    if not found:
        console.print("No guidelines yet. Add one with: dcai labels guideline add NAME FILE.md")
        return
    table = Table()
    for column in ("guideline", "author", "created (UTC)", "message"):
        table.add_column(column)
    for g in found:
        table.add_row(
            f"[bold cyan]{g.ref}[/]",
            escape(g.author),
            g.created_at[:19].replace("T", " "),
            escape(g.message),
        )
    console.print(table)


@guideline_app.command("show")
def guideline_show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME (latest) or NAME@vN.")],
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print a guideline version's text."""
    guideline = open_workspace(ctx).labels.guideline(ref)
    if json_:
        print_json({**guideline.to_dict(), "text": guideline.text})
        return
    console.print(
        f"[bold cyan]{guideline.ref}[/] by {escape(guideline.author)}, {guideline.created_at[:19]}"
    )
    console.print(guideline.text, markup=False, highlight=False)


_METHODS = ("majority", "dawid_skene", "model_assisted")
_TARGETS = ("annotations", "labels")


def _choice(value: str | None, allowed: tuple[str, ...], option: str) -> Any:
    """Check an option's value against its choices (typer gives plain strings)."""
    if value is not None and value not in allowed:
        from dcai.errors import InvalidInputError

        raise InvalidInputError(
            f"{option} {value!r} is not one of {', '.join(allowed)}",
            hint=f"Use {option} {allowed[0]}.",
        )
    return value


def _estimate(value: dict[str, Any] | None) -> str:
    if not value or value.get("value") is None:
        reason = (value or {}).get("reason") or "undefined"
        return f"— ({reason})"
    low, high = value.get("low"), value.get("high")
    interval = f" [{low:.3f}, {high:.3f}]" if low is not None and high is not None else ""
    return f"{value['value']:.3f}{interval}"


IncludeDatasetLabelsOption = Annotated[
    bool,
    typer.Option(
        "--include-dataset-labels",
        help="Count the data set's label column as one more annotator (on annotated examples).",
    ),
]
DatasetLabelsAsOption = Annotated[
    str | None,
    typer.Option(
        "--dataset-labels-as",
        help="Name of that annotator (default: dataset); implies --include-dataset-labels.",
    ),
]


def _dataset_labels(include: bool, name: str | None) -> bool | str:
    """The library's ``include_dataset_labels`` from the two options."""
    if name is not None:
        return name
    return include


def _truncate(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(width - 1, 1)] + "…"


@app.command("agreement")
def agreement(
    ctx: typer.Context,
    ref: RefArgument,
    by: Annotated[
        str | None,
        typer.Option("--by", help="Compare across this column: guideline, or a data column."),
    ] = None,
    level: Annotated[
        str, typer.Option("--level", help="nominal, ordinal or interval (Krippendorff's alpha).")
    ] = "nominal",
    boot: Annotated[int, typer.Option("--boot", help="Bootstrap resamples for intervals.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed.")] = 0,
    include_dataset_labels: IncludeDatasetLabelsOption = False,
    dataset_labels_as: DatasetLabelsAsOption = None,
    json_: JsonOption = False,
) -> None:
    """How much labelers agree: percent agreement, Cohen's and Fleiss' kappa, Krippendorff's
    alpha (95% intervals), per class, per pair, which classes get mixed up, worst items
    (with their content). --include-dataset-labels counts the data set's labels as a labeler."""
    from dcai.labels.agreement_workflow import run_agreement

    ws = open_workspace(ctx)
    report, comparison = run_agreement(
        ws.stores,
        ref,
        by=by,
        level=_choice(level, ("nominal", "ordinal", "interval"), "--level"),
        n_boot=boot,
        random_state=seed,
        include_dataset_labels=_dataset_labels(include_dataset_labels, dataset_labels_as),
    )
    data = report.to_dict()
    if comparison is not None:
        data["by"] = {"column": by, **comparison.to_dict()}
    if json_:
        print_json(data)
        return
    console.print(
        f"[bold]{report.n_items:,}[/] items labeled by ≥ 2 of {report.n_annotators} labelers "
        f"({data.get('n_labels', 0):,} labels)"
    )
    for key, name in (
        ("percent_agreement", "percent agreement"),
        ("cohen_kappa", "Cohen's kappa (mean of pairs)"),
        ("fleiss_kappa", "Fleiss' kappa"),
        ("krippendorff_alpha", f"Krippendorff's alpha ({level})"),
    ):
        console.print(f"  {name:<32} {_estimate(data.get(key))}")
    _records_table("Per class (specific agreement)", data.get("per_class", []))
    _records_table("Pairs of labelers", data.get("pairs", []))
    confused = report.confused_pairs(5)
    if len(confused):
        _records_table("Classes they mix up", confused.to_dict(orient="records"))
    _records_table("Each labeler against the others' consensus", data.get("annotators", []))
    disputed = data.get("disagreements", [])[:10]
    # The content in full is in --json; here it is cut to what the terminal has room for.
    room = max(console.width - 60, 20)
    disputed = [
        {**row, "content": _truncate(row["content"], room)}
        if isinstance(row.get("content"), str)
        else row
        for row in disputed
    ]
    _records_table("Items they disagree on most (worked examples)", disputed)
    if comparison is not None:
        by_data = comparison.to_dict()
        _records_table(f"By {by}", by_data["summary"])
        wide = comparison.per_class_wide().reset_index()
        wide.columns = [str(c) for c in wide.columns]
        _records_table(
            f"Specific agreement per class, by {by}", json.loads(wide.to_json(orient="records"))
        )


def _records_table(title: str, records: list[dict[str, Any]]) -> None:
    if not records:
        return
    table = Table(title=title, title_justify="left")
    columns = list(records[0])
    for column in columns:
        table.add_column(column.replace("_", " "))
    for row in records:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        if "value" in value:
            return _estimate(value)
        return escape(", ".join(f"{k} {v}" for k, v in value.items()))
    if isinstance(value, list | tuple):
        return escape(", ".join(map(str, value)))
    return escape(str(value))


@app.command("aggregate")
def aggregate(
    ctx: typer.Context,
    ref: RefArgument,
    method: Annotated[
        str,
        typer.Option("--method", help="majority, dawid_skene, or model_assisted (needs an audit)."),
    ] = "dawid_skene",
    commit: Annotated[
        bool, typer.Option("--commit", help="Commit a child version labelled by the consensus.")
    ] = False,
    min_confidence: Annotated[
        float, typer.Option("--min-confidence", help="With --commit: only consensus this sure.")
    ] = 0.0,
    message: Annotated[str, typer.Option("--message", "-m", help="Why (with --commit).")] = "",
    limit: Annotated[int, typer.Option("--limit", help="Least confident examples shown.")] = 10,
    include_dataset_labels: IncludeDatasetLabelsOption = False,
    dataset_labels_as: DatasetLabelsAsOption = None,
    json_: JsonOption = False,
) -> None:
    """Consensus labels (majority vote, Dawid–Skene, or model-assisted) and each labeler's
    estimated accuracy; --commit makes a child version with lineage. Dawid–Skene with fewer
    than three labelers falls back to a majority vote (with a warning)."""
    from dcai.cli._output import dcai_warnings_to_stderr
    from dcai.labels.consensus_workflow import commit_consensus, run_consensus

    ws = open_workspace(ctx)
    version = None
    include = _dataset_labels(include_dataset_labels, dataset_labels_as)
    with dcai_warnings_to_stderr():
        if commit:
            result, version = commit_consensus(
                ws.stores,
                ref,
                method=_choice(method, _METHODS, "--method"),
                min_confidence=min_confidence,
                message=message,
                include_dataset_labels=include,
            )
        else:
            result = run_consensus(
                ws.stores,
                ref,
                method=_choice(method, _METHODS, "--method"),
                include_dataset_labels=include,
            )
    if json_:
        data: dict[str, Any] = {
            "method": method,
            "used": result.method,
            "fallback": result.fallback,
            "examples": len(result.labels),
            "labels": json.loads(result.labels.to_json(orient="records")),
            "annotators": json.loads(result.annotators.to_json(orient="records")),
        }
        if version is not None:
            data["ref"] = version.ref
            data["new"] = version.created
            data["relabeled"] = version.params.get("relabeled")
        print_json(data)
        return
    used = method if result.method == method else f"{result.method} (instead of {method})"
    console.print(f"{used} consensus of {len(result.labels):,} examples")
    if result.fallback is not None:
        console.print(f"[yellow]warning:[/] {escape(result.fallback)}")
    _records_table("Labelers", json.loads(result.annotators.to_json(orient="records")))
    unsure = result.labels.sort_values("confidence").head(limit)
    _records_table("Least confident consensus", json.loads(unsure.to_json(orient="records")))
    if version is not None:
        state = "[green]committed[/]" if version.created else "[yellow]unchanged[/]"
        console.print(
            f"{state} [bold cyan]{version.ref}[/]: {version.params.get('relabeled', 0)} labels changed"
        )


@app.command("hlp")
def hlp(
    ctx: typer.Context,
    ref: RefArgument,
    by: Annotated[
        str | None, typer.Option("--by", help="Also per value of this data column.")
    ] = None,
    consensus: Annotated[
        str, typer.Option("--consensus", help="Consensus of the others: majority or dawid_skene.")
    ] = "majority",
    boot: Annotated[int, typer.Option("--boot", help="Bootstrap resamples for intervals.")] = 1000,
    include_dataset_labels: IncludeDatasetLabelsOption = False,
    dataset_labels_as: DatasetLabelsAsOption = None,
    json_: JsonOption = False,
) -> None:
    """Human-level performance: each labeler against the consensus of the others (accuracy, F1),
    overall, per class and per --by value; stored as the baseline for error analysis."""
    from dcai.labels.hlp_workflow import run_hlp

    report = run_hlp(
        open_workspace(ctx).stores,
        ref,
        by=by,
        consensus=_choice(consensus, ("majority", "dawid_skene"), "--consensus"),
        n_boot=boot,
        include_dataset_labels=_dataset_labels(include_dataset_labels, dataset_labels_as),
    )
    if json_:
        print_json(report.to_dict())
        return
    _records_table(
        "Human-level performance", json.loads(report.to_frame().to_json(orient="records"))
    )


@app.command("conventions")
def conventions(
    ctx: typer.Context,
    ref: RefArgument,
    target: Annotated[
        str | None,
        typer.Option("--target", help="annotations or labels (default: annotations if any)."),
    ] = None,
    save_rules: Annotated[
        Path | None, typer.Option("--save-rules", help="Write the proposed rules (JSON) to edit.")
    ] = None,
    apply: Annotated[
        Path | None,
        typer.Option("--apply", help="Commit a child version with these approved rules (JSON)."),
    ] = None,
    message: Annotated[str, typer.Option("--message", "-m", help="Why (with --apply).")] = "",
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite the output file if it exists.")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Find variants of free-text labels that should be one (case, whitespace, ellipses,
    fillers, unicode, spelling), per labeler; propose rules; --apply approved rules.
    --save-rules refuses an existing file unless --force."""
    from dcai._user_files import check_output_path, write_user_bytes
    from dcai.cli._labels_format import convention_report_dict
    from dcai.labels._conventions import ConventionRules
    from dcai.labels.conventions_workflow import apply_conventions_version, find_conventions

    ws = open_workspace(ctx)
    if apply is not None:
        rules = ConventionRules.from_dict(_read_json(apply))
        version = apply_conventions_version(
            ws.stores, ref, rules, target=_choice(target, _TARGETS, "--target"), message=message
        )
        if json_:
            print_json(
                {"ref": version.ref, "new": version.created, "changed": version.params["changed"]}
            )
            return
        console.print(
            f"[green]committed[/] [bold cyan]{version.ref}[/]: {version.params['changed']:,} texts rewritten"
        )
        return
    if save_rules is not None:
        check_output_path(save_rules, workspace=ws, force=force)
    chosen, report = find_conventions(ws.stores, ref, target=_choice(target, _TARGETS, "--target"))
    if save_rules is not None:
        write_user_bytes(
            save_rules,
            json.dumps(report.rules.to_dict(), indent=2).encode(),
            workspace=ws,
            force=force,
        )
    if json_:
        print_json({"target": chosen, **convention_report_dict(report)})
        return
    summary = report.conventions[["convention", "n_groups", "n_texts", "variants", "proposed"]]
    summary = summary[summary["n_texts"] > 0]
    _records_table(f"Conventions that vary in the {chosen}", summary.to_dict(orient="records"))
    usage = report.usage.pivot_table(
        index=["convention", "variant"], columns="annotator", values="count", fill_value=0
    ).reset_index()
    usage = usage[usage["convention"].isin(summary["convention"])]
    usage.columns = [str(c) for c in usage.columns]
    usage = usage.astype({c: int for c in usage.columns if c not in ("convention", "variant")})
    _records_table("Who writes which variant", usage.to_dict(orient="records"))
    groups = report.groups[["canonical", "n_texts", "n_variants", "conventions"]].head(15)
    _records_table("Texts that should be one (canonical form)", groups.to_dict(orient="records"))
    console.print(f"proposed rules: {escape(json.dumps(report.rules.to_dict()))}")
    if save_rules is not None:
        console.print(
            f"rules written to {save_rules}; edit them, then: dcai labels conventions {ref} --apply {save_rules}"
        )


def _read_json(path: Path) -> dict[str, Any]:
    from dcai.errors import InvalidInputError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot read the rules: {exc}", path=str(path)) from exc
    if not isinstance(data, dict):
        raise InvalidInputError("the rules must be a JSON object", path=str(path))
    return data


@app.command("sample")
def sample(
    ctx: typer.Context,
    ref: RefArgument,
    n: Annotated[int, typer.Option("--n", help="How many examples to re-label.")],
    out: Annotated[
        Path, typer.Option("--out", help="Task file: .csv, .jsonl or .json (Label Studio).")
    ],
    strategy: Annotated[
        str,
        typer.Option(
            "--strategy",
            help="stratified, uncertainty or label_issues (the latter two need an audit).",
        ),
    ] = "stratified",
    format: Annotated[
        str | None, typer.Option("--format", help="csv, jsonl or labelstudio.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite the output file if it exists.")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Choose N examples for independent re-labeling and write a task file for labelers
    (an existing --out file is replaced only with --force)."""
    from dcai.labels.sampling_workflow import sample_tasks

    ws = open_workspace(ctx)
    chosen, _ = sample_tasks(
        ws.stores,
        ref,
        n,
        out,
        strategy=_choice(strategy, ("stratified", "uncertainty", "label_issues"), "--strategy"),
        format=format,
        random_state=seed,
        force=force,
    )
    if json_:
        print_json(
            {
                "path": str(out),
                "examples": len(chosen),
                "example_ids": chosen["example_id"].tolist(),
            }
        )
        return
    console.print(
        f"wrote {len(chosen):,} tasks to {out}; import the answers with: dcai labels import {ref} FILE"
    )


@app.command("export")
def export(
    ctx: typer.Context,
    ref: RefArgument,
    out: Annotated[Path, typer.Argument(help="Task file: .csv, .jsonl or .json (Label Studio).")],
    format: Annotated[
        str | None, typer.Option("--format", help="csv, jsonl or labelstudio.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite the output file if it exists.")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Write every example of a version as labeling tasks (with the audit's suggestions, if any);
    an existing OUT file is replaced only with --force."""
    from dcai.labels.sampling_workflow import sample_tasks

    ws = open_workspace(ctx)
    version = ws.data.version(ref)
    chosen, path = sample_tasks(
        ws.stores, ref, version.rows, out, format=format, exclude_labeled=False, force=force
    )
    if json_:
        print_json({"path": str(path), "examples": len(chosen)})
        return
    console.print(f"wrote {len(chosen):,} tasks to {path}")
