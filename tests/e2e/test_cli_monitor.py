"""``dcai monitor`` through the CLI, over traffic a real ``dcai serve`` process answered and
logged: the windows count what was served, feedback makes realised accuracy, alerts fire once
and go to the JSON Lines file, bad options are refused in one line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dcai.demo import digits_frame
from tests.conftest import run_dcai
from tests.e2e.test_cli_bad_input import assert_rejected, ok, ok_json
from tests.e2e.test_serve import Server, _call, _free_port

FEATURES = [c for c in digits_frame().columns if c != "label"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """80 one-row requests and one 20-row request, feedback for 30 of them, served by a real
    server that is stopped (its log flushed) before the tests read it."""
    from tests.e2e.conftest import build_deploy_workspace

    path = build_deploy_workspace(tmp_path_factory.mktemp("monitor") / "ws", rows=600, shuffle=1)
    frame = digits_frame().sample(frac=1.0, random_state=1).reset_index(drop=True).iloc[600:]
    server = Server(path, _free_port())
    try:
        for i in range(80):
            row = frame.iloc[i]
            instance = {f: int(row[f]) for f in FEATURES}
            status, body = server.predict({"instances": [instance], "key": f"u{i}"})
            assert status == 200, body
            if i < 30:
                status, _ = _call(
                    f"{server.base}/v1/deployments/web/feedback",
                    {"request_id": body["request_id"], "index": 0, "label": int(row["label"])},
                )
                assert status == 200
        batch = [
            {f: int(v) for f, v in r.items()}
            for r in frame.iloc[80:100][FEATURES].to_dict("records")
        ]
        status, _ = server.predict({"instances": batch})
        assert status == 200
    finally:
        assert server.stop() in (0, -15)
    yield path


def test_monitor_json_counts_what_was_served(ws: Path) -> None:
    report: dict[str, Any] = ok_json(
        run_dcai("monitor", "web", "--window", "1d", "--json", workspace=ws)
    )
    assert report["deployment"] == "web" and report["reference"] == "digits/1"
    assert report["window"] == "86400s"
    windows = report["windows"]
    assert sum(w["requests"] for w in windows) == 81
    assert sum(w["instances"] for w in windows) == 100
    assert sum(w["labeled"] for w in windows) == 30
    last = windows[-1]
    assert last["complete"] is False  # today's window is still open
    assert 0.5 < last["accuracy"] <= 1.0 and last["accuracy_low"] <= last["accuracy"]
    assert 0.5 < last["estimated_accuracy"] <= 1.0
    assert last["error_rate"] == 0.0 and last["latency_p95"] > 0
    assert last["drifted_columns"] is not None  # 100 instances: tested
    assert {c["column"] for c in report["columns"]} >= {"px10", "px20"}


def test_monitor_by_request_count_and_the_table(ws: Path) -> None:
    report = ok_json(run_dcai("monitor", "web", "--every", "40", "--json", workspace=ws))
    assert [w["requests"] for w in report["windows"]] == [40, 40, 1]
    table = ok(run_dcai("monitor", "web", "--every", "40", workspace=ws))
    assert "web: 3 window(s) of every:40" in table.stdout and "digits/1" in table.stdout


def test_rules_fire_once_and_reach_the_alerts_file(ws: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "ws"
    shutil.copytree(ws, copy)
    config = copy / "dcai.toml"
    config.write_text(
        config.read_text()
        + '\n[[monitor.rules]]\nname = "busy"\nmetric = "requests"\nop = ">"\nthreshold = 10\n',
        encoding="utf-8",
    )
    first = run_dcai("monitor", "web", "--window", "1d", "--fail-on-alert", workspace=copy)
    assert first.returncode == 1, first
    assert "FIRING busy" in first.stdout and "FIRING busy" in first.stderr
    again = ok_json(run_dcai("monitor", "web", "--window", "1d", "--json", workspace=copy))
    assert [(a["rule"], a["state"]) for a in again["alerts"]] == [("busy", "firing")]
    assert again["events"] == []  # already delivered
    records = [
        json.loads(line) for line in (copy / "monitor" / "alerts.jsonl").read_text().splitlines()
    ]
    assert [(r["rule"], r["state"], r["deployment"]) for r in records] == [
        ("busy", "firing", "web")
    ]
    server = Server(copy, _free_port())
    try:
        status, text = _call(server.base + "/metrics")
    finally:
        server.stop()
    assert status == 200 and 'dcai_alerts_firing{deployment="web"} 1.0' in text


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--every", "0"], ["--every"]),
        (["--window", "1h", "--every", "5"], ["not both"]),
    ],
)
def test_bad_options_are_refused(ws: Path, args: list[str], fragments: list[str]) -> None:
    assert_rejected(run_dcai("monitor", "web", *args, workspace=ws), *fragments)


def test_an_unknown_deployment_is_named(ws: Path) -> None:
    line = assert_rejected(run_dcai("monitor", "nope", workspace=ws), "nope")
    assert "deployment" in line


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three hours of logged production traffic, 70 % of it labelled by feedback."""
    from datetime import UTC, datetime, timedelta

    import numpy as np

    from dcai._demo_monitor import log_traffic as send
    from tests.e2e.conftest import build_deploy_workspace, shuffled_digits

    path = build_deploy_workspace(tmp_path_factory.mktemp("retrain") / "ws", rows=600, shuffle=5)
    frame = shuffled_digits(5).iloc[600:1200].reset_index(drop=True)
    features = [c for c in frame.columns if c != "label"]
    frame[features] = np.clip(frame[features] * 1.5, 0, 16).round()
    start = datetime(2026, 11, 3, 6, 0, tzinfo=UTC)
    send(path, frame, frame["label"], start=start, spacing=timedelta(seconds=18), feedback=0.7)
    return path


def test_retrain_json_and_canary(labelled: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "ws"
    shutil.copytree(labelled, copy)
    result = run_dcai(
        "retrain", "web", "--canary", "10", "--holdout", "30m", "--json", workspace=copy
    )
    report = json.loads(ok(result).stdout, parse_constant=lambda c: pytest.fail(c))
    assert {"dataset", "run", "model", "comparison"} <= set(report)
    assert report["model"] == "digits/3" and report["dataset"].startswith("digits@")
    assert report["comparison"]["dev"]["n"] > 0 and report["comparison"]["production"]["n"] > 10
    shown = ok_json(run_dcai("deploy", "show", "web", "--json", workspace=copy))
    assert shown["canary"] == {"model": "digits/3", "percent": 10.0}
    human = ok(run_dcai("retrain", "web", "--holdout", "30m", workspace=copy))
    assert "production window" in human.stdout and "dev split" in human.stdout


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["web", "--canary", "0"], ["--canary"]),
        (["web", "--holdout", "1d"], ["nothing new to train on"]),
    ],
)
def test_retrain_bad_input(labelled: Path, args: list[str], fragments: list[str]) -> None:
    assert_rejected(run_dcai("retrain", *args, workspace=labelled), *fragments)


def test_retrain_without_feedback_is_refused(ws: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "ws"
    shutil.copytree(ws, copy)
    shutil.rmtree(copy / "logs" / "feedback", ignore_errors=True)
    assert_rejected(run_dcai("retrain", "web", workspace=copy), "feedback label")


def test_html_report_is_written_and_not_overwritten_without_force(ws: Path, tmp_path: Path) -> None:
    page = tmp_path / "monitor.html"
    done = ok(run_dcai("monitor", "web", "--window", "1d", "--html", str(page), workspace=ws))
    assert f"report: {page}" in done.stdout.replace("\n", "")
    text = page.read_text(encoding="utf-8")
    assert "Plotly" in text and "web" in text and '<script src="http' not in text
    assert_rejected(run_dcai("monitor", "web", "--html", str(page), workspace=ws), str(page.name))
