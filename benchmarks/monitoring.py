"""Monitoring benchmark (issue 9): one window of 1,000,000 logged predictions.

Usage::

    .venv-bench/bin/python benchmarks/monitoring.py [--quick] [--check] [--out BENCHMARKS.md]

A workspace (in ``benchmarks/.work/``, deleted afterwards) holds a tabular data set of 20,000
rows — 15 numeric and 5 categorical features, the same shape as the drift benchmark — split,
trained (``logreg``), registered and deployed. Then the prediction log gets N = 1,000,000
answers of that model (``--quick``: 100,000), one hour of traffic, written by the server's own
log writer (:class:`dcai.deploy.prediction_log.PartitionedLog`): inputs as the JSON the server
logs, real probabilities, 10 % with a feedback label, and a mean shift of 0.5 SD in 3 numeric
columns. Each measured step runs in a fresh process: ``ws.monitor(NAME, window="1h")`` — read
the logs with DuckDB, fit the reference, measure the window (software, input, output,
performance metrics and the drift test of 20 columns), store it — timed in-process, the first
pass and a second one; and ``dcai monitor NAME --window 1h --json`` as a user runs it (wall
time of the whole command, Python start-up included). Peak RSS is the step process's.

Target (issue 9, 2-core machine): monitoring one window of 1M logged predictions ≤ 5 s.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import (
    command_shown,
    dispatch_child,
    machine,
    mb,
    peak_rss_bytes,
    report_targets,
    run_step,
    target_lines,
    versions,
    write_section,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCRATCH = HERE / ".work" / "monitoring"
SECTION = "## Monitoring a deployment (issue 9)"
DEPLOYMENT = "bench"
NUMERIC, CATEGORICAL = 15, 5
TRAIN_ROWS = 20_000
TARGET_SECONDS = 5.0
START = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def _frame(n: int, seed: int, shift: bool = False) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {}
    for i in range(NUMERIC):
        values = rng.normal(0.0, 1.0, n)
        if shift and i < 3:
            values = values + 0.5
        data[f"x{i:02d}"] = values.round(4)
    for i in range(CATEGORICAL):
        data[f"c{i}"] = rng.choice(["a", "b", "c", "d", "e"], n, p=[0.4, 0.25, 0.15, 0.1, 0.1])
    frame = pd.DataFrame(data)
    score = frame["x00"] + 0.5 * frame["x01"] - 0.5 * frame["x02"] + (frame["c0"] == "a")
    frame["label"] = np.where(score + rng.normal(0, 0.5, n) > 0.5, "yes", "no")
    return frame


def child_build(args: list[str]) -> dict[str, Any]:
    """Workspace, model, deployment, and N logged answers (not timed as a target)."""
    import numpy as np

    import dcai
    from dcai.deploy._models import load_pinned
    from dcai.deploy.prediction_log import (
        FEEDBACK_FIELDS,
        PartitionedLog,
        feedback_log_dir,
        inputs_json,
        prediction_log_dir,
        to_json,
    )

    ws_path, n = Path(args[0]), int(args[1])
    started = time.perf_counter()
    with dcai.Workspace(ws_path) as ws:
        ws.data.add("tab", _frame(TRAIN_ROWS, 0), label="label")
        ws.data.split("tab", dev=0.2, test=0.0, seed=0)
        run = ws.runs.train("tab", n_boot=0, capture_code=False)
        ws.models.register(run.run, name="tab")
        ws.deployments.create(DEPLOYMENT, model="tab/1")
        model = load_pinned(ws.stores, "tab/1")
    traffic = _frame(n, 1, shift=True)
    features = model.features
    probs = model.predict(traffic[features])
    classes = [str(c) for c in model.classes]
    best = probs.argmax(axis=1)
    records = traffic[features].to_dict(orient="records")
    log = PartitionedLog(prediction_log_dir(ws_path), batch_rows=100_000)
    feedback = PartitionedLog(feedback_log_dir(ws_path), FEEDBACK_FIELDS, batch_rows=100_000)
    rng = np.random.default_rng(2)
    step = 3600.0 / n
    batch: list[dict[str, Any]] = []
    for i, record in enumerate(records):
        at = (START + timedelta(seconds=i * step)).isoformat(timespec="microseconds")
        request_id = f"{i:032x}"
        row = probs[i]
        label = classes[int(best[i])]
        batch.append(
            {
                "request_id": request_id,
                "index": 0,
                "time": at,
                "deployment": DEPLOYMENT,
                "revision": 1,
                "route": "primary",
                "model_version": "tab/1",
                "inputs": inputs_json(record),
                "label": to_json(label),
                "confidence": float(row[int(best[i])]),
                "probabilities": to_json(dict(zip(classes, map(float, row), strict=True))),
                "needs_review": False,
                "latency_ms": float(2.0 + rng.exponential(1.0)),
            }
        )
        if rng.random() < 0.1:
            feedback.append(
                {
                    "request_id": request_id,
                    "index": 0,
                    "time": at,
                    "deployment": DEPLOYMENT,
                    "label": to_json(str(traffic["label"].iloc[i])),
                    "outcome": None,
                    "source": "api",
                }
            )
        if len(batch) == 10_000:
            log.extend(batch)
            batch = []
    log.extend(batch)
    log.close()
    feedback.close()
    return {"rows": n, "logged": log.written_rows, "seconds": time.perf_counter() - started}


def child_monitor(args: list[str]) -> dict[str, Any]:
    """Two passes of ``ws.monitor`` in one fresh process, each timed."""
    import dcai

    ws_path = Path(args[0])
    now = START + timedelta(hours=2)
    times = []
    with dcai.Workspace(ws_path) as ws:
        for _ in range(2):
            started = time.perf_counter()
            report = ws.monitor(DEPLOYMENT, window="1h", now=now)
            times.append(time.perf_counter() - started)
    window = report.windows.iloc[0]
    drifted = report.columns[report.columns["drift"].fillna(False).astype(bool)]
    return {
        "first": times[0],
        "second": times[1],
        "peak_rss": peak_rss_bytes(),
        "instances": int(window["instances"]),
        "labeled": int(window["labeled"]),
        "accuracy": float(window["accuracy"]),
        "estimated_accuracy": float(window["estimated_accuracy"]),
        "drifted": sorted(str(c) for c in drifted["column"]),
    }


def cli_seconds(ws_path: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "dcai.cli.main",
            "-w",
            str(ws_path),
            "monitor",
            DEPLOYMENT,
            "--window",
            "1h",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT / "src")},
    )
    if done.returncode != 0:
        raise SystemExit(f"dcai monitor failed:\n{done.stderr}")
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 logged predictions")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if dispatch_child(parser, args.child, {"build": child_build, "monitor": child_monitor}):
        return 0
    n = 100_000 if args.quick else 1_000_000
    shutil.rmtree(SCRATCH, ignore_errors=True)
    SCRATCH.mkdir(parents=True)
    try:
        ws_path = SCRATCH / "ws"
        built = run_step(__file__, "build", str(ws_path), str(n))
        print(f"  logged {built['logged']:,} rows in {built['seconds']:.0f} s", file=sys.stderr)
        measured = run_step(__file__, "monitor", str(ws_path))
        cli = cli_seconds(ws_path)
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)
    info = versions(("dcai", "duckdb", "pandas", "numpy", "scipy", "scikit-learn", "pyarrow"))
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = command_shown("monitoring.py", argv)
    drifted = ", ".join(measured["drifted"]) or "none"
    lines = [
        SECTION,
        "",
        f"Measured {when} on {machine()}; " + ", ".join(f"{k} {v}" for k, v in info.items()) + ".",
        "",
        f"Command: `{command}`.",
        "",
        "**Method.** " + " ".join(__doc__.split("\n\n")[3].split()),
        "",
        "| step | logged predictions | seconds | peak RSS |",
        "|---|---:|---:|---:|",
        f"| `ws.monitor`, first pass (reference fitted) | {n:,} | {measured['first']:.2f} "
        f"| {mb(measured['peak_rss'])} |",
        f"| `ws.monitor`, second pass | {n:,} | {measured['second']:.2f} | (same process) |",
        f"| `dcai monitor --json` (whole command) | {n:,} | {cli:.2f} | — |",
        "",
        f"The window: {measured['instances']:,} instances, {measured['labeled']:,} labelled, "
        f"accuracy {measured['accuracy']:.3f}, estimated accuracy "
        f"{measured['estimated_accuracy']:.3f}; drifted columns: {drifted} (planted: x00, x01, "
        "x02).",
        "",
    ]
    targets = [
        (
            f"monitoring one window of {n:,} logged predictions ≤ {TARGET_SECONDS:g} s "
            "(first pass, in-process)",
            f"{measured['first']:.2f} s",
            measured["first"] <= TARGET_SECONDS,
        )
    ]
    if args.quick:
        lines.insert(2, "**Quick run (100,000 predictions): not the issue's size.**\n")
    lines += target_lines(targets, "Targets (issue 9, on the 2-core machine):")
    section = "\n".join(lines) + "\n"
    write_section(Path(args.out), SECTION, section)
    print(section)
    return report_targets(targets, check=args.check)


if __name__ == "__main__":
    raise SystemExit(main())
