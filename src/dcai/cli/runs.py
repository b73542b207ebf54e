"""``dcai runs``: list, show and inspect recorded runs."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from dcai.cli._context import open_workspace
from dcai.cli._output import console, print_json

app = typer.Typer(
    help="Runs: code + data + params + results, recorded together.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


@app.command("list")
def list_(
    ctx: typer.Context,
    experiment: Annotated[
        str | None, typer.Option("--experiment", "-e", help="Only this experiment.")
    ] = None,
    where: Annotated[
        str | None,
        typer.Option("--where", help='Filter, e.g. "metrics.accuracy > 0.9 and params.C = 1".'),
    ] = None,
    order_by: Annotated[
        str | None,
        typer.Option("--order-by", help='e.g. "metrics.accuracy desc" (default: newest).'),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many runs.")] = 50,
    json_: JsonOption = False,
) -> None:
    """Runs, newest first: status, dataset version, parameters, latest metrics."""
    ws = open_workspace(ctx)
    frame = ws.runs(experiment=experiment, where=where, order_by=order_by, limit=limit)
    if json_:
        records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
        print_json({"runs": records})
        return
    if frame.empty:
        console.print("no runs" + (" match" if where or experiment else " yet"))
        return
    table = Table(title="Runs", title_justify="left")
    values_columns = [c for c in frame.columns if c.startswith(("params.", "metrics."))]
    shown = ["run", "experiment", "status", "dataset", *values_columns[:8]]
    for column in shown:
        table.add_column(column)
    for row in frame.itertuples(index=False):
        values = dict(zip(frame.columns, row, strict=True))
        cells = []
        for column in shown:
            value = values[column]
            if column == "run":
                value = str(value)[:8]
            if isinstance(value, float):
                value = "—" if value != value else f"{value:.4g}"
            cells.append(escape("—" if value is None else str(value)))
        table.add_row(*cells)
    console.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    run: Annotated[
        str, typer.Argument(help="Run id (or a unique prefix of at least 4 characters).")
    ],
    json_: JsonOption = False,
) -> None:
    """One run: status, dataset version, code version, parameters, metrics, tags, artifacts."""
    ws = open_workspace(ctx)
    detail = ws.run(run)
    if json_:
        print_json(detail)
        return
    code = detail["code"]
    console.print(
        f"run [bold]{detail['id'][:8]}[/] · {escape(detail['experiment'])} · {detail['status']} · "
        f"data {escape(str(detail['dataset']))}"
    )
    if code.get("kind") == "git":
        console.print(
            f"code: {code.get('commit', '')[:12]} on {escape(str(code.get('branch')))}"
            + (" [yellow](dirty)[/]" if code.get("dirty") else "")
        )
    else:
        console.print(f"code: {escape(str(code.get('kind')))}")
    for title, values in (
        ("params", detail["params"]),
        ("metrics", detail["metrics"]),
        ("tags", detail["tags"]),
    ):
        if values:
            console.print(
                f"{title}: " + ", ".join(f"{escape(k)}={escape(str(v))}" for k, v in values.items())
            )
    if detail["error"]:
        console.print(f"[red]error:[/] {escape(detail['error'].strip().splitlines()[-1])}")


def train(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The version to train on (needs a train/dev split).")],
    recipe: Annotated[
        str, typer.Option("--recipe", help="logreg, hgb, rf, tfidf-logreg, or module:callable.")
    ] = "logreg",
    param: Annotated[
        list[str] | None, typer.Option("--param", help="A model parameter, key=value (repeatable).")
    ] = None,
    experiment: Annotated[
        str | None,
        typer.Option("--experiment", "-e", help="Experiment (default: the dataset name)."),
    ] = None,
    test: Annotated[bool, typer.Option("--test", help="Also evaluate on the test split.")] = False,
    overfit_check: Annotated[
        bool,
        typer.Option("--overfit-check", help="First check the recipe can fit a small subset."),
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the model and intervals.")] = 0,
    json_: JsonOption = False,
) -> None:
    """Fit a recipe on REF's train split, evaluate on dev, and record it as a run."""
    from dcai.experiments.recipes import parse_param

    params = dict(parse_param(p) for p in (param or []))
    ws = open_workspace(ctx)
    result = ws.train(
        ref,
        recipe=recipe,
        params=params,
        experiment=experiment,
        test=test,
        overfit_check=overfit_check,
        random_state=seed,
    )
    if json_:
        print_json(result.to_dict())
        return
    shown = ", ".join(f"{k} {v:.3f}" for k, v in result.metrics.items() if v is not None)
    console.print(f"run [bold]{result.run[:8]}[/] · {escape(recipe)} · dev: {shown}")
    base = ", ".join(f"{k} {v:.3f}" for k, v in result.baselines.items() if v is not None)
    console.print(f"baselines: {base}")
    console.print(f"model artifact: {result.model_artifact[:12]}")
    for note in result.notes:
        console.print(f"[dim]note: {escape(note)}[/]")


@app.command("compare")
def compare(
    ctx: typer.Context,
    runs: Annotated[
        list[str], typer.Argument(help="Two or more runs; the first is the reference.")
    ],
    json_: JsonOption = False,
) -> None:
    """Parameters that differ, metrics side by side (paired interval on shared dev examples),
    and the code and data differences between the runs."""
    from dcai.experiments.compare import compare_runs

    ws = open_workspace(ctx)
    result = compare_runs(ws, runs)
    if json_:
        print_json(result)
        return
    ids = result["runs"]
    table = Table(title="Metrics", title_justify="left")
    table.add_column("metric")
    for run_id in ids:
        table.add_column(run_id, justify="right")
    for key, values in result["metrics"].items():
        table.add_row(escape(key), *["—" if values[i] is None else f"{values[i]:.4f}" for i in ids])
    console.print(table)
    for key, values in result["params"].items():
        console.print(f"param {escape(key)}: " + " vs ".join(escape(str(values[i])) for i in ids))
    for pair in result["pairs"]:
        paired = pair["paired"]
        if paired is not None:
            verdict = "real" if paired["real"] else "within noise"
            console.print(
                f"{pair['b']} − {pair['a']}: accuracy {paired['difference'] * 100:+.1f} points "
                f"[{paired['low'] * 100:+.1f}, {paired['high'] * 100:+.1f}] on "
                f"{paired['n_shared']:,} shared dev examples ({verdict})"
            )
        data = pair["data"]
        if data and "lineage" in data:
            counts = ", ".join(f"{k} {v}" for k, v in data.items() if k != "lineage" and v)
            console.print(f"data {pair['a']} → {pair['b']}: {counts or 'same examples'}")
            for step in data["lineage"]:
                console.print(f"  · {escape(step)}")
        code = pair["code"]
        if not (code["same_commit"] and code["same_diff"]):
            console.print(f"code differs: {code['a']['commit']} → {code['b']['commit']}")


@app.command("data-view")
def data_view(
    ctx: typer.Context,
    recipe: Annotated[str, typer.Option("--recipe", help="The recipe whose runs to line up.")],
    dataset: Annotated[str | None, typer.Option("--dataset", help="Only this dataset.")] = None,
    metric: Annotated[str, typer.Option("--metric", help="The metric to follow.")] = "accuracy",
    json_: JsonOption = False,
) -> None:
    """The same recipe, parameters and code on each dataset version, in lineage order: which
    data change bought which gain."""
    from dcai.experiments.data_view import data_view as build

    ws = open_workspace(ctx)
    view = build(ws, recipe=recipe, dataset=dataset, metric=metric)
    if json_:
        print_json(view)
        return
    table = Table(
        title=f"{escape(recipe)}: {escape(metric)} by dataset version", title_justify="left"
    )
    for column in ("version", "operation", "message", metric, "change", "run"):
        table.add_column(column, justify="right" if column in (metric, "change") else "left")
    for row in view["rows"]:
        change = row["change"]
        table.add_row(
            escape(row["dataset"].split("@")[0] + f"@v{row['seq']}"),
            escape(row["operation"]),
            escape(row["message"]),
            "—" if row["metric"] is None else f"{row['metric']:.4f}",
            "—" if change is None else f"{change * 100:+.1f} points",
            row["run"][:8],
        )
    console.print(table)
    if view["left_out"]:
        console.print(f"[dim]{view['left_out']} run(s) with other parameters or code left out[/]")
