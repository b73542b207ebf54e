"""``dcai runs``: list, show and inspect recorded runs."""

from __future__ import annotations

import re
from typing import Annotated, Any

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
    _print_runs_table(frame, width=console.width)


_MAX_HEADER = 16  # longer metric/param names are shortened in the middle
_MAX_CELL = 24


def _print_runs_table(frame: Any, *, width: int) -> None:
    """The runs that fit ``width``: id, status, dataset, then metrics and parameters, those
    that differ between the listed runs first; says which columns were left out."""
    records = frame.to_dict(orient="records")
    experiments = {r["experiment"] for r in records}
    base = ["run", *(["experiment"] if len(experiments) > 1 else []), "status", "dataset"]
    values = [c for c in frame.columns if c.startswith(("metrics.", "params."))]
    cells = {c: [_run_cell(c, r.get(c)) for r in records] for c in [*base, *values]}
    headers = _run_headers(values)

    def varies(column: str) -> bool:
        return len({v for v in cells[column] if v != "—"}) > 1

    # Metrics before params; within each, the ones that differ between these runs first.
    ranked = sorted(
        values, key=lambda c: (not varies(c), not c.startswith("metrics."), values.index(c))
    )
    used = 1 + sum(_run_column_width(c, cells[c]) for c in base)  # + the table's left edge
    chosen: list[str] = []
    for column in ranked:
        need = _run_column_width(headers[column], cells[column])
        if used + need <= width:
            chosen.append(column)
            used += need
    shown = [*base, *(c for c in values if c in chosen)]  # metrics, then params, as stored
    title = "Runs" if len(experiments) > 1 else f"Runs of {next(iter(experiments))}"
    table = Table(title=escape(title), title_justify="left")
    for column in shown:
        table.add_column(
            escape(headers.get(column, column)),
            justify="right" if column.startswith("metrics.") else "left",
            header_style="bold italic" if column.startswith("params.") else "bold",
            no_wrap=True,
            overflow="ellipsis",
        )
    for i in range(len(records)):
        table.add_row(*(escape(cells[c][i]) for c in shown))
    console.print(table)
    left_out = [c for c in values if c not in chosen]
    if any(c.startswith("params.") for c in shown):
        console.print("[dim]italic headers are parameters, the others metrics[/]")
    if left_out:
        names = ", ".join(left_out[:6]) + (", …" if len(left_out) > 6 else "")
        console.print(
            f"[dim]{len(left_out)} more column(s) left out to fit {width} characters "
            f"({escape(names)}): see them all with dcai runs list --json, or one run with "
            "dcai runs show RUN[/]",
            soft_wrap=True,
        )


def _run_cell(column: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if column == "run":
        return str(value)[:8]
    if isinstance(value, float):
        return f"{value:.4g}"
    text = " ".join(str(value).split())
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


def _run_headers(columns: list[str]) -> dict[str, str]:
    """Readable headers: ``metrics.`` / ``params.`` dropped (kept where a metric and a
    parameter share a name), long names shortened (:func:`_abbreviate`)."""
    short = {c: c.split(".", 1)[1] for c in columns}
    names = list(short.values())
    out = {c: _abbreviate(c if names.count(n) > 1 else n) for c, n in short.items()}
    headers = list(out.values())
    for column, header in out.items():
        if headers.count(header) > 1:  # abbreviations collide: cut the middle instead
            full = column if names.count(short[column]) > 1 else short[column]
            head = (_MAX_HEADER - 1) // 2
            out[column] = full[:head] + "…" + full[-(_MAX_HEADER - 1 - head) :]
    return out


def _abbreviate(name: str, limit: int = _MAX_HEADER) -> str:
    """Shorten all but the last word of a long name, then cut its middle if still too long.

    >>> _abbreviate("baseline.majority.accuracy")
    'bas.maj.accuracy'
    >>> _abbreviate("balanced_accuracy")
    'bal_accuracy'
    >>> _abbreviate("an_extraordinarily_long_metric_name_indeed")
    'an_ext_…m_indeed'
    """
    if len(name) <= limit:
        return name
    parts = re.split(r"([._\-/])", name)  # words and their separators
    for i in range(0, len(parts) - 1, 2):
        parts[i] = parts[i][:3]
        if len("".join(parts)) <= limit:
            return "".join(parts)
    text = "".join(parts)
    head = (limit - 1) // 2
    return text[:head] + "…" + text[-(limit - 1 - head) :]


def _run_column_width(header: str, cells: list[str]) -> int:
    """Characters a column takes in a Rich table: content, one space each side, a border."""
    return max(len(header), *(len(c) for c in cells)) + 3


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
    detail = ws.runs.get(run)
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
    n_boot: Annotated[
        int,
        typer.Option(
            "--n-boot", min=0, help="Bootstrap resamples for the metric intervals (0: none)."
        ),
    ] = 500,
    json_: JsonOption = False,
) -> None:
    """Fit a recipe on REF's train split, evaluate on dev, and record it as a run."""
    from dcai.experiments.recipes import parse_param

    params = dict(parse_param(p) for p in (param or []))
    ws = open_workspace(ctx)
    result = ws.runs.train(
        ref,
        recipe=recipe,
        params=params,
        experiment=experiment,
        test=test,
        overfit_check=overfit_check,
        random_state=seed,
        n_boot=n_boot,
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
    eval_ref: Annotated[
        str | None,
        typer.Option(
            "--eval",
            help="Score on this version's dev split (or all of it) with its labels "
            "(default: the shared dev examples, with the newer run's labels).",
        ),
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Parameters that differ, metrics side by side (paired interval on shared dev examples,
    one set of labels), and the code and data differences between the runs."""
    result = open_workspace(ctx).runs.compare(runs, eval_ref=eval_ref)
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
                f"{paired['n_shared']:,} shared dev examples ({verdict}); "
                f"labels of {escape(paired['labels_from'])}"
            )
            if paired["n_labels_differ"]:
                console.print(
                    f"  {paired['n_labels_differ']:,} of them had different labels "
                    "in the two runs' data"
                )
        data = pair["data"]
        if data and "lineage" in data:
            counts = ", ".join(f"{k} {v}" for k, v in data.items() if k != "lineage" and v)
            console.print(f"data {pair['a']} → {pair['b']}: {counts or 'same examples'}")
            for step in data["lineage"]:
                console.print(f"  · {escape(step)}")
        code = pair["code"]
        if code["same_code"] is False:
            a, b = code["a"], code["b"]
            if a["commit"] and b["commit"]:
                console.print(f"code differs: {a['commit']} → {b['commit']}")
            else:
                console.print(
                    f"code differs: script {str(a['script_sha256'])[:12]} → "
                    f"{str(b['script_sha256'])[:12]}"
                )
        elif code["same_code"] is None:
            console.print("[dim]code: cannot tell whether it is the same (not captured alike)[/]")


@app.command("data-view")
def data_view(
    ctx: typer.Context,
    recipe: Annotated[str, typer.Option("--recipe", help="The recipe whose runs to line up.")],
    dataset: Annotated[str | None, typer.Option("--dataset", help="Only this dataset.")] = None,
    metric: Annotated[str, typer.Option("--metric", help="The metric (accuracy).")] = "accuracy",
    eval_ref: Annotated[
        str | None,
        typer.Option(
            "--eval",
            help="Score every run on this version's dev split (or all of it) with its labels "
            "(default: the dev examples in all the versions, with the newest labels).",
        ),
    ] = None,
    json_: JsonOption = False,
) -> None:
    """The same recipe, parameters and code on each dataset version, in lineage order, all
    scored on one evaluation set: which data change bought which gain (paired intervals)."""
    ws = open_workspace(ctx)
    view = ws.runs.data_view(recipe=recipe, dataset=dataset, metric=metric, eval_ref=eval_ref)
    if json_:
        print_json(view)
        return
    table = Table(
        title=f"{escape(recipe)}: {escape(metric)} by dataset version", title_justify="left"
    )
    columns = ("version", "operation", "message", metric, "change", "interval", "dev set", "run")
    for column in columns:
        table.add_column(column, justify="right" if column in (metric, "change") else "left")
    for row in view["rows"]:
        change = row["change"]
        dev = row["dev_change"]
        table.add_row(
            escape(row["dataset"].split("@")[0] + f"@v{row['seq']}"),
            escape(row["operation"]),
            escape(row["message"]),
            "—" if row["metric"] is None else f"{row['metric']:.4f}",
            "—" if change is None else f"{change * 100:+.1f} points",
            ""
            if change is None
            else f"[{row['low'] * 100:+.1f}, {row['high'] * 100:+.1f}] "
            + ("real" if row["real"] else "within noise"),
            "" if dev is None else ", ".join(f"{v:,} {k}" for k, v in dev.items() if v) + " in dev",
            row["run"][:8],
        )
    console.print(table)
    console.print(f"evaluated on {escape(view['eval']['examples'])}")
    if view["left_out"]:
        console.print(f"[dim]{view['left_out']} run(s) with other parameters or code left out[/]")


@app.command("export")
def export(
    ctx: typer.Context,
    mlflow_uri: Annotated[
        str,
        typer.Option(
            "--mlflow", help="MLflow tracking URI, e.g. sqlite:///mlflow.db or http://host:5000."
        ),
    ],
    experiment: Annotated[
        str | None,
        typer.Option(
            "--experiment", "-e", help="MLflow experiment (default: each run's experiment)."
        ),
    ] = None,
    run: Annotated[
        list[str] | None,
        typer.Option("--run", help="Only this run (id or prefix; repeatable). Default: all."),
    ] = None,
    json_: JsonOption = False,
) -> None:
    r"""Copy runs into an MLflow tracking store: params, metric histories, tags, status, times
    and artifacts. Runs already exported there are skipped. Needs: pip install 'dcai\[mlflow]'."""
    import logging

    from dcai._optional import import_optional

    ws = open_workspace(ctx)
    import_optional("mlflow", extra="mlflow", purpose="Exporting runs to MLflow")
    logging.getLogger("mlflow").setLevel(logging.WARNING)  # after import: it sets its own level
    exported = ws.runs.export_mlflow(mlflow_uri, runs=run or None, experiment=experiment)
    if json_:
        print_json({"uri": mlflow_uri, "runs": exported})
        return
    if not exported:
        console.print("no runs to export")
    for entry in exported:
        line = f"run [bold]{entry['run'][:8]}[/] → {escape(entry['experiment'])}: {entry['status']}"
        if entry["status"] == "exported":
            line += (
                f" as {entry['mlflow_run_id']} ({entry['params']} params, "
                f"{entry['metrics']} metric values, {entry['artifacts']} artifacts)"
            )
        elif entry["status"] == "already exported":
            line += f" as {entry['mlflow_run_id']}"
        elif entry["reason"]:
            line += f" ({escape(entry['reason'])})"
        console.print(line)
