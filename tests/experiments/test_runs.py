"""Runs: lifecycle, buffered logging, filters, crashes and concurrent writers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import dcai
from dcai.errors import InvalidInputError, UnknownRefError
from dcai.experiments.query import metric_history
from tests.conftest import run_dcai


@pytest.fixture
def ws(tmp_workspace: dcai.Workspace) -> dcai.Workspace:
    frame = pd.DataFrame({"x": range(20), "label": ["a", "b"] * 10})
    tmp_workspace.add_dataset("toy", frame)
    return tmp_workspace


def test_a_run_records_data_params_metrics_and_ends_finished(ws: dcai.Workspace) -> None:
    with ws.start_run(experiment="e1", dataset="toy", params={"C": 1, "solver": "lbfgs"}) as run:
        for loss in (0.9, 0.5, 0.2):
            run.log_metric("loss", loss)
        run.log_metrics({"accuracy": 0.8, "f1": 0.75}, step=0)
        run.set_tag("stage", "noisy")
    detail = ws.runs.get(run.id[:8])
    version = ws.data.version("toy")
    assert detail["status"] == "FINISHED" and detail["ended"]
    assert detail["dataset"] == f"toy@{version.id}"  # the full content hash
    assert detail["params"] == {"C": "1", "solver": "lbfgs"}
    assert detail["metrics"] == {"loss": 0.2, "accuracy": 0.8, "f1": 0.75}
    assert detail["tags"] == {"stage": "noisy"}
    assert {"kind", "dirty"} <= set(detail["code"]) or detail["code"]["kind"] != "git"
    assert "python" in json.dumps(detail["environment"]).lower()
    history = metric_history(ws, run.id, "loss")
    assert history["step"].tolist() == [0, 1, 2] and history["value"].tolist() == [0.9, 0.5, 0.2]


def test_failures_and_misuse(ws: dcai.Workspace) -> None:
    with pytest.raises(ZeroDivisionError), ws.start_run(experiment="e1", capture_code=False) as run:
        run.log_metric("x", 1.0)
        _ = 1 / 0
    detail = ws.runs.get(run.id)
    assert detail["status"] == "FAILED" and "ZeroDivisionError" in detail["error"]
    assert detail["metrics"] == {"x": 1.0}
    with pytest.raises(InvalidInputError, match="nothing more can be logged"):
        run.log_metric("x", 2.0)
    with ws.start_run(capture_code=False, params={"C": 1}) as other:
        with pytest.raises(InvalidInputError, match="already 1"):
            other.log_param("C", 2)
        with pytest.raises(InvalidInputError, match="finite"):
            other.log_metric("x", float("nan"))
    with pytest.raises(UnknownRefError, match="no dataset"):
        ws.start_run(dataset="nope", capture_code=False)
    with pytest.raises(UnknownRefError, match="no run"):
        ws.runs.get("ffffffff")


def test_filters_order_and_limit(ws: dcai.Workspace) -> None:
    for c, acc in ((0.1, 0.7), (1.0, 0.9), (10.0, 0.8)):
        with ws.start_run(experiment="grid", params={"C": c}, capture_code=False) as run:
            run.log_metric("accuracy", acc)
            run.set_tag("family", "linear")
    frame = ws.runs(
        where="metrics.accuracy > 0.75 and params.C >= 1", order_by="metrics.accuracy desc"
    )
    assert frame["metrics.accuracy"].tolist() == [0.9, 0.8]
    assert ws.runs(where="params.C = 10").shape[0] == 1
    assert ws.runs(where="tags.family = 'linear' and status = 'FINISHED'").shape[0] == 3
    assert ws.runs(experiment="grid", limit=2).shape[0] == 2
    assert ws.runs(experiment="nothing").empty
    for bad in ("metrics.accuracy >", "metrics.accuracy > 'high'", "status > 1", "colour = 1"):
        with pytest.raises(InvalidInputError):
            ws.runs(where=bad)


_CHILD = textwrap.dedent(
    """
    import os, sys, time
    import dcai
    ws = dcai.Workspace(sys.argv[1])
    run = ws.start_run(experiment=sys.argv[2], capture_code=False, params={"worker": sys.argv[3]})
    for step in range(int(sys.argv[4])):
        run.log_metric("value", float(step))
    if sys.argv[5] == "crash":
        run.flush()
        print(run.id, flush=True)
        time.sleep(60)
    run.end()
    print(run.id, flush=True)
    """
)


def _child(ws: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(ws), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_killed_run_shows_crashed_with_what_was_flushed(ws: dcai.Workspace) -> None:
    proc = _child(ws.path, "crash", "w0", "50", "crash")
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    assert run_id, proc.stderr.read() if proc.stderr else ""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    detail = ws.runs.get(run_id)
    assert detail["status"] == "CRASHED"
    assert detail["metrics"] == {"value": 49.0}
    assert len(metric_history(ws, run_id, "value")) == 50


def test_eight_processes_logging_at_once_lose_nothing(ws: dcai.Workspace) -> None:
    procs = [_child(ws.path, "many", f"w{i}", "300", "end") for i in range(8)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    frame = ws.runs(experiment="many")
    assert len(frame) == 8 and set(frame["status"]) == {"FINISHED"}
    assert sorted(frame["params.worker"]) == [f"w{i}" for i in range(8)]
    for run_id in frame["run"]:
        assert len(metric_history(ws, run_id, "value")) == 300


def test_runs_cli(ws: dcai.Workspace) -> None:
    with ws.start_run(experiment="cli", dataset="toy", params={"C": 1}) as run:
        run.log_metric("accuracy", 0.9)
    listed = run_dcai(
        "runs", "list", "--where", "metrics.accuracy > 0.5", "--json", workspace=ws.path
    )
    assert listed.returncode == 0, listed
    runs = json.loads(listed.stdout)["runs"]
    assert [r["run"] for r in runs] == [run.id]
    shown = json.loads(run_dcai("runs", "show", run.id[:8], "--json", workspace=ws.path).stdout)
    for key in (
        "id",
        "experiment",
        "status",
        "dataset",
        "code",
        "params",
        "metrics",
        "tags",
        "started",
        "ended",
    ):
        assert key in shown, key
    assert shown["dataset"].startswith("toy@") and shown["metrics"] == {"accuracy": 0.9}
    bad = run_dcai("runs", "list", "--where", "metrics.accuracy >", workspace=ws.path)
    assert bad.returncode == 2 and "cannot read" in bad.stderr


def test_concurrent_flushes_of_one_run_write_each_value_once(ws: dcai.Workspace) -> None:
    import threading

    run = ws.start_run(experiment="race", capture_code=False)
    for round_ in range(5):
        run.log_params({f"p{round_}_{i}": i for i in range(20)})
        for i in range(100):
            run.log_metric("m", float(i))
        threads = [threading.Thread(target=run.flush) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    run.end()
    detail = ws.runs.get(run.id)
    assert len(detail["params"]) == 100
    assert len(metric_history(ws, run.id, "m")) == 500
