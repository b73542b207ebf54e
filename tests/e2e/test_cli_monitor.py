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
        batch = [{f: int(v) for f, v in r.items()} for r in frame.iloc[80:100][FEATURES].to_dict("records")]
        status, _ = server.predict({"instances": batch})
        assert status == 200
    finally:
        assert server.stop() in (0, -15)
    yield path


def test_monitor_json_counts_what_was_served(ws: Path) -> None:
    report: dict[str, Any] = ok_json(run_dcai("monitor", "web", "--window", "1d", "--json", workspace=ws))
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
    records = [json.loads(line) for line in (copy / "monitor" / "alerts.jsonl").read_text().splitlines()]
    assert [(r["rule"], r["state"], r["deployment"]) for r in records] == [("busy", "firing", "web")]
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
        (["--window", "soon"], ["--window", "soon"]),
        (["--window", "1h", "--every", "5"], ["not both"]),
        (["--since", "yesterday"], ["--since"]),
    ],
)
def test_bad_options_are_refused(ws: Path, args: list[str], fragments: list[str]) -> None:
    assert_rejected(run_dcai("monitor", "web", *args, workspace=ws), *fragments)


def test_an_unknown_deployment_is_named(ws: Path) -> None:
    line = assert_rejected(run_dcai("monitor", "nope", workspace=ws), "nope")
    assert "deployment" in line
