"""``dcai data``: add, list, show, log, diff, export and split dataset versions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from dcai.cli._context import open_workspace
from dcai.cli._output import (
    balance_table,
    console,
    params_lines,
    print_json,
    print_warnings,
    progress_bar,
    version_table,
)
from dcai.errors import InvalidInputError

if TYPE_CHECKING:
    from dcai.data import VersionDiff

app = typer.Typer(
    help="Versioned datasets: add, inspect, compare, split, tag, export.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
MessageOption = Annotated[str, typer.Option("--message", "-m", help="Why this version exists.")]
AuthorOption = Annotated[
    str | None, typer.Option("--author", help="Who made it (default: $DCAI_AUTHOR or login).")
]


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Dataset name, e.g. reviews.")],
    file: Annotated[Path, typer.Argument(help="CSV, TSV, Parquet or JSON Lines file.")],
    label: Annotated[
        str | None,
        typer.Option(
            "--label", help="The label column (default: a column named label/target/class/y)."
        ),
    ] = None,
    id: Annotated[
        str | None,
        typer.Option(
            "--id", help="A column of unique example ids (default: derived from content)."
        ),
    ] = None,
    text: Annotated[
        list[str] | None, typer.Option("--text", help="A free-text column (repeatable).")
    ] = None,
    meta: Annotated[
        list[str] | None,
        typer.Option("--meta", help="A metadata column, not a model input (repeatable)."),
    ] = None,
    sensitive: Annotated[
        list[str] | None,
        typer.Option(
            "--sensitive",
            help="A column of personal or confidential values (repeatable): a prediction "
            "server hashes it or leaves it out of its log.",
        ),
    ] = None,
    sep: Annotated[
        str | None,
        typer.Option(
            "--sep",
            help="Field separator of a CSV/TSV file, e.g. ';' or '\\t' (default: ',' for .csv, "
            "tab for .tsv).",
        ),
    ] = None,
    message: MessageOption = "",
    author: AuthorOption = None,
    json_: JsonOption = False,
) -> None:
    """Add FILE as the next version of dataset NAME (identical content is stored once)."""
    ws = open_workspace(ctx)
    source: Any = file  # the path, or the table read with --sep
    if sep is not None:
        from dcai.data._readers import SOURCE_ATTR, read_table

        source = read_table(file, sep=_separator(sep))
        source.attrs[SOURCE_ATTR] = str(file.resolve())
    with progress_bar(f"adding {file.name}") as progress:
        version = ws.data.add(
            name,
            source,
            label=label,
            id=id,
            text=text or (),
            meta=meta or (),
            sensitive=sensitive or (),
            message=message,
            author=author,
            progress=progress,
        )
    if json_:
        print_json(
            {
                "ref": version.ref,
                "id": version.id,
                "rows": version.rows,
                "new": version.created,
                "dataset": version.dataset,
                "operation": version.operation,
            }
        )
        return
    if version.created:
        console.print(
            f"[green]added[/] [bold cyan]{version.ref}[/] ({version.rows:,} rows) v{version.seq}"
        )
    else:
        console.print(
            f"[yellow]unchanged[/]: {escape(str(file))} is already [bold cyan]{version.ref}[/]; nothing new stored"
        )
    _print_roles(version, declared_meta=meta or ())


def _print_roles(version: Any, *, declared_meta: list[str] | tuple[str, ...]) -> None:
    """One line per role, with the flag that changes it (and why columns became metadata)."""
    from dcai.data._schema import NOTE_ID, inference_notes

    roles = version.roles
    inferred_meta = [c for c in roles.meta if c not in declared_meta]
    notes = inference_notes(version.to_pandas(columns=inferred_meta), inferred_meta)

    def listing(columns: tuple[str, ...] | list[str]) -> str:
        if not columns:
            return "—"
        shown = [
            escape(c) + (f" [dim]({escape(notes[c])})[/]" if c in notes else "") for c in columns
        ]
        return ", ".join(shown)

    rows = [
        ("label", escape(roles.label), "--label COL"),
        ("id", escape(roles.id) if roles.id else "(derived from content)", "--id COL"),
        ("text", listing(roles.text), "--text COL"),
        ("features", listing(roles.features), "--meta COL to leave one out"),
        ("meta", listing(roles.meta), "--meta COL; --text COL makes one text"),
    ]
    if roles.split:
        rows.append(("split", escape(roles.split), "a column named split"))
    if roles.tags:
        rows.append(("tags", listing(roles.tags), "dcai data tag"))
    rows.append(("sensitive", listing(roles.sensitive), "--sensitive COL"))
    console.print("roles:")
    for role, value, flag in rows:
        console.print(f"  {role + ':':<10}{value}  [dim]{flag}[/]")
    if roles.id is None:
        for column, note in notes.items():
            if note == NOTE_ID:
                console.print(
                    f"  [yellow]{escape(column)} looks like an id[/]: add again with "
                    f"--id {escape(column)} to use it as the example id"
                )


def _separator(text: str) -> str:
    """``--sep`` as typed: ``\\t`` or ``tab`` mean a tab."""
    sep = {"\\t": "\t", "tab": "\t", "\\|": "|"}.get(text.lower(), text)
    if not sep or sep in ("\n", "\r", '"'):
        raise InvalidInputError(
            f"cannot use {text!r} as the field separator",
            hint="Give one character, e.g. --sep ';' or --sep '\\t' for a tab.",
        )
    return sep


@app.command("list")
def list_(ctx: typer.Context, json_: JsonOption = False) -> None:
    """List datasets with their latest version."""
    ws = open_workspace(ctx)
    summaries = ws.data.datasets()
    if json_:
        print_json([s.to_dict() for s in summaries])
        return
    if not summaries:
        console.print("No datasets yet. Add one with: dcai data add NAME FILE --label COL")
        return
    table = Table()
    for column in ("dataset", "latest", "versions", "rows", "updated (UTC)"):
        table.add_column(column)
    for s in summaries:
        table.add_row(
            s.name, s.latest, str(s.versions), f"{s.rows:,}", s.updated_at[:19].replace("T", " ")
        )
    console.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME, NAME@latest, NAME@v3 or NAME@<hash>.")],
    json_: JsonOption = False,
) -> None:
    """Show a version: lineage, columns and roles, class counts, splits, annotations."""
    ws = open_workspace(ctx)
    version = ws.data.version(ref)
    counts = version.label_counts()
    info: dict[str, Any] = version.to_dict()
    info["label_counts"] = {str(k): int(v) for k, v in counts.items()}
    if version.roles.split:
        info["balance"] = version.balance().to_dict()
    if json_:
        print_json(info)
        return
    console.print(f"[bold cyan]{version.ref}[/] v{version.seq}  ({version.id})")
    console.print(
        f"{version.rows:,} rows · {version.operation} by {escape(version.author)} at {version.created_at}"
    )
    if version.message:
        console.print(f"message: {escape(version.message)}")
    console.print(f"parents: {', '.join(info['parents']) or '—'}")
    lines, shortened = params_lines(version.params)
    if not lines:
        console.print("params: —")
    else:
        console.print("params:")
        for line in lines:
            console.print(f"  {escape(line)}", soft_wrap=True)
        if shortened:
            console.print(f"  [dim](in full: dcai data show {escape(version.ref)} --json)[/]")
    roles = version.roles
    table = Table(title="Columns", title_justify="left")
    table.add_column("column")
    table.add_column("role")
    table.add_column("dtype")
    for column, dtype in roles.dtypes.items():
        table.add_row(escape(column), roles.role_of(column), escape(dtype))
    console.print(table)
    labels = Table(title=f"Classes ({len(counts)})", title_justify="left")
    labels.add_column("label")
    labels.add_column("count", justify="right")
    labels.add_column("share", justify="right")
    for label, count in counts.head(30).items():
        labels.add_row(escape(str(label)), f"{int(count):,}", f"{count / version.rows:.1%}")
    console.print(labels)
    if roles.split:
        report = version.balance()
        console.print(balance_table(report))
        print_warnings(report.warnings)
    if version.n_annotations:
        annotations = version.annotations()
        console.print(
            f"annotations: {len(annotations):,} from {annotations['annotator'].nunique()} annotators "
            f"on {annotations['example_id'].nunique():,} examples"
        )


@app.command("log")
def log(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    json_: JsonOption = False,
) -> None:
    """Show a dataset's history, newest first: operation, parameters, parents, author, time."""
    ws = open_workspace(ctx)
    versions = ws.data.log(name)
    if json_:
        print_json([v.to_dict() for v in versions])
        return
    console.print(version_table(versions, title=f"Lineage of {name}"))


def _render_diff(diff: VersionDiff, limit: int) -> None:
    counts = diff.counts
    console.print(f"[bold]{diff.a}[/] → [bold]{diff.b}[/]")
    summary = "  ".join(
        f"{k.replace('_', ' ')}: {v:,}"
        for k, v in counts.items()
        if v or not k.startswith("annotations")
    )
    console.print(summary)
    if diff.columns_added or diff.columns_removed:
        console.print(
            escape(
                f"columns added: {diff.columns_added or '—'}  removed: {diff.columns_removed or '—'}"
            )
        )
    sections: list[tuple[str, Any]] = [
        ("added", diff.added),
        ("removed", diff.removed),
        ("relabeled", diff.relabeled),
        ("changed", diff.changed),
        ("moved", diff.moved),
    ]
    for title, frame in sections:
        if len(frame) == 0:
            continue
        table = Table(
            title=f"{title} ({len(frame):,}{', first ' + str(limit) if len(frame) > limit else ''})",
            title_justify="left",
        )
        for column in frame.columns:
            table.add_column(escape(str(column)))
        for row in frame.head(limit).itertuples(index=False):
            table.add_row(
                *(escape(", ".join(map(str, v)) if isinstance(v, list) else str(v)) for v in row)
            )
        console.print(table)
    if diff.is_empty:
        console.print("[green]no differences[/]")


@app.command("diff")
def diff(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(help="The older version (ref).")],
    b: Annotated[str, typer.Argument(help="The newer version (ref).")],
    limit: Annotated[int, typer.Option("--limit", help="Rows shown per kind of change.")] = 20,
    json_: JsonOption = False,
) -> None:
    """Show examples added, removed, relabeled, with changed features, and moved between splits."""
    ws = open_workspace(ctx)
    result = ws.data.diff(a, b)
    if json_:
        print_json(result.to_dict())
        return
    _render_diff(result, limit)


@app.command("export")
def export(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The version to export.")],
    out: Annotated[Path, typer.Argument(help="Output file: .csv, .parquet or .jsonl.")],
    format: Annotated[
        str | None,
        typer.Option("--format", help="csv, parquet or jsonl (default: from the suffix)."),
    ] = None,
    annotations: Annotated[
        bool, typer.Option("--annotations", help="Export the annotations instead of the rows.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite OUT if it exists.")] = False,
    json_: JsonOption = False,
) -> None:
    """Write a version's rows (with example_id and split) or its annotations to a file.

    OUT must be outside the workspace and not a device or folder; an existing file is
    replaced only with --force.
    """
    ws = open_workspace(ctx)
    version = ws.data.version(ref)
    path = ws.data.export(ref, out, format=format, annotations=annotations, force=force)  # type: ignore[arg-type]
    if json_:
        print_json(
            {
                "ref": version.ref,
                "path": str(path),
                "rows": version.n_annotations if annotations else version.rows,
            }
        )
        return
    console.print(f"wrote {path} from [bold cyan]{version.ref}[/]")


@app.command("split")
def split(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Dataset name or ref to split.")],
    dev: Annotated[float, typer.Option("--dev", help="Share of examples for the dev split.")] = 0.1,
    test: Annotated[
        float, typer.Option("--test", help="Share of examples for the test split.")
    ] = 0.2,
    stratify: Annotated[
        str | None, typer.Option("--stratify", help="Column to stratify on (default: the label).")
    ] = None,
    no_stratify: Annotated[bool, typer.Option("--no-stratify", help="Plain random split.")] = False,
    group: Annotated[
        str | None, typer.Option("--group", help="Keep each value of this column in one split.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed, same split.")] = 0,
    message: MessageOption = "",
    author: AuthorOption = None,
    json_: JsonOption = False,
) -> None:
    """Commit a child version with a train/dev/test split column and print the balance report."""
    ws = open_workspace(ctx)
    version = ws.data.split(
        name,
        dev=dev,
        test=test,
        stratify=stratify,
        no_stratify=no_stratify,
        group=group,
        seed=seed,
        message=message,
        author=author,
    )
    report = version.balance()
    if json_:
        print_json(
            {
                "ref": version.ref,
                "id": version.id,
                "rows": version.rows,
                "new": version.created,
                "balance": report.to_dict(),
            }
        )
        return
    state = "[green]split[/]" if version.created else "[yellow]unchanged[/]"
    console.print(
        f"{state} [bold cyan]{version.ref}[/] v{version.seq}: "
        + ", ".join(f"{s} {n:,}" for s, n in report.sizes.items())
    )
    console.print(balance_table(report))
    print_warnings(report.warnings)


@app.command("tag")
def tag(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Dataset name or ref to tag.")],
    tag_name: Annotated[str, typer.Argument(metavar="TAG", help="Tag name, e.g. car_noise.")],
    query: Annotated[
        str | None,
        typer.Option(
            "--query",
            "-q",
            help='A query over the columns, parsed and never executed, e.g. "snr_db < 5".',
        ),
    ] = None,
    ids: Annotated[
        str | None, typer.Option("--ids", help="Example ids to tag by hand, comma-separated.")
    ] = None,
    ids_file: Annotated[
        Path | None,
        typer.Option(
            "--ids-file",
            help="A file with one example id per line (or a CSV/Parquet "
            "with an example_id column).",
        ),
    ] = None,
    message: MessageOption = "",
    author: AuthorOption = None,
    json_: JsonOption = False,
) -> None:
    """Commit a child version in which the examples chosen by a rule carry a tag."""
    ws = open_workspace(ctx)
    example_ids = _read_ids(ids, ids_file)
    version = ws.data.tag(
        name, tag_name, query=query, example_ids=example_ids, message=message, author=author
    )
    count = int(version.params.get("examples", 0))
    if json_:
        print_json(
            {
                "ref": version.ref,
                "id": version.id,
                "rows": version.rows,
                "new": version.created,
                "tag": tag_name,
                "examples": count,
            }
        )
        return
    state = "[green]tagged[/]" if version.created else "[yellow]unchanged[/]"
    console.print(
        f"{state} {count:,} examples [bold]{escape(tag_name)}[/] → [bold cyan]{version.ref}[/] "
        f"v{version.seq}"
    )


def _read_ids(ids: str | None, ids_file: Path | None) -> list[str] | None:
    if ids is None and ids_file is None:
        return None
    if ids is not None and ids_file is not None:
        raise InvalidInputError("give --ids or --ids-file, not both")
    if ids is not None:
        return [i.strip() for i in ids.split(",") if i.strip()]
    assert ids_file is not None
    if ids_file.suffix.lower() in (".csv", ".parquet", ".jsonl", ".json"):
        from dcai.data._readers import read_table

        table = read_table(ids_file)
        if "example_id" not in table.columns:
            raise InvalidInputError(
                "no example_id column", path=str(ids_file), hint="Name the id column example_id."
            )
        return [str(v) for v in table["example_id"].dropna()]
    try:
        lines = ids_file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidInputError(
            f"cannot read the file: {exc.strerror}", path=str(ids_file)
        ) from exc
    return [line.strip() for line in lines if line.strip()]


@app.command("untag")
def untag(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Dataset name or ref.")],
    tag_name: Annotated[str, typer.Argument(metavar="TAG", help="The tag to remove.")],
    message: MessageOption = "",
    author: AuthorOption = None,
    json_: JsonOption = False,
) -> None:
    """Commit a child version without a tag (earlier versions keep it)."""
    ws = open_workspace(ctx)
    version = ws.data.untag(name, tag_name, message=message, author=author)
    if json_:
        print_json({"ref": version.ref, "id": version.id, "new": version.created})
        return
    console.print(f"[green]removed[/] tag {escape(tag_name)} → [bold cyan]{version.ref}[/]")


@app.command("tags")
def tags(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Dataset name or ref.")],
    json_: JsonOption = False,
) -> None:
    """List a version's tags: how many examples, what share, and the rule that made each."""
    ws = open_workspace(ctx)
    frame = ws.data.tags(name)
    if json_:
        print_json({"tags": frame.to_dict(orient="records")})
        return
    if frame.empty:
        console.print(
            f"{escape(name)} has no tags; add one with: dcai data tag {escape(name)} TAG --query ..."
        )
        return
    table = Table(title=f"Tags of {escape(name)}")
    for column in ("tag", "n", "share", "how"):
        table.add_column(column, justify="right" if column in ("n", "share") else "left")
    for row in frame.itertuples():
        table.add_row(escape(row.tag), f"{row.n:,}", f"{row.share:.1%}", escape(row.how))
    console.print(table)
