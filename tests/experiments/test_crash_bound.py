"""The documented crash-loss bound: a ``kill -9`` loses at most the values logged in the last
second and never more than ``MAX_UNFLUSHED_VALUES`` values (docs/runs.md).

A real child process logs one metric in a tight loop, appending ``COUNT TIME`` to a side file
every ``REPORT_EVERY`` values, and is killed with SIGKILL; the test then counts what the
workspace holds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import dcai
from dcai.experiments import runs
from dcai.experiments.query import metric_history

REPORT_EVERY = 1_000
#: How long the child logs before the kill.
LOGGING_S = 3.0
#: The longest the child may log before the kill on a slow machine.
MAX_WAIT_S = 30.0
#: The documented time bound (docs/runs.md: "the values logged in the last second").
BOUND_S = 1.0
#: Extra time allowed on a slow, shared CI machine before a value must be on disk.
SLACK_S = 0.75

_CHILD = textwrap.dedent(
    """
    import os, sys, time
    import dcai
    ws = dcai.Workspace(sys.argv[1])
    run = ws.start_run(experiment="crash", capture_code=False)
    fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    print(run.id, flush=True)
    log, clock, every = run.log_metric, time.time, int(sys.argv[3])
    count = 0
    while True:
        log("m", 0.5)
        count += 1
        if count % every == 0:
            os.write(fd, f"{count} {clock()}\\n".encode())
    """
)


def _reports(path: Path) -> list[tuple[int, float]]:
    """``(count logged, time)`` pairs; a line cut short by the kill is skipped."""
    pairs = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                pairs.append((int(parts[0]), float(parts[1])))
            except ValueError:
                continue
    return pairs


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_hard_kill_loses_at_most_the_documented_values(tmp_path: Path) -> None:
    ws_path = tmp_path / "ws"
    dcai.Workspace(ws_path).close()
    side = tmp_path / "logged.txt"
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(ws_path), str(side), str(REPORT_EVERY)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        assert run_id, proc.stderr.read() if proc.stderr else ""
        # Log for LOGGING_S, and on a slow or busy machine longer, until the cap on unwritten
        # values can be reached at all (at most MAX_WAIT_S).
        started = time.time()
        while time.time() - started < MAX_WAIT_S:
            time.sleep(0.25)
            reports = _reports(side) if side.exists() else []
            enough = bool(reports) and reports[-1][0] > 2 * runs.MAX_UNFLUSHED_VALUES
            if time.time() - started >= LOGGING_S and enough:
                break
        killed_at = time.time()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)

    reports = _reports(side)
    assert reports, "the child logged nothing"
    last = reports[-1][0]
    # The child logged at least ``last`` values and fewer than ``last + REPORT_EVERY``.
    assert last > runs.MAX_UNFLUSHED_VALUES, f"only {last} values logged: too slow to test"

    ws = dcai.Workspace(ws_path)
    try:
        assert ws.runs.get(run_id)["status"] == "CRASHED"
        stored = len(metric_history(ws, run_id, "m"))
    finally:
        ws.close()

    most_lost = last + REPORT_EVERY - stored
    assert most_lost <= runs.MAX_UNFLUSHED_VALUES, (
        f"logged {last}..{last + REPORT_EVERY}, stored {stored}: lost up to {most_lost}, "
        f"more than {runs.MAX_UNFLUSHED_VALUES}"
    )
    deadline = killed_at - BOUND_S - SLACK_S
    due = max((count for count, at in reports if at <= deadline), default=0)
    assert stored >= due, (
        f"{due} values were logged more than {BOUND_S + SLACK_S} s before the kill; "
        f"only {stored} stored"
    )
