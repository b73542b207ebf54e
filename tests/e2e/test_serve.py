"""``dcai serve`` as a real process: predictions, MLflow bodies, bad input, hot changes from the
CLI, sticky canary, shadow off the response path, review modes, metrics, the prediction log."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dcai.demo import digits_frame
from tests.conftest import run_dcai
from tests.e2e.test_cli_bad_input import ok, ok_json

pytest.importorskip("fastapi")
pytest.importorskip("prometheus_client")

FEATURES = [c for c in digits_frame().columns if c != "label"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _call(
    url: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    token: str | None = None,
    method: str | None = None,
) -> tuple[int, Any]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    headers = {"Content-Type": "application/json"} if data else {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
            status = response.status
    except urllib.error.HTTPError as error:
        text, status = error.read().decode(), error.code
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


class Server:
    def __init__(self, ws: Path, port: int, env: dict[str, str] | None = None) -> None:
        self.ws, self.port = ws, port
        self.base = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DCAI_")} | (env or {})
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dcai.cli.main",
                "-w",
                str(ws),
                "serve",
                "--port",
                str(port),
                "--poll",
                "0.2",
                "--usage-every",
                "0.5",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if _call(self.base + "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"server exited: {self.proc.stderr.read() if self.proc.stderr else ''}"
                )
            time.sleep(0.1)
        self.stop()
        raise AssertionError("server did not start in 30 s")

    def predict(self, body: Any, name: str = "web") -> tuple[int, Any]:
        return _call(f"{self.base}/v1/deployments/{name}/predict", body)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return int(self.proc.returncode)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.e2e.conftest import build_deploy_workspace

    return build_deploy_workspace(
        tmp_path_factory.mktemp("serve") / "ws", rows=400, c_values=(1.0, 0.001)
    )


@pytest.fixture(scope="module")
def server(ws: Path) -> Iterator[Server]:
    running = Server(ws, _free_port())
    yield running
    running.stop()


def _instances(n: int, start: int = 0) -> list[dict[str, Any]]:
    rows = digits_frame().iloc[start : start + n][FEATURES]
    return [{k: int(v) for k, v in row.items()} for row in rows.to_dict(orient="records")]


def test_predictions_with_the_deployments_routing(server: Server) -> None:
    status, body = server.predict({"instances": _instances(3)})
    assert status == 200, body
    assert body["model_version"] == "digits/1" and body["route"] == "primary"
    assert len(body["predictions"]) == 3 and len(body["request_id"]) == 32
    first = body["predictions"][0]
    assert set(first) == {"label", "confidence", "probabilities", "needs_review"}
    assert first["confidence"] == max(first["probabilities"].values())
    assert first["needs_review"] is False
    # MLflow clients: dataframe_split and dataframe_records, on /invocations too.
    frame = pd.DataFrame(_instances(2))
    split = {"dataframe_split": {"columns": list(frame.columns), "data": frame.values.tolist()}}
    status, mlflow = _call(server.base + "/invocations", split)
    assert status == 200 and len(mlflow["predictions"]) == 2, mlflow
    status, records = server.predict({"dataframe_records": _instances(2)})
    assert status == 200 and [p["label"] for p in records["predictions"]] == [
        p["label"] for p in mlflow["predictions"]
    ]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"{not json", 422, "malformed JSON"),
        (b'{"instances": [{"px00": NaN}]}', 422, "NaN is not JSON"),
        (b'{"instances": [{"px00": 1e999}]}', 422, "1e999 is too large"),
        (b"[" * 5000 + b"]" * 5000, 422, "malformed JSON"),
        ({"instances": []}, 422, "at least one instance"),
        ({"instances": [{"px00": 1}]}, 422, "px01"),
        ({"instances": [{**{f: 0 for f in FEATURES}, "extra": 1}]}, 422, "extra"),
        ({"instances": [{**{f: 0 for f in FEATURES}, "px05": "abc"}]}, 422, "px05"),
        ({"rows": []}, 422, "exactly one of"),
        ({"instances": [{f: 0 for f in FEATURES}], "key": [1]}, 422, "routing key"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    server: Server, body: Any, status: int, fragment: str
) -> None:
    raw = body if isinstance(body, bytes) else None
    got, answer = _call(server.base + "/v1/deployments/web/predict", None if raw else body, raw=raw)
    assert got == status, answer
    assert fragment in json.dumps(answer), answer
    assert _call(server.base + "/healthz")[0] == 200  # and the server keeps answering


def test_unknown_deployment_and_oversized_body(server: Server) -> None:
    status, answer = server.predict({"instances": _instances(1)}, name="nope")
    assert status == 404 and "web" in answer["detail"]
    # An oversized body is refused from its Content-Length, before it is read.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(
            b"POST /v1/deployments/web/predict HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n" + b"[0," * 1000
        )
        reply = conn.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 413"), reply
    assert _call(server.base + "/healthz")[0] == 200


def test_changes_from_the_cli_are_served_within_a_second(server: Server, ws: Path) -> None:
    ok(run_dcai("deploy", "canary", "web", "--model", "digits/2", "--percent", "50", workspace=ws))
    changed = time.monotonic()
    while _call(server.base + "/v1/deployments/web")[1]["revision"] != 2:
        assert time.monotonic() - changed < 1.0, "the change was not picked up within 1 s"
        time.sleep(0.02)
    # Sticky by key: the same key always gets the same model.
    routes = {
        server.predict({"instances": _instances(1), "key": "user-7"})[1]["route"] for _ in range(10)
    }
    assert len(routes) == 1
    # About half of distinct keys on the canary; unkeyed requests alternate exactly.
    canary = sum(
        server.predict({"instances": _instances(1), "key": f"k{i}"})[1]["route"] == "canary"
        for i in range(200)
    )
    assert 70 <= canary <= 130
    unkeyed = [server.predict({"instances": _instances(1)})[1]["route"] for _ in range(20)]
    assert unkeyed.count("canary") == 10
    ok(run_dcai("deploy", "rollback", "web", workspace=ws))


def test_shadow_runs_off_the_response_path_and_modes_set_review(server: Server, ws: Path) -> None:
    ok(run_dcai("deploy", "shadow", "web", "--model", "digits/2", workspace=ws))
    ok(
        run_dcai(
            "deploy", "set", "web", "--mode", "partial", "--review-below", "0.999", workspace=ws
        )
    )
    deadline = time.monotonic() + 5
    while _call(server.base + "/v1/deployments/web")[1]["mode"] != "partial":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    status, body = server.predict({"instances": _instances(20, start=100)})
    assert status == 200 and body["route"] == "primary"
    assert any(p["needs_review"] for p in body["predictions"])
    ok(run_dcai("deploy", "set", "web", "--mode", "shadow", workspace=ws))
    deadline = time.monotonic() + 5
    while _call(server.base + "/v1/deployments/web")[1]["mode"] != "shadow":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    status, body = server.predict({"instances": _instances(2)})
    assert all(p["label"] is None and p["needs_review"] for p in body["predictions"])
    time.sleep(0.3)  # the shadow runs after the response
    status, text = _call(server.base + "/metrics")
    assert status == 200
    assert (
        'dcai_requests_total{deployment="web",model_version="digits/1",route="primary",status="ok"}'
        in text
    )
    assert (
        "dcai_shadow_predictions_total" in text and "dcai_request_duration_seconds_bucket" in text
    )
    ok(run_dcai("deploy", "set", "web", "--mode", "full", workspace=ws))


def test_sigterm_flushes_every_logged_prediction(ws: Path) -> None:
    server = Server(ws, _free_port())
    answered: list[str] = []
    try:
        for i in range(30):
            status, body = server.predict({"instances": _instances(3, start=i)})
            assert status == 200
            answered.append(body["request_id"])
        status, text = _call(server.base + "/metrics")
        assert status == 200 and "process_resident_memory_bytes" in str(text)
    finally:
        # uvicorn shuts down gracefully on SIGTERM, then re-raises it: -15 is a clean exit.
        assert server.stop() in (0, -signal.SIGTERM)
    # Its memory and CPU use were sampled (the last sample on the way out) for monitoring.
    usage = pd.read_parquet(ws / "logs" / "usage" / "deployment=web")
    mine_usage = usage[usage["pid"] == server.proc.pid]
    assert len(mine_usage) >= 1 and mine_usage["memory_mb"].between(20, 50_000).all()
    from dcai.monitor.deployment import monitor_deployment
    from dcai.workspace import Workspace

    with Workspace(ws, create=False) as workspace:
        report = monitor_deployment(workspace.stores, "web", window="1h", store=False)
    assert report.windows["server_memory_mb"].iloc[-1] > 20
    log = pd.read_parquet(ws / "logs" / "predictions")
    mine = log[log["request_id"].isin(answered) & (log["route"] != "shadow")]
    assert len(mine) == 3 * len(answered)  # every acknowledged prediction was flushed
    assert set(mine["index"]) == {0, 1, 2}
    assert set(log.columns) >= {
        "request_id",
        "deployment",
        "revision",
        "route",
        "model_version",
        "inputs",
        "label",
        "confidence",
        "latency_ms",
    }
    assert json.loads(mine.iloc[0]["inputs"]).keys() == set(FEATURES)


def test_feedback_flows_into_the_log_and_back_into_a_dataset(server: Server, ws: Path) -> None:
    status, body = server.predict({"instances": _instances(2, start=200), "key": "fb"})
    assert status == 200
    request_id = body["request_id"]
    url = f"{server.base}/v1/deployments/web/feedback"
    assert _call(url, {"request_id": request_id, "index": 1, "label": 7})[0] == 200
    assert _call(url, {"request_id": request_id, "index": 0, "outcome": "clicked"})[0] == 200
    assert _call(url, {"request_id": "0" * 32, "index": 0, "label": 1})[0] == 404
    assert _call(url, {"request_id": request_id, "index": 5, "label": 1})[0] == 422
    assert _call(url, {"request_id": request_id, "label": 1, "outcome": "x"})[0] == 422
    assert _call(url, {"request_id": "nope", "label": 1})[0] == 422
    time.sleep(1.5)  # both logs flush every second
    shown = ok_json(run_dcai("logs", "show", "web", "--limit", "500", "--json", workspace=ws))
    mine = {r["index"]: r for r in shown["rows"] if r["request_id"] == request_id}
    assert mine[1]["feedback"]["label"] == 7 and mine[0]["feedback"]["outcome"] == "clicked"
    assert set(mine[0]["inputs"]) == set(FEATURES)
    version = ok_json(
        run_dcai(
            "logs", "to-dataset", "web", "--name", "prod", "--only-labeled", "--json", workspace=ws
        )
    )
    assert version["rows"] >= 1 and version["new"] is True
    shown = ok_json(run_dcai("data", "show", version["ref"], "--json", workspace=ws))
    assert shown["operation"] == "from_logs" and shown["params"]["deployment"] == "web"
    # Enough rows to sample from, whatever ran before in this process.
    assert server.predict({"instances": _instances(6, start=300)})[0] == 200
    time.sleep(1.5)
    sample = ok_json(
        run_dcai(
            "logs",
            "to-dataset",
            "web",
            "--name",
            "to-label",
            "--sample",
            "uncertainty:5",
            "--json",
            workspace=ws,
        )
    )
    assert sample["rows"] == 5


def test_batch_prediction_writes_parquet_and_logs_rows(ws: Path, tmp_path: Path) -> None:
    source = tmp_path / "batch.csv"
    digits_frame().iloc[:120][FEATURES].to_csv(source, index=False)
    out = tmp_path / "pred.parquet"
    result = ok_json(
        run_dcai(
            "predict",
            "digits/1",
            str(source),
            "--out",
            str(out),
            "--chunk-rows",
            "50",
            "--deployment",
            "nightly",
            "--json",
            workspace=ws,
        )
    )
    assert result["rows"] == 120 and result["logged"] == 120
    frame = pd.read_parquet(out)
    assert list(frame.columns[:3]) == ["row", "label", "confidence"]
    assert len(frame) == 120 and frame.filter(like="p_").shape[1] == 10
    logged = ok_json(run_dcai("logs", "show", "nightly", "--limit", "500", "--json", workspace=ws))
    assert len(logged["rows"]) == 120 and {r["route"] for r in logged["rows"]} == {"batch"}
    # A dataset version as input, and a file missing a feature.
    ok(
        run_dcai(
            "predict", "digits/1", "digits", "--out", str(tmp_path / "v.parquet"), workspace=ws
        )
    )
    digits_frame().iloc[:5][FEATURES[1:]].to_csv(tmp_path / "short.csv", index=False)
    result = run_dcai(
        "predict",
        "digits/1",
        str(tmp_path / "short.csv"),
        "--out",
        str(tmp_path / "s.parquet"),
        workspace=ws,
    )
    assert result.returncode == 2 and "px00" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "s.parquet").exists()


def test_the_review_queue_lists_waiting_answers_and_takes_decisions(
    server: Server, ws: Path
) -> None:
    ok(run_dcai("deploy", "set", "web", "--mode", "assist", workspace=ws))
    deadline = time.monotonic() + 5
    while _call(server.base + "/v1/deployments/web")[1]["mode"] != "assist":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    status, body = server.predict({"instances": _instances(3, start=300)})
    assert status == 200 and all(p["needs_review"] for p in body["predictions"])
    time.sleep(1.3)  # the log flushes every second
    listed = ok_json(
        run_dcai("review-queue", "web", "list", "--limit", "1000", "--json", workspace=ws)
    )
    mine = [i for i in listed["items"] if i["item"].startswith(body["request_id"])]
    assert [i["item"] for i in mine] == [f"{body['request_id']}:{k}" for k in range(3)]
    assert mine[0]["suggested"] == body["predictions"][0]["label"]
    accepted = ok_json(
        run_dcai(
            "review-queue", "web", "decide", mine[0]["item"], "--accept", "--json", workspace=ws
        )
    )
    assert accepted["label"] == body["predictions"][0]["label"] and accepted["accepted"] is True
    corrected = ok_json(
        run_dcai(
            "review-queue", "web", "decide", mine[1]["item"], "--label", "3", "--json", workspace=ws
        )
    )
    assert corrected["label"] == 3  # typed like the model's classes
    result = run_dcai("review-queue", "web", "decide", "0" * 32 + ":0", "--accept", workspace=ws)
    assert result.returncode == 2 and "no logged prediction" in result.stderr
    listed = ok_json(
        run_dcai("review-queue", "web", "list", "--limit", "1000", "--json", workspace=ws)
    )
    left = [i["item"] for i in listed["items"] if i["item"].startswith(body["request_id"])]
    assert left == [f"{body['request_id']}:2"]
    ok(run_dcai("deploy", "set", "web", "--mode", "full", workspace=ws))


def test_changes_over_http_need_the_admin_token(server: Server, ws: Path) -> None:
    # No admin token configured: changing deployments over HTTP is off.
    status, answer = _call(f"{server.base}/v1/deployments/web/promote", {})
    assert status == 403 and "admin_token" in answer["detail"]
    guarded = Server(
        ws, _free_port(), env={"DCAI_ADMIN_TOKEN": "adm1n", "DCAI_SERVE_TOKEN": "cl1ent"}
    )
    try:
        url = f"{guarded.base}/v1/deployments/web"
        one = {"instances": _instances(1)}
        assert _call(url + "/predict", one)[0] == 401
        assert _call(url + "/predict", one, token="wrong")[0] == 401
        assert _call(url + "/predict", one, token="cl1ent")[0] == 200
        assert _call(url + "/predict", one, token="adm1n")[0] == 200
        before = _call(url)[1]["revision"]
        change = {"model": "digits/2", "percent": 20, "reason": "try it"}
        assert _call(url + "/canary", change)[0] == 401
        assert _call(url + "/canary", change, token="cl1ent")[0] == 401
        status, served = _call(url + "/canary", change, token="adm1n")
        assert status == 200 and served["canary"] == {"model": "digits/2", "percent": 20.0}
        assert _call(url)[1]["revision"] == served["revision"]  # served at once, no poll wait
        assert served["revision"] == before + 1
        assert _call(url + "/canary", {"percent": 0}, token="adm1n")[0] == 422
        assert _call(url + "/canary", {"percent": 5, "x": 1}, token="adm1n")[0] == 422
        assert _call(f"{guarded.base}/v1/deployments/nope/promote", {}, token="adm1n")[0] == 404
        status, answer = _call(url + "/canary", {"model": "nope/1", "percent": 5}, token="adm1n")
        assert status == 404 and "nope" in answer["detail"]
        status, created = _call(
            f"{guarded.base}/v1/deployments/api", {"model": "digits/1"}, token="adm1n", method="PUT"
        )
        assert status == 200 and created["revision"] == 1
        assert _call(url + "/rollback", {}, token="adm1n")[0] == 200
        shown = ok_json(run_dcai("deploy", "show", "web", "--json", workspace=ws))
        assert (
            shown["history"][-2]["author"] == "api" and shown["history"][-2]["reason"] == "try it"
        )
    finally:
        guarded.stop()
