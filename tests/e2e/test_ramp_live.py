"""``dcai deploy ramp`` against a real ``dcai serve`` under traffic: guards that hold promote,
a failing guard rolls back with the measured value in the history."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dcai.demo import digits_frame
from tests.conftest import run_dcai
from tests.e2e.test_cli_bad_input import ok_json
from tests.e2e.test_serve import Server, _free_port, _instances

pytest.importorskip("fastapi")


def _refuse(constant: str) -> None:
    raise AssertionError(f"not strict JSON: {constant}")


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import dcai

    root = tmp_path_factory.mktemp("ramp-live") / "ws"
    with dcai.Workspace(root) as workspace:  # the library: `dcai deploy ramp` is what is tested
        workspace.data.add("digits", digits_frame().head(300), label="label")
        workspace.data.split("digits", dev=0.2, test=0.0, seed=0)
        for c in (1.0, 0.0001):
            run = workspace.runs.train("digits", params={"C": c}, n_boot=0, capture_code=False)
            workspace.models.register(run.run, name="digits")
        workspace.deployments.create("web", model="digits/1")
    return root


@pytest.fixture(scope="module")
def traffic(ws: Path) -> Iterator[Server]:
    server = Server(ws, _free_port())
    stop = threading.Event()
    failures: list[int] = []

    def send(worker: int) -> None:
        n = 0
        while not stop.is_set():
            status, _ = server.predict(
                {"instances": _instances(1, n % 200), "key": f"{worker}-{n}"}
            )
            if status != 200:
                failures.append(status)
            n += 1

    threads = [threading.Thread(target=send, args=(w,), daemon=True) for w in range(2)]
    for thread in threads:
        thread.start()
    yield server
    stop.set()
    for thread in threads:
        thread.join(10)
    server.stop()
    assert failures == []  # no request failed across every step, promotion and rollback


def test_guards_that_hold_ramp_to_100_and_promote(traffic: Server, ws: Path) -> None:
    result = run_dcai(
        "deploy", "ramp", "web", "--model", "digits/2", "--steps", "50,100", "--every", "1s",
        "--guard", "error_rate<0.01", "--guard", "latency_p95<5", "--min-requests", "10",
        "--json", workspace=ws, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout, parse_constant=_refuse)
    assert outcome["outcome"] == "promoted"
    assert [s["outcome"] for s in outcome["steps"]] == ["passed", "passed"]
    assert all(s["health"]["requests"] >= 10 for s in outcome["steps"])
    shown = ok_json(run_dcai("deploy", "show", "web", "--json", workspace=ws))
    assert shown["primary"]["model"] == "digits/2" and shown["canary"] is None
    assert [h["action"] for h in shown["history"]][-3:] == ["ramp", "ramp", "promote"]


def test_a_failing_guard_rolls_back_and_says_why(traffic: Server, ws: Path) -> None:
    # The other version against the live one (the tests may run in either order, in separate
    # processes): the two disagree on some digits, never on none.
    live = ok_json(run_dcai("deploy", "show", "web", "--json", workspace=ws))["primary"]["model"]
    other = "digits/1" if live == "digits/2" else "digits/2"
    result = run_dcai(
        "deploy", "ramp", "web", "--model", other, "--steps", "50,100", "--every", "30s",
        "--guard", "disagreement<0.0001", "--min-requests", "10", workspace=ws, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "rolled back" in result.stdout and "disagreement" in result.stdout
    shown = ok_json(run_dcai("deploy", "show", "web", "--json", workspace=ws))
    assert shown["primary"]["model"] == live and shown["canary"] is None
    last = shown["history"][-1]
    assert last["action"] == "rollback" and "disagreement" in last["reason"]
