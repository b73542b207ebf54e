"""``dcai serve`` as a real process under faults: a model that raises, a deployment change whose
model no longer loads, a log store that cannot be written, and ``kill -9`` under load. Each time
the server answers clearly (status, detail, a log line, a metric) and keeps answering."""

from __future__ import annotations

import os
import re
import resource
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dcai.demo import digits_frame
from dcai.deploy.prediction_log import ERROR_FIELDS, PartitionedLog
from tests.conftest import run_dcai
from tests.e2e.test_cli_bad_input import ok_json
from tests.e2e.test_serve import FEATURES, Server, _call, _free_port, _instances

pytest.importorskip("fastapi")
pytest.importorskip("prometheus_client")
pq = pytest.importorskip("pyarrow.parquet")


def _wait(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.05)


def _metric(text: str, name: str, *fragments: str) -> float:
    """The sum of the samples of ``name`` whose labels hold every fragment."""
    total = 0.0
    for line in text.splitlines():
        sample = line.startswith((name + "{", name + " "))
        if sample and all(f in line for f in fragments):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _metrics(server: Server) -> str:
    status, text = _call(server.base + "/metrics")
    assert status == 200
    return str(text)


class _Stderr:
    """What a running server wrote to stderr so far (read without blocking, so that the pipe
    never fills and stalls the server)."""

    def __init__(self, server: Server) -> None:
        assert server.proc.stderr is not None
        self.fd = server.proc.stderr.fileno()
        os.set_blocking(self.fd, False)
        self.text = ""

    def read(self) -> str:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            self.text += chunk.decode(errors="replace")
        return self.text


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """digits/1 and digits/2 (the training pipeline, which imputes), strict/1 (a bare logistic
    Bayes model, which cannot take a missing value), and one deployment per fault."""
    import dcai

    path = tmp_path_factory.mktemp("faults") / "ws"
    with dcai.Workspace.init(path) as workspace:
        workspace.add_dataset("digits", digits_frame().head(300), label="label")
        workspace.split("digits", dev=0.2, test=0)
        for c in (1.0, 0.001):
            run = workspace.train("digits", params={"C": c}, n_boot=0, capture_code=False).run
            workspace.models.register(run, name="digits")
        run = workspace.train(
            "digits",
            recipe="sklearn.naive_bayes:GaussianNB",
            n_boot=0,
            capture_code=False,
        ).run
        workspace.models.register(run, name="strict")
        for name in ("web", "swap", "blocked", "full"):
            workspace.deployments.create(name, model="digits/1")
        workspace.deployments.create("strict", model="strict/1")
    return path


@pytest.fixture(scope="module")
def server(ws: Path) -> Iterator[Server]:
    running = Server(ws, _free_port())
    running.stderr = _Stderr(running)  # type: ignore[attr-defined]
    yield running
    running.stop()


def _stderr(server: Server) -> str:
    reader: _Stderr = server.stderr  # type: ignore[attr-defined]
    return reader.read()


def _one_with(feature: str, value: Any, start: int = 0) -> dict[str, Any]:
    return {"instances": [{**_instances(1, start)[0], feature: value}]}


def test_a_model_that_raises_gets_a_500_naming_it_and_an_error_log_row(
    server: Server, ws: Path
) -> None:
    # null is accepted for any feature (a missing value); strict/1 cannot take one.
    status, answer = server.predict(_one_with("px05", None), name="strict")
    assert status == 500, answer
    assert "strict/1" in answer["detail"] and "ValueError" in answer["detail"], answer
    # The next good request is answered, and the model that imputes takes the null.
    status, body = server.predict({"instances": _instances(2)}, name="strict")
    assert status == 200 and body["model_version"] == "strict/1", body
    assert server.predict(_one_with("px05", None), name="web")[0] == 200
    text = _metrics(server)
    error = ('deployment="strict"', 'model_version="strict/1"', 'route="primary"')
    assert _metric(text, "dcai_requests_total", *error, 'status="error"') == 1
    assert _metric(text, "dcai_requests_total", *error, 'status="ok"') == 1
    # One row in the error log, flushed within a second or so.
    folder = ws / "logs" / "errors" / "deployment=strict"
    files = _wait(lambda: sorted(folder.glob("date=*/*.parquet")), 5, "the error log")
    rows = pd.concat([pq.read_table(f).to_pandas() for f in files])
    assert list(rows.columns) == [name for name, _ in ERROR_FIELDS]
    assert len(rows) == 1
    row = rows.iloc[0]
    assert (row["model_version"], row["route"], row["instances"]) == ("strict/1", "primary", 1)
    assert row["revision"] == 1 and row["latency_ms"] > 0
    assert f"request {row['request_id']}" in answer["detail"]  # the caller can quote it
    assert "ValueError" in row["error"] and "NaN" in row["error"], row["error"]
    assert "model strict/1 of strict failed" in _stderr(server)


def _object_file(ws: Path, digest: str) -> Path:
    found = [p for p in (ws / "objects").rglob(f"{digest}*") if not p.name.endswith(".check")]
    assert len(found) == 1, found
    return found[0]


def test_a_change_whose_model_no_longer_loads_keeps_the_old_routing(
    server: Server, ws: Path
) -> None:
    import dcai

    before = _call(server.base + "/v1/deployments/swap")[1]
    assert before["revision"] == 1 and _call(server.base + "/readyz")[0] == 200
    # The change is checked (digits/2 loads) and stored while the server is paused, then the
    # stored model is damaged before the server sees the change: its load is refused.
    server.proc.send_signal(signal.SIGSTOP)
    try:
        with dcai.Workspace(ws) as workspace:
            changed = workspace.deployments.canary("swap", model="digits/2", percent=50)
            digest = workspace.models.get("digits/2").model_sha256
        model = _object_file(ws, digest)
        data = bytearray(model.read_bytes())
        data[len(data) // 2] ^= 0xFF
        model.write_bytes(bytes(data))
    finally:
        server.proc.send_signal(signal.SIGCONT)
    readyz = _wait(
        lambda: (r := _call(server.base + "/readyz"))[0] == 503 and r[1], 5, "readyz to fail"
    )
    assert f"revision {changed.revision} not served" in readyz["errors"]["swap"], readyz
    listed = _call(server.base + "/v1/deployments")[1]
    assert "swap" in listed["errors"]
    assert {d["name"]: d["revision"] for d in listed["deployments"]}["swap"] == 1
    # The old revision keeps serving, all of it on the primary.
    served = _call(server.base + "/v1/deployments/swap")[1]
    assert served["revision"] == 1 and served["canary"] is None and served["stored_revision"] == 2
    for _ in range(4):
        status, body = server.predict({"instances": _instances(1)}, name="swap")
        assert status == 200 and body["model_version"] == "digits/1" and body["revision"] == 1
    assert "deployment swap: revision 2 not served" in _stderr(server)
    # The object comes back (a store that was briefly away): the load is retried on its own.
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    _wait(lambda: _call(server.base + "/readyz")[0] == 200, 10, "readyz to recover by retry")
    served = _call(server.base + "/v1/deployments/swap")[1]
    assert served["revision"] == changed.revision and served["canary"]["model"] == "digits/2"
    # Rolled back, the server is ready again.
    with dcai.Workspace(ws) as workspace:
        restored = workspace.deployments.rollback("swap")
    _wait(
        lambda: _call(server.base + "/v1/deployments/swap")[1]["revision"] == restored.revision,
        5,
        "the rollback to be served",
    )
    assert _call(server.base + "/readyz")[0] == 200
    assert _call(server.base + "/v1/deployments")[1]["errors"] == {}
    assert server.predict({"instances": _instances(1)}, name="swap")[0] == 200


def _dropped(server: Server) -> float:
    return _metric(_metrics(server), "dcai_log_dropped_rows_total")


def test_a_log_folder_that_cannot_be_made_drops_rows_but_answers(server: Server, ws: Path) -> None:
    # A regular file where the deployment's partition folder must go: mkdir fails (as root too).
    predictions = ws / "logs" / "predictions"
    predictions.mkdir(parents=True, exist_ok=True)
    (predictions / "deployment=blocked").write_text("not a folder")
    before = _dropped(server)
    for i in range(3):
        status, body = server.predict({"instances": _instances(2, start=i)}, name="blocked")
        assert status == 200 and len(body["predictions"]) == 2, body
    _wait(lambda: _dropped(server) >= before + 6, 5, "6 dropped rows on /metrics")
    assert _dropped(server) == before + 6
    # Rows of requests that met in one flush are dropped (and reported) together.
    assert re.search(r"predictions log: dropped \d+ rows: cannot write", _stderr(server))
    assert "deployment=blocked" in _stderr(server)
    # Other deployments still log.
    status, body = server.predict({"instances": _instances(1)}, name="web")
    assert status == 200
    web = predictions / "deployment=web"
    _wait(
        lambda: any(
            body["request_id"] in set(pq.read_table(f).column("request_id").to_pylist())
            for f in web.glob("date=*/*.parquet")
        ),
        5,
        "the web deployment's row",
    )


def test_a_full_disk_drops_rows_but_answers(server: Server, ws: Path) -> None:
    # A full disk, emulated with the file size limit (RLIMIT_FSIZE, binding for root too):
    # every Parquet file the server writes fails with EFBIG, as writes to a full disk fail with
    # ENOSPC. Python ignores SIGXFSZ, so the write fails instead of killing the process.
    soft, hard = resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE)
    before = _dropped(server)
    resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (512, hard))
    try:
        for i in range(2):
            status, body = server.predict({"instances": _instances(3, start=i)}, name="full")
            assert status == 200 and len(body["predictions"]) == 3, body
        _wait(lambda: _dropped(server) >= before + 6, 5, "6 dropped rows on /metrics")
        assert "File too large" in _stderr(server).split("deployment=full", 1)[-1]
    finally:
        resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (soft, hard))
    folder = ws / "logs" / "predictions" / "deployment=full"
    assert not list(folder.rglob("*.parquet")) and not list(folder.rglob(".*.tmp"))
    # With room again, rows are logged again.
    status, body = server.predict({"instances": _instances(1)}, name="full")
    assert status == 200
    _wait(lambda: list(folder.glob("date=*/*.parquet")), 5, "a row logged after the fault")
    assert _dropped(server) == before + 6


def test_kill_9_under_load_leaves_only_whole_files(ws: Path) -> None:
    server = Server(ws, _free_port())
    acked: list[tuple[float, str]] = []
    stop = threading.Event()
    failures: list[BaseException] = []

    def load() -> None:
        i = 0
        while not stop.is_set():
            try:
                status, body = server.predict({"instances": _instances(4, start=i % 200)})
            except OSError:  # the server is gone
                return
            except BaseException as exc:  # pragma: no cover - reported below
                failures.append(exc)
                return
            if status == 200:
                acked.append((time.monotonic(), body["request_id"]))
            i += 1

    threads = [threading.Thread(target=load, daemon=True) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        _wait(lambda: len(acked) >= 20 and acked[-1][0] - acked[0][0] > 2.5, 20, "load")
        server.proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        assert server.proc.wait(10) == -signal.SIGKILL
    finally:
        stop.set()
        for thread in threads:
            thread.join(35)
        server.stop()
    assert not failures, failures
    logs = ws / "logs"
    files = [p for p in logs.rglob("*.parquet") if not p.name.startswith(".")]
    for path in files:
        pq.read_table(path)  # every visible file is whole
    mine = {rid for _, rid in acked}
    logged = pd.read_parquet(logs / "predictions" / "deployment=web", columns=["request_id"])
    logged_ids = set(logged["request_id"]) & mine
    settled = {rid for at, rid in acked if at < killed - 2.0}
    assert settled, "no request was acknowledged 2 s before the kill"
    missing = settled - logged_ids
    assert not missing, f"{len(missing)} of {len(settled)} settled requests were not logged"
    shown = ok_json(run_dcai("logs", "show", "web", "--limit", "100000", "--json", workspace=ws))
    shown_ids = {r["request_id"] for r in shown["rows"]}
    assert shown_ids & mine == logged_ids
    assert {r["index"] for r in shown["rows"] if r["request_id"] in settled} == {0, 1, 2, 3}
    assert set(next(iter(shown["rows"]))["inputs"]) == set(FEATURES)


def test_a_batch_arrow_cannot_take_is_dropped_and_the_writer_keeps_going(tmp_path: Path) -> None:
    """In process: a row the writer cannot encode must not end the writer thread."""
    dropped: list[int] = []
    log = PartitionedLog(tmp_path, flush_interval=0.05, on_drop=dropped.append)
    at = "2024-05-01T00:00:00+00:00"
    log.append({"deployment": "d", "time": at, "request_id": "a", "index": "not an int"})
    _wait(lambda: dropped, 5, "the bad batch to be dropped")
    log.append({"deployment": "d", "time": at, "request_id": "b", "index": 0})
    log.close()
    assert dropped == [1] and log.written_rows == 1
    assert pd.read_parquet(tmp_path)["request_id"].tolist() == ["b"]
