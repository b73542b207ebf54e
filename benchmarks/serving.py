"""Serving benchmark (issue 8): bare FastAPI, ``mlflow models serve`` and ``dcai serve``.

Usage::

    make bench-env      # .venv-bench: dcai (editable) + benchmarks/requirements.txt (mlflow)
    .venv-bench/bin/python benchmarks/serving.py [--quick] [--check] [--out BENCHMARKS.md]

The same fitted scikit-learn estimator — dcai's stored model of the primary version, loaded
with ``ws.load_model`` — is served three ways, each in its own process with one uvicorn worker
on 127.0.0.1:

* **bare FastAPI**: one ``async`` route that parses the JSON body into a DataFrame and returns
  ``model.predict_proba``; ``uvicorn.run`` with the settings ``dcai serve`` uses;
* **MLflow**: the estimator saved with ``mlflow.sklearn.save_model`` (pickle format, in the
  benchmark environment only; ``pyfunc_predict_fn="predict_proba"``) and served with
  ``mlflow models serve -m DIR --env-manager local --workers 1``;
* **dcai**: ``dcai serve`` over a workspace whose deployment ``web`` has the primary, a canary
  at 10 % and a shadow, with the prediction log on (it always is).

A load generator in a separate process keeps a fixed number of keep-alive connections
(``http.client``, one thread each) busy: warm-up, then a timed window. Then, against dcai:
the canary split over distinct routing keys, a rollback and a canary change under load, and
the prediction log's completeness after a SIGTERM.

Everything runs in a throw-away folder under ``benchmarks/.work/`` that is deleted at the end.
``--quick`` uses small counts (seconds); ``--check`` exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import command_shown, machine, mb, report_targets, target_lines, write_section
from _common import versions as package_versions

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCRATCH = HERE / ".work"
SECTION = "## Serving (issue 8)"
HOST = "127.0.0.1"
DEPLOYMENT = "web"
MODEL = "digits"
CLIENTS = 4

FULL = {
    "warmup_s": 3.0,
    "window_s": 15.0,
    "rounds": 3,
    "keys": 10_000,
    "rollback_s": 30.0,
    "log_requests": 10_000,
    "log_rows": 100,
}
QUICK = {
    "warmup_s": 1.0,
    "window_s": 3.0,
    "rounds": 1,
    "keys": 2_000,
    "rollback_s": 10.0,
    "log_requests": 200,
    "log_rows": 100,
}
SIZES = (1, 100)
SERVERS = ("bare", "mlflow", "dcai")
NAMES = {"bare": "bare FastAPI", "mlflow": "`mlflow models serve`", "dcai": "dcai serve"}
PATHS = {
    "bare": "/invocations",
    "mlflow": "/invocations",
    "dcai": f"/v1/deployments/{DEPLOYMENT}/predict",
}
HEALTH = {"bare": "/ping", "mlflow": "/ping", "dcai": "/readyz"}
# No network for the servers: any outbound HTTP(S) through the usual clients goes to a closed
# port (the load generator talks to 127.0.0.1 directly, never through a proxy).
OFFLINE_ENV = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "",
    "no_proxy": "",
    "HF_HUB_OFFLINE": "1",
}

# Targets (issue 8).
TARGET_THROUGHPUT = 0.90  # dcai ≥ 90 % of bare FastAPI's requests/s
TARGET_P50_MS = 1.0  # dcai p50 ≤ bare p50 + 1 ms
TARGET_VS_MLFLOW = 3.0  # dcai ≥ 3× mlflow models serve's requests/s
TARGET_CANARY = 10.0  # percent
TARGET_CANARY_TOL = 1.0  # ± percentage points
TARGET_LOG_ROWS = 1_000_000
MLFLOW_NOTE = (
    "The 3× target assumed `mlflow models serve` added about 11 ms per request; MLflow 3's scor"
    "ing server is itself a FastAPI app on uvicorn. The bare FastAPI endpoint above does nothin"
    "g but parse the body, call the same model in one worker and answer, and it does not reach "
    "3× MLflow either (the table above)."
)


# Small helpers ------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(ROOT / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, str(HERE), env.get("PYTHONPATH")) if p)
    return env


def _dcai(ws: Path, *args: str, timeout: float = 120.0) -> dict[str, Any]:
    """Run ``dcai -w WS ARGS --json`` and return its JSON output."""
    command = [sys.executable, "-m", "dcai.cli.main", "-w", str(ws), *args, "--json"]
    done = subprocess.run(
        command, env=_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, []))
    return out


def _status_kb(pid: int, field: str) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _memory(pid: int) -> dict[str, Any]:
    """Peak RSS (VmHWM) of the server's processes: the largest one and all together."""
    procs = _children(pid)
    peaks = [_status_kb(p, "VmHWM") * 1024 for p in procs]
    return {"processes": len(procs), "largest": max(peaks, default=0), "total": sum(peaks)}


def _get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _post(port: int, path: str, body: bytes) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


class Server:
    """A server process in its own process group; stopped (with its children) on exit."""

    def __init__(self, kind: str, command: list[str], log: Path, env: dict[str, str]) -> None:
        self.kind = kind
        self.port = int(command[command.index("--port") + 1])
        self.log = log
        self.handle = log.open("wb")
        start = time.perf_counter()
        self.proc = subprocess.Popen(
            command, env=env, stdout=self.handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = start + 120
        while True:
            if self.proc.poll() is not None:
                self.stop()
                raise SystemExit(f"{kind} server exited:\n{log.read_text()[-3000:]}")
            try:
                if _get(self.port, HEALTH[kind], timeout=1)[0] == 200:
                    break
            except OSError:
                pass
            if time.perf_counter() > deadline:
                self.stop()
                raise SystemExit(f"{kind} server not ready in 120 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        self.ready_s = time.perf_counter() - start

    def memory(self) -> dict[str, Any]:
        return _memory(self.proc.pid)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        """Send ``sig`` to the group, wait, then SIGKILL whatever is left. Exit code or None."""
        code = None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
                code = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
            except ProcessLookupError:
                pass
        else:
            code = self.proc.returncode
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.handle.close()
        return code if code is not None else self.proc.returncode


# Request bodies -----------------------------------------------------------------------------


def _table(data: Path) -> tuple[list[str], list[list[Any]]]:
    import csv

    with data.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    label = header.index("label")
    columns = [c for i, c in enumerate(header) if i != label]
    values = [[int(v) for i, v in enumerate(r) if i != label] for r in rows]
    return columns, values


def _bodies(data: Path, rows: int, count: int, key_prefix: str | None) -> list[bytes]:
    """``count`` ``dataframe_split`` bodies of ``rows`` consecutive digits rows each (cycling
    through the table); with ``key_prefix``, each carries the routing key ``PREFIX-i``."""
    columns, values = _table(data)
    out = []
    for i in range(count):
        first = (i * rows) % len(values)
        chunk = [values[(first + j) % len(values)] for j in range(rows)]
        body: dict[str, Any] = {"dataframe_split": {"columns": columns, "data": chunk}}
        if key_prefix is not None:
            body["key"] = f"{key_prefix}-{i}"
        out.append(json.dumps(body, separators=(",", ":")).encode())
    return out


# The load generator (a child process) -------------------------------------------------------


def child_load(spec: dict[str, Any]) -> dict[str, Any]:
    """Keep ``clients`` keep-alive connections busy.

    Mode ``window``: ``warmup_s`` then ``window_s`` seconds; requests that start and end in
    the window are timed. Mode ``all``: every body once, all timed. Failed = an exception or a
    status other than 200 (the connection is then reopened)."""
    import numpy as np

    port, path, clients = int(spec["port"]), str(spec["path"]), int(spec["clients"])
    bodies = _bodies(Path(spec["data"]), int(spec["rows"]), int(spec["bodies"]), spec.get("key"))
    mode = spec["mode"]
    total = int(spec.get("requests", len(bodies)))
    parse = bool(spec.get("parse"))
    lock = threading.Lock()
    state: dict[str, Any] = {"next": 0}
    routes: dict[str, int] = {}
    revisions: dict[str, float] = {}  # revision -> wall time it was first answered
    last_revision: list[tuple[float, Any]] = []
    per_thread: list[dict[str, Any]] = []
    start = time.perf_counter() + 0.2
    warm_end = start + float(spec.get("warmup_s", 0.0))
    end = warm_end + float(spec.get("window_s", 0.0))

    def worker(t: int) -> None:
        mine: dict[str, Any] = {"lat": [], "failed": 0, "ok": 0, "instances": 0, "errors": {}}
        per_thread.append(mine)
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        i = t
        while True:
            if mode == "window":
                if time.perf_counter() >= end:
                    break
                body = bodies[i % len(bodies)]
                i += clients
            else:
                with lock:
                    n = state["next"]
                    state["next"] = n + 1
                if n >= total:
                    break
                body = bodies[n % len(bodies)]
            t0 = time.perf_counter()
            try:
                conn.request("POST", path, body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                raw = response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                status, raw = -1, b""
                name = type(exc).__name__
                mine["errors"][name] = mine["errors"].get(name, 0) + 1
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=60)
            t1 = time.perf_counter()
            if status != 200:
                mine["failed"] += 1
                if status > 0:
                    mine["errors"][str(status)] = mine["errors"].get(str(status), 0) + 1
                continue
            mine["ok"] += 1
            if mode == "all" or (t0 >= warm_end and t1 <= end):
                mine["lat"].append(t1 - t0)
            if parse:
                answer = json.loads(raw)
                mine["instances"] += len(answer["predictions"])
                with lock:
                    route = str(answer["route"])
                    routes[route] = routes.get(route, 0) + 1
                    rev = str(answer["revision"])
                    if rev not in revisions:
                        revisions[rev] = time.time()
                    last_revision.append((t1, rev))
        conn.close()

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(clients)]
    while time.perf_counter() < start:
        time.sleep(0.01)
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    lat = np.array([x for m in per_thread for x in m["lat"]]) * 1000
    errors: dict[str, int] = {}
    for m in per_thread:
        for k, v in m["errors"].items():
            errors[k] = errors.get(k, 0) + v
    timed = float(spec["window_s"]) if mode == "window" else wall
    final = max(last_revision)[1] if last_revision else None
    return {
        "requests": int(lat.size),
        "ok": sum(m["ok"] for m in per_thread),
        "failed": sum(m["failed"] for m in per_thread),
        "errors": errors,
        "instances": sum(m["instances"] for m in per_thread),
        "rps": lat.size / timed if timed else 0.0,
        "p50": float(np.percentile(lat, 50)) if lat.size else None,
        "p95": float(np.percentile(lat, 95)) if lat.size else None,
        "p99": float(np.percentile(lat, 99)) if lat.size else None,
        "wall": wall,
        "routes": routes,
        "revisions": revisions,
        "final_revision": final,
    }


def start_load(
    scratch: Path, spec: dict[str, Any], name: str
) -> tuple[subprocess.Popen[str], Path]:
    spec_file = scratch / f"load-{name}.json"
    spec_file.write_text(json.dumps(spec))
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "load", str(spec_file)]
    proc = subprocess.Popen(
        command, env=_env(), stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    return proc, spec_file


def finish_load(proc: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    if proc.returncode != 0:
        raise SystemExit(f"load generator failed (exit {proc.returncode}):\n{out}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def run_load(scratch: Path, spec: dict[str, Any], name: str, timeout: float) -> dict[str, Any]:
    proc, _ = start_load(scratch, spec, name)
    return finish_load(proc, timeout)


# Servers ------------------------------------------------------------------------------------


def child_bare(ws: str, port: str) -> None:
    """The bare FastAPI server: one route, ``predict_proba`` of dcai's stored estimator."""
    import pandas as pd
    import uvicorn
    from fastapi import FastAPI, Request

    import dcai

    model = dcai.Workspace(ws).load_model(f"{MODEL}/1")
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"status": "ok"}

    async def invocations(request):  # type: ignore[no-untyped-def]
        split = json.loads(await request.body())["dataframe_split"]
        frame = pd.DataFrame(split["data"], columns=split["columns"])
        return {"predictions": model.predict_proba(frame).tolist()}

    # Annotated here, not in the signature: with `from __future__ import annotations` FastAPI
    # could not resolve a locally imported `Request` and would take it for a query parameter.
    invocations.__annotations__ = {"request": Request}
    app.post("/invocations")(invocations)

    # The settings `dcai serve` passes to uvicorn (src/dcai/cli/serve.py).
    uvicorn.run(app, host=HOST, port=int(port), log_level="warning", timeout_graceful_shutdown=10)


def child_save_mlflow(ws: str, out: str) -> dict[str, Any]:
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    import mlflow.sklearn

    import dcai

    model = dcai.Workspace(ws).load_model(f"{MODEL}/1")
    mlflow.sklearn.save_model(
        model, out, serialization_format="pickle", pyfunc_predict_fn="predict_proba"
    )
    return {"saved": out}


def mlflow_command(model_dir: str, port: int) -> list[str]:
    mlflow = str(Path(sys.executable).parent / "mlflow")
    return [
        mlflow, "models", "serve", "-m", model_dir, "--env-manager", "local",
        "--host", HOST, "--port", str(port), "--workers", "1",
    ]  # fmt: skip


def start_server(kind: str, ws: Path, scratch: Path, tag: str = "") -> Server:
    port = _free_port()
    env = _env() | OFFLINE_ENV
    # As in an activated venv: `mlflow models serve` runs `uvicorn` found on PATH.
    env["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), env.get("PATH", "")))
    if kind == "bare":
        command = [sys.executable, str(Path(__file__).resolve()), "--child", "bare", str(ws)]
        command += ["--port", str(port)]
    elif kind == "mlflow":
        command = mlflow_command(str(scratch / "mlflow-model"), port)
    else:
        command = [sys.executable, "-m", "dcai.cli.main", "-w", str(ws), "serve"]
        command += ["--port", str(port)]
    return Server(kind, command, scratch / f"server-{kind}{tag}.log", env)


# The benchmark ------------------------------------------------------------------------------


def setup(scratch: Path) -> dict[str, Any]:
    """A workspace with digits, three registered logreg versions and the deployment ``web``:
    primary digits/1, canary digits/2 at 10 %, shadow digits/3."""
    import dcai.demo

    data = scratch / "digits.csv"
    dcai.demo.digits_frame().to_csv(data, index=False)
    ws = scratch / "ws"
    subprocess.run(
        [sys.executable, "-m", "dcai.cli.main", "-w", str(ws), "init"],
        env=_env(), capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    _dcai(ws, "data", "add", MODEL, str(data), "--label", "label")
    _dcai(ws, "data", "split", MODEL)
    params = (["--param", "C=1.0"], ["--param", "C=0.5"], ["--param", "C=2.0"])
    refs = []
    for extra in params:
        run = _dcai(ws, "train", MODEL, "--n-boot", "0", *extra)["run"]
        refs.append(_dcai(ws, "models", "register", run, "--name", MODEL)["ref"])
    _dcai(ws, "deploy", "create", DEPLOYMENT, "--model", refs[0])
    _dcai(ws, "deploy", "canary", DEPLOYMENT, "--model", refs[1], "--percent", "10")
    live = _dcai(ws, "deploy", "shadow", DEPLOYMENT, "--model", refs[2])
    step = [sys.executable, str(Path(__file__).resolve()), "--child", "save-mlflow", str(ws)]
    subprocess.run(
        [*step, str(scratch / "mlflow-model")],
        env=_env(), capture_output=True, timeout=300, check=True,
    )  # fmt: skip
    return {"data": data, "ws": ws, "refs": refs, "revision": live["revision"]}


def _same_answers(servers: dict[str, Server], data: Path) -> float:
    """Largest |Δp| between the three servers' probabilities on one 100-row body."""
    import numpy as np

    body = _bodies(data, 100, 1, None)[0]
    out = {}
    for kind in ("bare", "mlflow"):
        status, answer = _post(servers[kind].port, PATHS[kind], body)
        assert status == 200, answer
        out[kind] = np.array(answer["predictions"], dtype=float)
    for i in range(1000):  # a key the canary does not take, so the primary answers
        keyed = json.loads(body)
        keyed["key"] = f"same-{i}"
        status, answer = _post(servers["dcai"].port, PATHS["dcai"], json.dumps(keyed).encode())
        assert status == 200, answer
        if answer["route"] == "primary":
            classes = sorted(answer["predictions"][0]["probabilities"], key=int)
            out["dcai"] = np.array(
                [[p["probabilities"][c] for c in classes] for p in answer["predictions"]]
            )
            break
    return float(max(np.abs(out[a] - out[b]).max() for a in out for b in out))


def _metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _count_log(ws: Path) -> dict[str, int]:
    import pyarrow.parquet as pq

    counts: dict[str, int] = {}
    for file in (ws / "logs" / "predictions").rglob("*.parquet"):
        if f"deployment={DEPLOYMENT}" not in str(file):
            continue
        for route in pq.read_table(file, columns=["route"]).column("route").to_pylist():
            counts[route] = counts.get(route, 0) + 1
    return counts


def measure(quick: bool) -> dict[str, Any]:
    sizes = dict(QUICK if quick else FULL)
    res: dict[str, Any] = {"sizes": sizes, "clients": CLIENTS}
    SCRATCH.mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="serving-", dir=SCRATCH))
    servers: dict[str, Server] = {}
    loads: list[subprocess.Popen[str]] = []
    try:
        t = time.perf_counter()
        ws_info = setup(scratch)
        data, ws = ws_info["data"], ws_info["ws"]
        res["setup_s"] = time.perf_counter() - t
        res["refs"] = ws_info["refs"]
        print(f"  workspace ready in {res['setup_s']:.1f} s: {ws_info['refs']}", flush=True)

        # The same answers from each server (all three up for this check only).
        for kind in SERVERS:
            servers[kind] = start_server(kind, ws, scratch, "-check")
        res["max_dp"] = _same_answers(servers, data)
        for kind in SERVERS:
            servers.pop(kind).stop()
        print(f"  same answers: max |dp| {res['max_dp']:.2e}", flush=True)

        # Throughput and latency: the three servers are up together and measured in turns.
        # The machine's speed drifts over minutes (other tenants), so each round measures
        # every server at each size back to back (the order rotating between rounds) and
        # the figures are medians over rounds; the targets use each round's paired ratio.
        for kind in SERVERS:
            server = start_server(kind, ws, scratch)
            servers[kind] = server
            res[f"{kind}.ready_s"] = server.ready_s
        runs: dict[str, list[dict[str, Any]]] = {f"{k}.{n}": [] for k in SERVERS for n in SIZES}
        for turn in range(sizes["rounds"]):
            order = SERVERS[turn % len(SERVERS) :] + SERVERS[: turn % len(SERVERS)]
            for rows in SIZES:
                for kind in order:
                    spec = {
                        "port": servers[kind].port, "path": PATHS[kind], "clients": CLIENTS,
                        "data": str(data), "rows": rows, "bodies": 500, "mode": "window",
                        "warmup_s": sizes["warmup_s"], "window_s": sizes["window_s"],
                        "parse": kind == "dcai",
                    }  # fmt: skip
                    budget = sizes["warmup_s"] + sizes["window_s"] + 120
                    r = run_load(scratch, spec, f"{kind}-{rows}-{turn}", timeout=budget)
                    runs[f"{kind}.{rows}"].append(r)
                    print(
                        f"  round {turn + 1} {kind:6} {rows:3} row(s): {r['rps']:8.1f} req/s"
                        f"  p50 {r['p50']:.2f} ms  p95 {r['p95']:.2f}  p99 {r['p99']:.2f}"
                        f"  failed {r['failed']}",
                        flush=True,
                    )
        for key, measured in runs.items():
            ordered = sorted(measured, key=lambda r: r["rps"])
            res[key] = ordered[len(ordered) // 2]  # the median round (its latencies too)
            res[f"{key}.runs"] = measured
        for kind in SERVERS:
            res[f"{kind}.memory"] = servers[kind].memory()
            if kind != "dcai":
                servers.pop(kind).stop()

        dcai_server = servers["dcai"]
        # The canary split over distinct keys.
        spec = {
            "port": dcai_server.port, "path": PATHS["dcai"], "clients": CLIENTS,
            "data": str(data), "rows": 1, "bodies": sizes["keys"], "mode": "all",
            "key": "user", "parse": True,
        }  # fmt: skip
        res["canary"] = run_load(scratch, spec, "canary", timeout=600)
        print(f"  canary split: {res['canary']['routes']}", flush=True)

        # A rollback and a canary change under load.
        span = sizes["rollback_s"]
        spec = {
            "port": dcai_server.port, "path": PATHS["dcai"], "clients": CLIENTS,
            "data": str(data), "rows": 1, "bodies": 500, "mode": "window",
            "warmup_s": 0.0, "window_s": span, "parse": True,
        }  # fmt: skip
        launched = time.perf_counter()
        proc, _ = start_load(scratch, spec, "rollback")
        loads.append(proc)
        # The load generator needs about a second to start; each CLI call about a second.
        time.sleep(max(0.0, launched + 1 + span / 4 - time.perf_counter()))
        rollback = _dcai(ws, "deploy", "rollback", DEPLOYMENT, "--reason", "benchmark")
        rollback_done = time.time()
        time.sleep(max(0.0, launched + 1 + span / 2 - time.perf_counter()))
        ramp = _dcai(ws, "deploy", "canary", DEPLOYMENT, "--percent", "50")
        ramp_done = time.time()
        r = finish_load(proc, timeout=span + 120)
        loads.remove(proc)
        seen = r["revisions"]
        res["rollback"] = r | {
            "from": ws_info["revision"],
            "rollback_revision": rollback["revision"],
            "ramp_revision": ramp["revision"],
            "rollback_switch_s": seen.get(str(rollback["revision"]), float("nan")) - rollback_done,
            "ramp_switch_s": seen.get(str(ramp["revision"]), float("nan")) - ramp_done,
        }
        print(
            f"  rollback under load: {r['ok']} ok, {r['failed']} failed, revisions "
            f"{sorted(seen, key=int)}, final {r['final_revision']}",
            flush=True,
        )
        servers.pop("dcai").stop()

        # The prediction log: a fresh server, a clean log, SIGTERM, count.
        _dcai(ws, "deploy", "canary", DEPLOYMENT, "--percent", "10")
        _dcai(ws, "deploy", "shadow", DEPLOYMENT, "--model", ws_info["refs"][2])
        shutil.rmtree(ws / "logs", ignore_errors=True)
        server = start_server("dcai", ws, scratch, "-log")
        servers["dcai-log"] = server
        spec = {
            "port": server.port, "path": PATHS["dcai"], "clients": CLIENTS,
            "data": str(data), "rows": sizes["log_rows"], "bodies": 500,
            "requests": sizes["log_requests"], "mode": "all", "parse": True,
        }  # fmt: skip
        r = run_load(scratch, spec, "log", timeout=1200)
        metrics = _get(server.port, "/metrics")[1].decode()
        dropped = _metric(metrics, "dcai_log_dropped_rows_total")
        memory = server.memory()
        t = time.perf_counter()
        code = servers.pop("dcai-log").stop(signal.SIGTERM, timeout=120)
        stop_s = time.perf_counter() - t
        counts = _count_log(ws)
        res["log"] = r | {
            "dropped": dropped,
            "exit": code,
            "stop_s": stop_s,
            "counts": counts,
            "memory": memory,
        }
        print(
            f"  log: {r['instances']:,} acknowledged instances, logged {counts}, "
            f"dropped {dropped:g}, exit {code}, stopped in {stop_s:.1f} s",
            flush=True,
        )
    finally:
        for proc in loads:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
        for server in servers.values():
            server.stop(timeout=15)
        shutil.rmtree(scratch, ignore_errors=True)
    return res


# The section --------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _ms(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f} ms"


def targets(res: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(target, measured, met) of each issue-8 target."""
    out = []
    for rows in SIZES:
        bare_runs, mlf_runs = res[f"bare.{rows}.runs"], res[f"mlflow.{rows}.runs"]
        dc_runs = res[f"dcai.{rows}.runs"]
        rounds = len(dc_runs)
        shares = [
            d["rps"] / b["rps"] if b["rps"] else 0.0
            for d, b in zip(dc_runs, bare_runs, strict=True)
        ]
        extras = [d["p50"] - b["p50"] for d, b in zip(dc_runs, bare_runs, strict=True)]
        vs_all = [
            d["rps"] / m["rps"] if m["rps"] else 0.0 for d, m in zip(dc_runs, mlf_runs, strict=True)
        ]
        share, extra, vs = _median(shares), _median(extras), _median(vs_all)
        each = "; ".join
        out.append(
            (
                f"{rows}-row requests: dcai ≥ {TARGET_THROUGHPUT:.0%} of bare FastAPI's requests/s",
                f"{share:.0%} (median of {rounds} rounds: {each(f'{x:.0%}' for x in shares)})",
                share >= TARGET_THROUGHPUT,
            )
        )
        out.append(
            (
                f"{rows}-row requests: dcai p50 ≤ bare FastAPI's + {TARGET_P50_MS:.0f} ms",
                f"{extra:+.2f} ms (median of {rounds} rounds: {each(f'{x:+.2f}' for x in extras)})",
                extra <= TARGET_P50_MS,
            )
        )
        out.append(
            (
                f"{rows}-row requests: dcai ≥ {TARGET_VS_MLFLOW:.0f}× `mlflow models serve`'s "
                "requests/s",
                f"{vs:.2f}× (median of {rounds} rounds: {each(f'{x:.2f}×' for x in vs_all)})",
                vs >= TARGET_VS_MLFLOW,
            )
        )
    canary = res["canary"]
    n = sum(canary["routes"].values())
    pct = 100 * canary["routes"].get("canary", 0) / n if n else 0.0
    out.append(
        (
            f"canary share over {res['sizes']['keys']:,} distinct keys within "
            f"{TARGET_CANARY:.0f} % ± {TARGET_CANARY_TOL:.0f} %",
            f"{pct:.2f} % ({canary['routes'].get('canary', 0):,} of {n:,}; "
            f"{canary['failed']} failed)",
            abs(pct - TARGET_CANARY) <= TARGET_CANARY_TOL
            and canary["failed"] == 0
            and n == res["sizes"]["keys"],
        )
    )
    rb = res["rollback"]
    out.append(
        (
            "zero failed requests across a rollback and a canary change under load, and the new "
            "revision served",
            f"{rb['failed']} failed of {rb['ok'] + rb['failed']:,}; last answers from revision "
            f"{rb['final_revision']} (expected {rb['ramp_revision']})",
            rb["failed"] == 0 and str(rb["final_revision"]) == str(rb["ramp_revision"]),
        )
    )
    log = res["log"]
    logged = sum(v for k, v in log["counts"].items() if k != "shadow")
    out.append(
        (
            f"{TARGET_LOG_ROWS:,} logged rows, none lost (logged primary + canary rows = "
            "acknowledged instances, no dropped rows)",
            f"{logged:,} logged of {log['instances']:,} acknowledged; {log['dropped']:g} dropped",
            logged == log["instances"]
            and log["dropped"] == 0
            and log["failed"] == 0
            and logged >= TARGET_LOG_ROWS,
        )
    )
    return out


def render(res: dict[str, Any], quick: bool, command: str) -> str:
    sizes = res["sizes"]
    vs = package_versions(("dcai", "fastapi", "uvicorn", "mlflow", "scikit-learn", "pandas"))
    env = ", ".join(f"{k} {v}" for k, v in vs.items())
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    note = " — **quick run, small counts**" if quick else ""
    rows = []
    for kind in SERVERS:
        for n in SIZES:
            r = res[f"{kind}.{n}"]
            each = ", ".join(f"{x['rps']:,.0f}" for x in res[f"{kind}.{n}.runs"])
            failed = sum(x["failed"] for x in res[f"{kind}.{n}.runs"])
            rows.append(
                f"| {NAMES[kind]} | {n} | {r['rps']:,.0f} | {each} | {r['rps'] * n:,.0f} | "
                f"{_ms(r['p50'])} | {_ms(r['p95'])} | {_ms(r['p99'])} | {r['requests']:,} | "
                f"{failed} |"
            )
    mem = []
    for kind in SERVERS:
        m = res[f"{kind}.memory"]
        mem.append(
            f"| {NAMES[kind]} | {mb(m['largest'])} | {m['processes']} | {mb(m['total'])} | "
            f"{res[f'{kind}.ready_s']:.1f} s |"
        )
    canary = res["canary"]
    n_keys = sum(canary["routes"].values())
    rb, log = res["rollback"], res["log"]
    shadow = log["counts"].get("shadow", 0)
    logged = sum(v for k, v in log["counts"].items() if k != "shadow")
    mlflow_cmd = " ".join(mlflow_command("DIR", 5000)).replace(
        str(Path(sys.executable).parent / "mlflow"), "mlflow"
    )
    # uvicorn's "auto" HTTP and loop choices take httptools and uvloop when they import (they
    # come with uvicorn[standard], which evidently pulls into .venv-bench); all three servers
    # run in this environment.
    from importlib.util import find_spec

    http_impl = "httptools" if find_spec("httptools") else "h11"
    loop_impl = "uvloop" if find_spec("uvloop") else "asyncio"
    installed = [m for m in ("httptools", "uvloop") if find_spec(m)]
    stack = (
        "uvicorn runs on its pure-Python stack (h11, asyncio) in all three servers: neither "
        "httptools nor uvloop is installed."
        if not installed
        else f'uvicorn\'s "auto" choice is {http_impl} for HTTP and {loop_impl} for the event '
        f"loop in all three servers ({' and '.join(installed)} installed in the benchmark "
        "environment)."
    )
    lines = [
        SECTION,
        "",
        f"Measured {when} on {machine()}{note}; {env}. {stack}",
        "",
        f"Command: `{command}`.",
        "",
        "**Method.** One workspace (in a temporary folder, deleted afterwards): scikit-learn's "
        "digits (1,797 × 64) from `dcai.demo.digits_frame()`, `dcai data add` + `dcai data "
        "split`, three `dcai train` runs (logreg, C = 1, 0.5 and 2) registered as "
        f"{', '.join(res['refs'])}; `dcai deploy create web --model {res['refs'][0]}`, "
        f"`dcai deploy canary web --model {res['refs'][1]} --percent 10`, "
        f"`dcai deploy shadow web --model {res['refs'][2]}` (a shadow must differ from the "
        "primary; it runs after each response, in the same process, and its answers are "
        "logged too). The **same fitted estimator**, "
        f'`ws.load_model("{res["refs"][0]}")`, is served three ways, each in its own process '
        "on 127.0.0.1 with one uvicorn worker and every outbound proxy pointed at a closed port "
        "(no network): *bare FastAPI* — one `async` route that does `json.loads`, builds a "
        "DataFrame and returns `model.predict_proba(frame).tolist()`, run with "
        '`uvicorn.run(app, host, port, log_level="warning", timeout_graceful_shutdown=10)` '
        "exactly as `dcai serve` runs its app; *MLflow* — the estimator saved by "
        '`mlflow.sklearn.save_model(model, DIR, serialization_format="pickle", '
        'pyfunc_predict_fn="predict_proba")` (pickle only here, in the benchmark environment) '
        f"and served by `{mlflow_cmd}`, which runs "
        "`uvicorn --workers 1 mlflow.pyfunc.scoring_server.app:app` as a child process with "
        "uvicorn's defaults (log level info, access log on, written to a file); *dcai* — "
        "`dcai serve --port P` (canary 10 %, shadow, prediction log on), "
        f"`POST /v1/deployments/web/predict`. Largest difference between the three servers' "
        f"probabilities on one 100-row request: {res['max_dp']:.1e}. Every request body is "
        'MLflow\'s `{"dataframe_split": {"columns", "data"}}` (digits rows, integers), '
        "which all three accept. The load generator is a separate process with "
        f"{res['clients']} threads, each holding one keep-alive `http.client` connection and "
        f"sending its next request as soon as the last is answered; {sizes['warmup_s']:g} s of "
        f"warm-up, then a {sizes['window_s']:g} s window in which every request that starts "
        "and ends is timed (latency = client-side round trip). A request fails on a connection "
        "error or a status other than 200. The machine has 2 cores: the load generator and the "
        "server share them, so these are figures of the whole loop on one small machine, not "
        "of the server alone. The three servers are up together (idle ones take no requests) "
        f"and are measured in {sizes['rounds']} rounds; each round measures every server at "
        "each size back to back, the order rotating between rounds, because this machine's "
        "speed drifts over minutes. The table shows the median round of each server and size "
        "(its latencies with it) and every round's requests/s; the targets take each round's "
        "dcai-to-peer ratio (or p50 difference) and report the median. Peak memory is VmHWM "
        "from `/proc/PID/status` after all rounds.",
        "",
        "### Requests/s and latency",
        "",
        "| server | rows/request | requests/s (median round) | each round | rows/s | p50 | p95 "
        "| p99 | timed requests | failed (all rounds) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "| server | peak RSS (serving process) | processes | peak RSS, all | ready after |",
        "|---|---:|---:|---:|---:|",
        *mem,
        "",
        "### Canary split, rollback under load, the prediction log",
        "",
        f"- Canary split: {n_keys:,} one-row requests, each with a distinct key (`user-0` … "
        f"`user-{sizes['keys'] - 1}`): {canary['routes'].get('canary', 0):,} answered by the "
        f"canary = {100 * canary['routes'].get('canary', 0) / max(n_keys, 1):.2f} % "
        f"(target 10 %); {canary['failed']} failed; {canary['rps']:,.0f} requests/s.",
        f"- Rollback under load: {res['clients']} clients sent one-row requests for "
        f"{sizes['rollback_s']:g} s; after a quarter of it `dcai deploy rollback web` (revision "
        f"{rb['from']} → {rb['rollback_revision']}, which drops the shadow), after half of it "
        f"`dcai deploy canary web --percent 50` (revision {rb['ramp_revision']}), both from the "
        f"CLI in another process. {rb['ok']:,} answered, {rb['failed']} failed; revisions "
        f"answered: {', '.join(sorted(rb['revisions'], key=int))}; the first answer from the "
        f"rollback's revision came {rb['rollback_switch_s']:+.2f} s and from the canary "
        f"change's {rb['ramp_switch_s']:+.2f} s relative to the CLI process returning "
        "(negative: the server, which polls every 0.25 s, switched before the CLI had exited); "
        f"the last answers came from revision {rb['final_revision']}.",
        f"- Prediction log: a fresh `dcai serve` (canary 10 %, shadow) and an empty log; "
        f"{log['ok']:,} requests of {sizes['log_rows']} rows ({log['instances']:,} acknowledged "
        f"instances, {log['failed']} failed, {log['rps']:,.0f} requests/s = "
        f"{log['rps'] * sizes['log_rows']:,.0f} rows/s), then SIGTERM (exit status {log['exit']}: uvicorn "
        f"re-raises the signal after its graceful shutdown; "
        f"stopped in {log['stop_s']:.1f} s). Rows under `WS/logs/predictions/deployment=web/` "
        f"read with pyarrow: {logged:,} primary + canary rows "
        f"({log['counts'].get('primary', 0):,} primary, {log['counts'].get('canary', 0):,} "
        f"canary) and {shadow:,} shadow rows (the shadow answers the same instances after each "
        f"response; they are not counted as acknowledged); `dcai_log_dropped_rows_total` "
        f"before the SIGTERM: {log['dropped']:g}. Server peak RSS: "
        f"{mb(log['memory']['largest'])}.",
        "",
        *target_lines(targets(res), "Targets (issue 8, on the 2-core machine):"),
        "",
        MLFLOW_NOTE,
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, for development")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--json", help="also write the raw figures to this file")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        step, *rest = args.child
        if step == "bare":
            child_bare(rest[0], rest[2])
            return 0
        if step == "load":
            out = child_load(json.loads(Path(rest[0]).read_text()))
        elif step == "save-mlflow":
            out = child_save_mlflow(rest[0], rest[1])
        else:
            raise SystemExit(f"unknown step {step!r}")
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
        os._exit(0)
    res = measure(args.quick)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2), encoding="utf-8")
    command = command_shown("serving.py", argv)
    section = render(res, args.quick, command)
    write_section(Path(args.out), SECTION, section)
    print(section)
    return report_targets(targets(res), check=args.check)


if __name__ == "__main__":
    raise SystemExit(main())
