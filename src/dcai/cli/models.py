"""``dcai models``: the registry — register runs' models, move aliases, read cards."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from dcai.cli._context import open_workspace
from dcai.cli._output import console, print_json

app = typer.Typer(
    help="Model registry: numbered versions from runs, aliases such as production, model cards.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
AuthorOption = Annotated[
    str | None, typer.Option("--author", help="Who made the change (default: $DCAI_AUTHOR, user).")
]


@app.command("register")
def register(
    ctx: typer.Context,
    run: Annotated[str, typer.Argument(help="A finished training run (id or prefix).")],
    name: Annotated[str, typer.Option("--name", "-n", help="The model's name, e.g. digits.")],
    description: Annotated[
        str, typer.Option("--description", "-d", help="What this version is for.")
    ] = "",
    trusted: Annotated[
        list[str] | None,
        typer.Option(
            "--trust",
            help="An exact type name your own recipe's model holds (repeatable); nothing is "
            "trusted beyond dcai's list otherwise.",
        ),
    ] = None,
    author: AuthorOption = None,
    json_: JsonOption = False,
) -> None:
    """Register a run's fitted model as the next version of NAME."""
    ws = open_workspace(ctx)
    version = ws.models.register(
        run, name=name, description=description, author=author, trusted=trusted or ()
    )
    if json_:
        print_json(
            {
                "name": version.name,
                "version": version.version,
                "ref": version.ref,
                "run": version.run,
                "dataset": version.dataset,
                "model_sha256": version.model_sha256,
            }
        )
        return
    console.print(
        f"[green]registered[/] [bold cyan]{escape(version.ref)}[/] from run {version.run[:8]}"
        f" (data {escape(str(version.dataset))}); next: dcai models alias "
        f"{escape(version.name)} {version.version} production"
    )


@app.command("list")
def list_(ctx: typer.Context, json_: JsonOption = False) -> None:
    """Every registered model: versions, newest, aliases."""
    ws = open_workspace(ctx)
    models = ws.models.registered()
    if json_:
        print_json({"models": [m.to_dict() for m in models]})
        return
    if not models:
        console.print("no models yet; register one: dcai models register RUN --name NAME")
        return
    table = Table(title="Models", title_justify="left")
    for column in ("name", "versions", "latest", "aliases", "created (UTC)"):
        table.add_column(column, justify="right" if column in ("versions", "latest") else "left")
    for m in models:
        aliases = ", ".join(f"{a} → {v}" for a, v in m.aliases.items()) or "—"
        table.add_row(
            escape(m.name), str(m.versions), str(m.latest), escape(aliases), m.created_at[:19]
        )
    console.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME (every version), NAME/3 or NAME@alias.")],
    json_: JsonOption = False,
) -> None:
    """A model's versions and alias history, or one version in full."""
    from dcai.experiments.registry import parse_model_ref

    ws = open_workspace(ctx)
    name, number, alias = parse_model_ref(ref)
    if number is None and alias is None:
        versions = ws.models.versions(name)
        history = ws.models.alias_history(name)
        if json_:
            print_json(
                {
                    "name": name,
                    "versions": [v.to_dict() for v in versions],
                    "alias_history": [h.to_dict() for h in history],
                }
            )
            return
        table = Table(title=f"Model {escape(name)}", title_justify="left")
        for column in ("version", "aliases", "run", "dataset", "author", "created (UTC)"):
            table.add_column(column)
        for v in versions:
            table.add_row(
                str(v.version),
                escape(", ".join(v.aliases)) or "—",
                v.run[:8],
                escape(str(v.dataset)),
                escape(v.author),
                v.created_at[:19],
            )
        console.print(table)
        for h in history:
            before = "—" if h.from_version is None else str(h.from_version)
            after = "unset" if h.to_version is None else str(h.to_version)
            reason = f" ({escape(h.reason)})" if h.reason else ""
            console.print(
                f"  {h.at[:19]} {escape(h.alias)}: {before} → {after} by {escape(h.author)}{reason}"
            )
        return
    version = ws.models.get(ref)
    if json_:
        print_json(version.to_dict())
        return
    console.print(
        f"[bold cyan]{escape(version.ref)}[/] · aliases: {escape(', '.join(version.aliases)) or '—'}"
        f" · run {version.run[:8]} · data {escape(str(version.dataset))}"
    )
    console.print(
        f"inputs: {escape(', '.join(version.features)) or '—'} · classes: "
        f"{escape(', '.join(str(c) for c in version.classes))}"
    )
    if version.description:
        console.print(escape(version.description))


@app.command("alias")
def alias(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The model's name.")],
    version: Annotated[str, typer.Argument(help="The version number the alias should name.")],
    alias_name: Annotated[str, typer.Argument(metavar="ALIAS", help="e.g. production.")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (kept in the history).")] = "",
    author: AuthorOption = None,
    json_: JsonOption = False,
) -> None:
    """Point ALIAS at VERSION of NAME (one version per alias; every move is recorded)."""
    ws = open_workspace(ctx)
    target = ws.models.set_alias(name, version, alias_name, author=author, reason=reason)
    if json_:
        print_json({"name": target.name, "alias": alias_name, "version": target.version})
        return
    console.print(f"[green]{escape(alias_name)}[/] → [bold cyan]{escape(target.ref)}[/]")


@app.command("unalias")
def unalias(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The model's name.")],
    alias_name: Annotated[str, typer.Argument(metavar="ALIAS", help="The alias to remove.")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (kept in the history).")] = "",
    author: AuthorOption = None,
    json_: JsonOption = False,
) -> None:
    """Remove an alias (recorded in the history like any move)."""
    ws = open_workspace(ctx)
    move = ws.models.remove_alias(name, alias_name, author=author, reason=reason)
    if json_:
        print_json(move.to_dict())
        return
    console.print(f"removed {escape(alias_name)} (was version {move.from_version})")


@app.command("card")
def card(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME, NAME/3 or NAME@alias.")],
    fmt: Annotated[str, typer.Option("--format", help="markdown (default) or html.")] = "markdown",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the card to this file (else stdout).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --out if it exists.")] = False,
) -> None:
    """A model card: data version and lineage, label quality, metrics per class and slice,
    weak slices, code and environment."""
    from dcai._user_files import check_output_path, write_user_bytes
    from dcai.errors import InvalidInputError

    if fmt not in ("markdown", "html"):
        raise InvalidInputError(f"unknown card format {fmt!r}", hint="Use markdown or html.")
    ws = open_workspace(ctx)
    if out is not None:
        check_output_path(out, workspace=ws, force=force)
    text = ws.models.card(ref, fmt="html" if fmt == "html" else "markdown")
    if out is None:
        print(text)
        return
    written = write_user_bytes(out, text.encode("utf-8"), workspace=ws, force=force)
    console.print(f"wrote the card of {escape(ref)} to {escape(str(written))}")


@app.command("export")
def export(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME, NAME/3 or NAME@alias.")],
    out: Annotated[Path, typer.Option("--out", help="The file to write, e.g. model.onnx.")],
    fmt: Annotated[str, typer.Option("--format", help="onnx (the only format for now).")] = "onnx",
    force: Annotated[bool, typer.Option("--force", help="Overwrite --out if it exists.")] = False,
    json_: JsonOption = False,
) -> None:
    """Export a model version to ONNX, checked against the model on its dev rows first."""
    from dcai.errors import InvalidInputError

    if fmt != "onnx":
        raise InvalidInputError(
            f"unknown export format {fmt!r}; only onnx is supported for now",
            hint="Use --format onnx.",
        )
    result = open_workspace(ctx).models.export_onnx(ref, out, force=force)
    if json_:
        print_json(result.to_dict())
        return
    console.print(
        f"wrote {escape(result.ref)} to {escape(str(result.path))}: ONNX agrees with the model "
        f"on {result.rows_checked:,} {result.rows_source} rows (largest probability difference "
        f"{result.max_probability_difference:.1e})"
    )
