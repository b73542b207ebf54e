"""Every ``--json`` output is strict JSON (issue 21: ``dcai data log --json`` wrote ``NaN``).

One workspace is built through the real CLI and every command that has ``--json`` runs on it;
each output is parsed with a parser that refuses ``NaN``/``Infinity``. The frame has missing
values in a feature and in a metadata column, and the review keeps and removes examples
(decisions without a label: the cell that used to come out as ``"label": NaN``).

The commands run in one fresh process through ``dcai.cli.main.main`` (the console script's
entry point), one after another, so the test pays for one interpreter start instead of
forty. The list of commands is checked against the Typer app, so a new command with
``--json`` must be added here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import typer.main

from dcai.cli.main import app
from tests.conftest import run_dcai

LABELS = ("cat", "dog", "bird")

# Commands with --json that this test cannot run, with the reason. Keep it empty if possible.
EXCLUDED: dict[str, str] = {
    "review-queue decide": "needs a request id answered by a live server; its --json output is "
    "parsed strictly in tests/e2e/test_serve.py",
    "deploy ramp": "needs a live server's traffic to take a step; its --json output is parsed "
    "strictly in tests/e2e/test_ramp_live.py",
    "retrain": "needs production rows with feedback labels; its --json output is parsed "
    "strictly in tests/e2e/test_cli_monitor.py",
}

# Runs ``main(argv)`` for each step; ``@step.key`` arguments take a value from an earlier
# step's output. Prints {step: {"argv", "code", "stdout", "stderr"}} as one JSON line.
_DRIVER = """
import contextlib, io, json, sys
from dcai.cli.main import main
ws, steps = sys.argv[1], json.loads(sys.stdin.read())
outputs, results = {}, {}
for name, argv in steps:
    args = []
    for arg in argv:
        if arg.startswith("@"):
            step, key = arg[1:].split(".", 1)
            arg = str(outputs[step][key])
        args.append(arg)
    out, err, code = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(["--workspace", ws, *args])
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
    results[name] = {"argv": args, "code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}
    if code:
        break
    try:
        outputs[name] = json.loads(out.getvalue())
    except ValueError:
        break
print(json.dumps(results))
"""


def _frame() -> pd.DataFrame:
    """60 rows: ids, a feature with gaps, a numeric feature, a categorical, a sparse note."""
    rng = np.random.default_rng(21)
    n = 60
    frame = pd.DataFrame(
        {
            "uid": [f"u{i:03d}" for i in range(n)],
            "x1": rng.normal(size=n).round(4),
            "x2": rng.integers(0, 100, size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n),
            "note": [None if i % 4 == 0 else f"seen {i} times" for i in range(n)],
            "label": [LABELS[i % 3] for i in range(n)],
        }
    )
    frame.loc[[2, 9, 31], "x1"] = np.nan
    # Make the label learnable from x2, so the audit finds a few planted errors.
    frame["x2"] = [i % 3 * 30 + v % 25 for i, v in enumerate(frame["x2"])]
    frame.loc[[4, 17, 40], "label"] = ["bird", "cat", "dog"]
    return frame


def _annotations() -> pd.DataFrame:
    """Two labelers on 30 examples, one of them with gaps (no time column for some rows)."""
    rows = []
    for i in range(30):
        truth = LABELS[i % 3]
        rows.append({"example_id": f"u{i:03d}", "annotator": "ann", "label": truth})
        other = LABELS[(i + 1) % 3] if i % 7 == 0 else truth
        rows.append({"example_id": f"u{i:03d}", "annotator": "bo", "label": other})
    return pd.DataFrame(rows)


def _steps(tmp: Path) -> list[tuple[str, list[str]]]:
    out = tmp / "out"
    return [
        ("init", ["init"]),
        ("add1", ["data", "add", "ds", str(tmp / "v1.csv"), "--id", "uid", "--meta", "note"]),
        ("add2", ["data", "add", "ds", str(tmp / "v2.csv"), "--id", "uid", "--meta", "note"]),
        ("split", ["data", "split", "ds", "--seed", "3"]),
        ("tag", ["data", "tag", "ds", "low", "--query", "x2 < 20"]),
        ("tags", ["data", "tags", "ds"]),
        ("guideline_add", ["labels", "guideline", "add", "animals", str(tmp / "guide.md")]),
        ("guideline_list", ["labels", "guideline", "list"]),
        ("guideline_show", ["labels", "guideline", "show", "animals"]),
        ("import", ["labels", "import", "ds", str(tmp / "ann.csv"), "--guideline", "animals"]),
        ("agreement", ["labels", "agreement", "ds", "--boot", "20"]),
        ("aggregate", ["labels", "aggregate", "ds"]),
        ("hlp", ["labels", "hlp", "ds", "--boot", "20"]),
        ("conventions", ["labels", "conventions", "ds"]),
        ("sample", ["labels", "sample", "ds", "--n", "6", "--out", str(out / "tasks.csv")]),
        ("labels_export", ["labels", "export", "ds", str(out / "tasks.json")]),
        ("audit", ["audit", "ds", "--cv", "3"]),
        ("audits", ["audits"]),
        ("review_list", ["review", "list", "ds", "--status", "all"]),
        ("keep", ["review", "decide", "ds", "--keep", "--all"]),
        ("undo", ["review", "undo", "ds", "u004"]),
        ("remove", ["review", "decide", "ds", "u004", "--remove", "--note", "gone"]),
        ("relabel", ["review", "decide", "ds", "u017", "--relabel", "dog"]),
        ("status", ["review", "status", "ds"]),
        ("apply", ["review", "apply", "ds", "-m", "clean"]),
        ("log", ["data", "log", "ds"]),
        ("show", ["data", "show", "@apply.ref"]),
        ("diff", ["data", "diff", "ds@v1", "ds@v2"]),
        ("drift", ["drift", "ds@v1", "ds@v2"]),
        ("list", ["data", "list"]),
        ("export", ["data", "export", "ds", str(out / "ds.csv")]),
        ("train1", ["train", "ds", "--param", "C=1"]),
        ("train2", ["train", "ds", "--param", "C=0.1"]),
        ("runs_list", ["runs", "list"]),
        ("runs_show", ["runs", "show", "@train1.run"]),
        ("compare", ["runs", "compare", "@train1.run", "@train2.run"]),
        ("data_view", ["runs", "data-view", "--recipe", "logreg"]),
        ("runs_export", ["runs", "export", "--mlflow", f"sqlite:///{out / 'mlflow.db'}"]),
        ("register", ["models", "register", "@train1.run", "--name", "animals"]),
        ("alias", ["models", "alias", "animals", "1", "production"]),
        ("models_list", ["models", "list"]),
        ("models_show", ["models", "show", "animals"]),
        ("models_export", ["models", "export", "animals", "--out", str(out / "m.onnx")]),
        ("unalias", ["models", "unalias", "animals", "production"]),
        ("register2", ["models", "register", "@train2.run", "--name", "animals"]),
        ("deploy_create", ["deploy", "create", "web", "--model", "animals/1"]),
        ("deploy_canary", ["deploy", "canary", "web", "--model", "animals/2", "--percent", "10"]),
        ("deploy_shadow", ["deploy", "shadow", "web", "--model", "animals/2"]),
        ("deploy_set", ["deploy", "set", "web", "--mode", "partial", "--review-below", "0.7"]),
        ("deploy_promote", ["deploy", "promote", "web"]),
        ("deploy_rollback", ["deploy", "rollback", "web"]),
        ("deploy_show", ["deploy", "show", "web"]),
        ("deploy_list", ["deploy", "list"]),
        (
            "predict",
            ["predict", "animals/1", "ds", "--out", str(out / "p.parquet"), "--deployment", "web"],
        ),
        ("logs_show", ["logs", "show", "web"]),
        ("monitor", ["monitor", "web", "--window", "1d"]),
        ("logs_to_dataset", ["logs", "to-dataset", "web", "--name", "prod"]),
        ("review_queue", ["review-queue", "web", "list"]),
        ("analyze", ["analyze", "@audit.ref", "--no-curves", "--boot", "50", "--by", "colour"]),
        ("rules_analyze", ["rules", "analyze", "ds", "--rules", str(tmp / "animal_rules.py")]),
        ("scope_target", ["scope", "target", "accuracy", ">= 0.5"]),
        ("scope_baseline", ["scope", "baseline", "old", "0.4", "--source", "old system"]),
        ("status", ["status"]),
        ("untag", ["data", "untag", "ds", "low"]),
        ("migrate", ["migrate", "--dry-run"]),
        ("verify", ["verify"]),
        ("gc", ["gc", "--dry-run"]),
        ("backup", ["backup", str(out / "backup")]),
    ]


def _json_commands() -> set[str]:
    """Every command of the Typer app that has a ``--json`` option, as ``"data add"``."""

    def walk(command: Any, path: tuple[str, ...]) -> Iterator[str]:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                yield from walk(sub, (*path, name))
        elif any("--json" in getattr(p, "opts", ()) for p in command.params):
            yield " ".join(path)

    return set(walk(typer.main.get_command(app), ()))


def _command_of(argv: list[str]) -> str:
    groups = {"data", "deploy", "labels", "logs", "models", "review", "rules", "runs", "scope"}
    if argv[0] == "review-queue":  # review-queue NAME COMMAND
        return f"review-queue {argv[2]}"
    words = argv[:3] if argv[:2] == ["labels", "guideline"] else argv[:2]
    return " ".join(words) if argv[0] in groups else argv[0]


def _strict(text: str, where: str) -> Any:
    def refuse(constant: str) -> Any:
        pytest.fail(f"{where}: --json wrote {constant}, which strict JSON parsers reject")

    return json.loads(text, parse_constant=refuse)


def test_the_steps_cover_every_json_command(tmp_path: Path) -> None:
    covered = {_command_of(argv) for _, argv in _steps(tmp_path)}
    missing = _json_commands() - covered - set(EXCLUDED)
    assert not missing, f"add these commands with --json to the steps: {sorted(missing)}"


@dataclass(frozen=True)
class Built:
    root: Path
    results: dict[str, Any]

    @property
    def ws(self) -> Path:
        return self.root / "ws"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The workspace, built by running every step with ``--json`` in one fresh process."""
    tmp = tmp_path_factory.mktemp("strict")
    frame = _frame()
    frame.to_csv(tmp / "v1.csv", index=False)
    changed = frame.copy()
    changed.loc[[7, 8], "label"] = "dog"
    changed.loc[11, "x1"] = np.nan
    changed.to_csv(tmp / "v2.csv", index=False)
    _annotations().to_csv(tmp / "ann.csv", index=False)
    (tmp / "guide.md").write_text("# Animals\n\nLabel what the example shows.\n")
    (tmp / "animal_rules.py").write_text(
        "from dcai.rules import query, rule\n"
        "low = query('x2 < 25', label='cat', name='low')\n"
        "@rule\n"
        "def red_bird(row):\n"
        "    return 'bird' if row.colour == 'red' else None\n"
    )
    (tmp / "out").mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER, str(tmp / "ws")],
        input=json.dumps([(name, [*argv, "--json"]) for name, argv in _steps(tmp)]),
        capture_output=True,
        text=True,
        env=_env(),
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return Built(root=tmp, results=json.loads(proc.stdout))


def test_every_json_output_is_strict(built: Built) -> None:
    results = built.results
    for name, _ in _steps(built.root):
        assert name in results, f"step {name!r} did not run; the one before it stopped the run"
        result = results[name]
        where = "dcai " + " ".join(result["argv"])
        assert result["code"] == 0, f"{where} exited {result['code']}: {result['stderr']}"
        assert "Traceback" not in result["stderr"], result["stderr"]
        _strict(result["stdout"], where)

    # The cells that used to come out as NaN: review decisions without a label (keep/remove).
    log = _strict(results["log"]["stdout"], "log")
    decisions = log[0]["params"]["decisions"]
    assert {d["action"] for d in decisions} >= {"keep", "remove", "relabel"}
    assert all(d["label"] is None for d in decisions if d["action"] != "relabel")
    runs = _strict(results["runs_list"]["stdout"], "runs list")["runs"]
    assert len(runs) == 2

    # The console script itself, as users run it.
    shown = run_dcai("data", "show", "ds", "--json", workspace=built.ws)
    assert shown.returncode == 0, shown
    assert _strict(shown.stdout, "data show")["rows"] == 59  # u004 removed


def test_data_show_summarises_lineage_parameters(built: Built) -> None:
    """Issue 21: ``data show`` of a review printed every decision as one raw dict."""
    ref = _strict(built.results["apply"]["stdout"], "apply")["ref"]
    decisions = _strict(built.results["log"]["stdout"], "log")[0]["params"]["decisions"]
    shown = run_dcai("data", "show", ref, workspace=built.ws)
    assert shown.returncode == 0, shown
    counts = {a: sum(d["action"] == a for d in decisions) for a in ("keep", "relabel", "remove")}
    summary = ", ".join(f"{a} {n}" for a, n in sorted(counts.items()) if n)
    assert f"decisions: {len(decisions)} ({summary})" in shown.stdout
    assert "'action'" not in shown.stdout and "example_id" not in shown.stdout.split("Columns")[0]
    assert f"dcai data show {ref} --json" in shown.stdout


@pytest.mark.parametrize("width", [100, 160])
def test_runs_list_fits_the_console(built: Built, width: int) -> None:
    """Issue 21: at 100-160 columns every metric header was cut to "metric…"."""
    listed = run_dcai("runs", "list", workspace=built.ws, env={"COLUMNS": str(width)})
    assert listed.returncode == 0, listed
    table = [line for line in listed.stdout.splitlines() if line[:1] in "┏┃┡│└"]
    assert table and all(len(line) <= width for line in table), listed.stdout
    header = next(line for line in table if line.startswith("┃"))
    assert "metric" not in header and "…" not in header.replace("bas.", "")
    for name in ("run", "status", "dataset", "accuracy", "C"):
        assert f" {name} " in header, (name, header)
    if width == 100:
        assert "left out" in listed.stdout and "--json" in listed.stdout


def _env() -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("DCAI_")}
    env["DCAI_AUTHOR"] = "tester"
    env["COLUMNS"] = "200"
    return env
