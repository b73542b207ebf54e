"""End to end: several real ``dcai`` processes on one workspace, and processes killed mid-add.

Writers queue on SQLite's write lock; one that waits longer than ``DCAI_LOCK_TIMEOUT``
must exit 75 with a one-line "try again" error and change nothing visible. A process
killed with SIGKILL at any point of ``data add`` must leave either no new version or a
complete, readable one, and never a half-written object under a real name.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import dcai
from tests.conftest import CliResult, run_dcai

pytestmark = pytest.mark.slow

EXIT_BUSY = 75

# Imports dcai first (the slow part), says it is ready, then waits for the barrier file,
# so that every process starts its command within a few milliseconds of the others.
_LAUNCHER = """
import os, sys, time
from dcai.cli.main import main
ready, barrier = sys.argv[1], sys.argv[2]
open(ready, "w").close()
deadline = time.monotonic() + 120
while not os.path.exists(barrier):
    if time.monotonic() > deadline:
        sys.exit("barrier never came")
    time.sleep(0.002)
main(sys.argv[3:])
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DCAI_")}
    env["DCAI_AUTHOR"] = "tester"
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


def _argv(ws: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "dcai.cli.main", "--workspace", str(ws), *args]


def _popen(argv: Sequence[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _finish(proc: subprocess.Popen[str], timeout: float = 120) -> CliResult:
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        pytest.fail(f"dcai did not finish in {timeout}s: {stderr}")
    return CliResult(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))


def run_together(tmp_path: Path, commands: list[list[str]], env: dict[str, str]) -> list[CliResult]:
    """Start every command (``dcai`` arguments) in its own process and release them at once."""
    sync = tmp_path / "sync"
    sync.mkdir()
    barrier = sync / "go"
    procs = [
        _popen([sys.executable, "-c", _LAUNCHER, str(sync / f"ready{i}"), str(barrier), *cmd], env)
        for i, cmd in enumerate(commands)
    ]
    deadline = time.monotonic() + 90
    while sum((sync / f"ready{i}").exists() for i in range(len(procs))) < len(procs):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            for p in procs:
                p.kill()
            pytest.fail("the processes did not all get ready")
        time.sleep(0.01)
    barrier.touch()
    return [_finish(p) for p in procs]


def ok_json(result: CliResult) -> Any:
    assert result.returncode == 0, result
    return json.loads(result.stdout)


def assert_busy(result: CliResult) -> None:
    """Exit 75 and one retryable error line, no traceback."""
    assert result.returncode == EXIT_BUSY, result
    assert "Traceback" not in result.stderr, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result
    assert lines[0].startswith("error: the workspace is busy"), result
    assert "try again" in lines[0], result


def data_objects(ws: Path) -> list[Path]:
    return sorted((ws / "objects" / "sha256").rglob("*.parquet"))


def assert_objects_intact(ws: Path) -> None:
    """Every stored object is complete: its bytes hash to its name."""
    for path in data_objects(ws):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert path.name == f"{digest}.parquet", f"{path} is damaged"


@contextmanager
def write_lock_held(ws: Path) -> Iterator[None]:
    """Hold the workspace's SQLite write lock, as a long transaction in another process would."""
    with closing(sqlite3.connect(ws / "metadata.db", isolation_level=None, timeout=30)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")


def make_frame(seed: int, rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x1": rng.normal(size=rows).round(5),
            "x2": rng.integers(0, 1000, size=rows),
            "colour": rng.choice(["red", "green", "blue"], size=rows),
            "label": rng.choice(["cat", "dog", "bird"], size=rows),
        }
    )


def assert_export_matches(ws: Path, ref: str, source: Path, out: Path) -> None:
    ok_json(run_dcai("data", "export", ref, str(out), "--json", workspace=ws))
    assert_same_rows(pd.read_parquet(out), pd.read_csv(source))


def assert_same_rows(stored: pd.DataFrame, source: pd.DataFrame) -> None:
    assert stored["example_id"].is_unique
    pd.testing.assert_frame_equal(
        stored.drop(columns=["example_id"]).reset_index(drop=True),
        source.reset_index(drop=True),
        check_dtype=False,
    )


# Several writers at once -----------------------------------------------------------


@dataclass
class Added:
    source: Path
    result: CliResult


@pytest.mark.parametrize("lock_timeout", [None, "0"], ids=["default-timeout", "no-waiting"])
def test_concurrent_adds_of_different_content(tmp_path: Path, lock_timeout: str | None) -> None:
    ws = tmp_path / "ws"
    dcai.Workspace(ws).close()
    n = 4
    sources = []
    for i in range(n):
        path = tmp_path / f"part{i}.csv"
        make_frame(i, 3000).to_csv(path, index=False)
        sources.append(path)
    env = _env(**({"DCAI_LOCK_TIMEOUT": lock_timeout} if lock_timeout is not None else {}))
    commands = [
        ["--workspace", str(ws), "data", "add", "ds", str(p), "--json", "-m", f"part {i}"]
        for i, p in enumerate(sources)
    ]

    added = [
        Added(s, r) for s, r in zip(sources, run_together(tmp_path, commands, env), strict=True)
    ]

    succeeded = [a for a in added if a.result.returncode == 0]
    for a in added:
        if a.result.returncode != 0:
            assert_busy(a.result)
    if lock_timeout is None:
        # Commits take milliseconds; nobody should wait anywhere near the 30 s default.
        assert len(succeeded) == n, [a.result for a in added]
    assert succeeded, [a.result for a in added]
    outputs = [json.loads(a.result.stdout) for a in succeeded]
    assert all(o["new"] for o in outputs)
    assert len({o["id"] for o in outputs}) == len(outputs)

    log = ok_json(run_dcai("data", "log", "ds", "--json", workspace=ws))
    assert sorted(v["ref"] for v in log) == sorted(o["ref"] for o in outputs)
    assert sorted(v["seq"] for v in log) == list(range(1, len(outputs) + 1))
    # Lineage stays one chain: each version's parent is the version committed just before it.
    chain = sorted(log, key=lambda v: v["seq"])
    assert [v["parents"] for v in chain] == [[]] + [[prev["ref"]] for prev in chain[:-1]]
    by_ref = {v["ref"]: v for v in log}
    for a, o in zip(succeeded, outputs, strict=True):
        assert by_ref[o["ref"]]["rows"] == 3000
        assert by_ref[o["ref"]]["message"] == f"part {sources.index(a.source)}"
    listing = ok_json(run_dcai("data", "list", "--json", workspace=ws))
    assert [(d["name"], d["versions"]) for d in listing] == [("ds", len(outputs))]
    assert listing[0]["latest"] == max(log, key=lambda v: v["seq"])["ref"]

    # Each version reads back exactly as added (exports run in parallel to save time).
    exports = [tmp_path / f"export{i}.parquet" for i in range(len(outputs))]
    procs = [
        _popen(_argv(ws, "data", "export", o["ref"], str(out)), _env())
        for o, out in zip(outputs, exports, strict=True)
    ]
    for proc in procs:
        assert _finish(proc).returncode == 0
    for a, out in zip(succeeded, exports, strict=True):
        assert_same_rows(pd.read_parquet(out), pd.read_csv(a.source))
    assert_objects_intact(ws)


def test_concurrent_adds_of_the_same_content_make_one_version(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    dcai.Workspace(ws).close()
    source = tmp_path / "same.csv"
    make_frame(42, 20000).to_csv(source, index=False)
    commands = [["--workspace", str(ws), "data", "add", "ds", str(source), "--json"]] * 3

    results = run_together(tmp_path, commands, _env())

    outputs = [ok_json(r) for r in results]
    assert len({o["id"] for o in outputs}) == 1
    assert sum(o["new"] for o in outputs) == 1, outputs
    log = ok_json(run_dcai("data", "log", "ds", "--json", workspace=ws))
    assert [(v["seq"], v["id"]) for v in log] == [(1, outputs[0]["id"])]
    # Content-addressed: however many processes wrote it, the data is stored once.
    assert len(data_objects(ws)) == 1
    assert_objects_intact(ws)
    assert_export_matches(ws, outputs[0]["ref"], source, tmp_path / "out.parquet")


def test_writer_that_cannot_get_the_lock_exits_75_and_can_retry(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    with dcai.Workspace(ws) as workspace:
        workspace.add_dataset("ds", make_frame(1, 100))
    source = tmp_path / "next.csv"
    make_frame(2, 500).to_csv(source, index=False)
    before = ok_json(run_dcai("data", "log", "ds", "--json", workspace=ws))

    env = _env(DCAI_LOCK_TIMEOUT="0.2")
    with write_lock_held(ws):
        procs = [
            _popen(_argv(ws, "data", "add", name, str(source), "--json"), env)
            for name in ("ds", "other")
        ]
        results = [_finish(p) for p in procs]
        # Reads go on while a writer holds the lock (WAL).
        during = ok_json(run_dcai("data", "log", "ds", "--json", workspace=ws, env=env))

    for result in results:
        assert_busy(result)
    assert during == before
    assert [d["name"] for d in ok_json(run_dcai("data", "list", "--json", workspace=ws))] == ["ds"]
    assert_objects_intact(ws)

    retried = ok_json(run_dcai("data", "add", "ds", str(source), "--json", workspace=ws, env=env))
    assert retried["new"] is True
    log = ok_json(run_dcai("data", "log", "ds", "--json", workspace=ws))
    assert [v["seq"] for v in log] == [2, 1]
    assert_export_matches(ws, retried["ref"], source, tmp_path / "out.parquet")


# kill -9 in the middle of an add -------------------------------------------------------

BIG_ROWS = 150_000


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.csv"
    make_frame(123, BIG_ROWS).to_csv(path, index=False)
    return path


def _workspace_with_baseline(path: Path) -> tuple[Path, list[dict[str, Any]]]:
    with dcai.Workspace(path) as workspace:
        workspace.add_dataset("big", make_frame(9, 50), message="baseline")
    return path, ok_json(run_dcai("data", "log", "big", "--json", workspace=path))


def _wait_for(condition: Any, proc: subprocess.Popen[str], timeout: float = 60) -> bool:
    """Poll ``condition()`` every millisecond; False if the process ended first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            return False
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("timed out waiting for the add to reach the point of the kill")
        time.sleep(0.001)
    return True


def _kill(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    return proc.returncode


def _assert_only_baseline(ws: Path, baseline: list[dict[str, Any]]) -> None:
    assert ok_json(run_dcai("data", "log", "big", "--json", workspace=ws)) == baseline
    listing = ok_json(run_dcai("data", "list", "--json", workspace=ws))
    assert [(d["name"], d["versions"], d["latest"]) for d in listing] == [
        ("big", 1, baseline[0]["ref"])
    ]


def _readd_and_check(ws: Path, source: Path, seq: int) -> None:
    again = ok_json(run_dcai("data", "add", "big", str(source), "--json", workspace=ws))
    assert again["new"] is True and again["rows"] == BIG_ROWS
    log = ok_json(run_dcai("data", "log", "big", "--json", workspace=ws))
    assert [v["seq"] for v in log] == list(range(seq, 0, -1))
    assert log[0]["ref"] == again["ref"]
    _assert_reads_back(ws, again["ref"], source)
    assert_objects_intact(ws)


def _assert_reads_back(ws: Path, ref: str, source: Path) -> None:
    with dcai.Workspace(ws, create=False) as workspace:
        assert_same_rows(workspace.data.version(ref).to_pandas(), pd.read_csv(source))


def test_kill_between_object_write_and_commit(tmp_path: Path, big_csv: Path) -> None:
    """Deterministic: the test holds the write lock, so the add stops right before its commit."""
    ws, baseline = _workspace_with_baseline(tmp_path / "ws")
    objects_before = set(data_objects(ws))

    with write_lock_held(ws):
        proc = _popen(_argv(ws, "data", "add", "big", str(big_csv), "--json"), _env())
        reached = _wait_for(lambda: set(data_objects(ws)) - objects_before, proc)
        assert reached, _finish(proc)
        time.sleep(0.3)  # now waiting on BEGIN IMMEDIATE
        assert _kill(proc) == -signal.SIGKILL

    # The object was written, the version was not: an unreferenced object, nothing visible.
    assert len(set(data_objects(ws)) - objects_before) == 1
    _assert_only_baseline(ws, baseline)
    assert_objects_intact(ws)
    _readd_and_check(ws, big_csv, seq=2)


def test_kill_during_object_write(tmp_path: Path, big_csv: Path) -> None:
    ws, baseline = _workspace_with_baseline(tmp_path / "ws")
    staging = ws / "objects" / "tmp"

    proc = _popen(_argv(ws, "data", "add", "big", str(big_csv), "--json"), _env())
    # The object is written to a temporary file first: kill as soon as it appears.
    reached = _wait_for(lambda: staging.is_dir() and any(staging.iterdir()), proc)
    assert reached, _finish(proc)
    code = _kill(proc)

    log = ok_json(run_dcai("data", "log", "big", "--json", workspace=ws))
    assert_objects_intact(ws)
    if len(log) == 1:
        assert code == -signal.SIGKILL
        _assert_only_baseline(ws, baseline)
        _readd_and_check(ws, big_csv, seq=2)
    else:  # the machine was slow to deliver the kill: the add finished, and completely
        assert [v["seq"] for v in log] == [2, 1]
        _assert_reads_back(ws, log[0]["ref"], big_csv)


def test_kill_at_several_moments(tmp_path: Path, big_csv: Path) -> None:
    """Plain timing: kill after delays spread over a full add; each outcome must be clean."""
    ws, baseline = _workspace_with_baseline(tmp_path / "ws")
    # Measure one full add (in a scratch workspace) to spread the delays over it.
    scratch = tmp_path / "scratch"
    dcai.Workspace(scratch).close()
    started = time.monotonic()
    ok_json(run_dcai("data", "add", "big", str(big_csv), "--json", workspace=scratch))
    duration = time.monotonic() - started

    header, body = big_csv.read_text().split("\n", 1)
    sources: dict[int, Path] = {}
    outcomes: dict[int, int] = {}
    for k, fraction in enumerate((0.3, 0.55, 0.7, 0.85, 1.0), start=1):
        # A different file each time (k extra rows), so earlier attempts cannot help later ones.
        source = tmp_path / f"big{k}.csv"
        extra = "".join(f"{1000 + i}.5,{i},red,cat\n" for i in range(k))
        source.write_text(f"{header}\n{body}{extra}")
        sources[BIG_ROWS + k] = source
        proc = _popen(_argv(ws, "data", "add", "big", str(source), "--json"), _env())
        time.sleep(fraction * duration)
        outcomes[k] = _kill(proc)

    assert_objects_intact(ws)
    log = ok_json(run_dcai("data", "log", "big", "--json", workspace=ws))
    assert log[-1] == baseline[0]
    assert sorted(v["seq"] for v in log) == list(range(1, len(log) + 1))
    committed = log[:-1]
    assert len({v["rows"] for v in committed}) == len(committed)
    listing = ok_json(run_dcai("data", "list", "--json", workspace=ws))
    assert [(d["name"], d["versions"]) for d in listing] == [("big", len(log))]
    # Every committed version is complete and reads back as its file.
    for version in committed:
        _assert_reads_back(ws, version["ref"], sources[version["rows"]])
    # A version that a killed process did not commit can be added now.
    missing = sorted(set(sources) - {v["rows"] for v in committed})
    if missing:
        again = ok_json(
            run_dcai("data", "add", "big", str(sources[missing[0]]), "--json", workspace=ws)
        )
        assert again["new"] is True and again["rows"] == missing[0]
        _assert_reads_back(ws, again["ref"], sources[missing[0]])
    # Outcomes are reported for the record when a run is investigated.
    print("kill outcomes (return codes by attempt):", outcomes, "full add took", duration)
