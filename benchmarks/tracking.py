"""Tracking benchmark (issue 7): dcai's runs against MLflow's default local SQLite store.

Usage::

    make bench-env      # .venv-bench: dcai (editable) + benchmarks/requirements.txt (mlflow)
    .venv-bench/bin/python benchmarks/tracking.py [--quick] [--check] [--out BENCHMARKS.md]

dcai never imports MLflow; this script does, in the separate benchmark environment. dcai runs
exactly as shipped: nothing here changes its flush settings (``FLUSH_INTERVAL_S``,
``FLUSH_AT_VALUES``, ``MAX_UNFLUSHED_VALUES``) or any other default.

Every measurement runs in a fresh child process (so its peak RSS belongs to it alone) against
a fresh store in a temporary directory: a dcai workspace, or MLflow with
``mlflow.set_tracking_uri("sqlite:///…/mlflow.db")``. Steps, with the same inputs for both tools:

* start-up: a fresh process through ``import`` to its first real call completing (a run that
  logs one metric), median of 5;
* per call: ``start_run`` + end, ``log_param``, ``log_metric`` (mean over 200 calls);
* 1,000 values of one metric in one open run: dcai ``log_metric`` one by one; MLflow
  ``log_metric`` one by one and ``MlflowClient.log_batch`` (≤ 1,000 metrics per call, so one
  call) — timed when the calls return, when the values are durably stored (dcai: after
  ``run.flush()``; MLflow writes synchronously) and when the run's end returns;
* 100 runs × 30 values, one by one;
* a filtered search (``metrics.m > 0.5 and params.p = 3``; MLflow: ``params.p = '3'``) over
  the same numbers of runs for both tools (default 1,000, 3,000, 10,000 and 30,000). The stores are
  grown one size after the other, as fast as each public API allows (dcai:
  ``start_run(params=…)`` + ``log_metrics`` + ``end``; MLflow: ``MlflowClient.create_run`` +
  ``log_batch`` + ``set_terminated``), one tool after the other; a tool whose population
  outlives its budget is reported "not measured" at that size and the larger ones.

``--check`` exits with status 1 if a target is missed; ``--quick`` uses small sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import (
    command_shown,
    machine,
    mb,
    peak_rss_bytes,
    report_targets,
    run_step,
    write_section,
)
from _common import versions as package_versions

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SECTION = "## Tracking (issue 7)"
EXPERIMENT = "bench"
WHERE = {
    "dcai": "metrics.m > 0.5 and params.p = 3",
    "mlflow": "metrics.m > 0.5 and params.p = '3'",
}
TOOLS = ("dcai", "mlflow")
NAMES = {"dcai": "dcai", "mlflow": "MLflow"}

FULL = {"calls": 200, "values": 1_000, "runs": 100, "per_run": 30}
FULL_SEARCH = (1_000, 3_000, 10_000, 30_000)
QUICK = {"calls": 50, "values": 1_000, "runs": 20, "per_run": 30}
QUICK_SEARCH = (200, 1_000)
#: Seconds each tool may spend populating its search store, over all sizes together.
BUDGET_S = {"dcai": 900.0, "mlflow": 360.0}
QUICK_BUDGET_S = {"dcai": 120.0, "mlflow": 60.0}
START_REPEATS = 5
SEARCH_REPEATS = 5
#: How the 1,000 values are logged (value modes of the "values" step).
MODES = ("dcai.log_metric", "mlflow.log_metric", "mlflow.log_batch")
MLFLOW_BATCH_MAX = 1_000  # MLflow's limit of metrics per log_batch call

# Targets (issue 7).
TARGET_SPEEDUP = 20.0
TARGET_BATCH_SPEEDUP = 10.0
TARGET_ONE_BY_ONE_S = 0.2
TARGET_SEARCH_RUNS = 30_000
TARGET_SEARCH_S = 1.0
TARGET_START_S = 1.0


# Child processes ----------------------------------------------------------------------------


def _quiet_mlflow() -> None:
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)


def _open(tool: str, store: Path) -> Any:
    """The tool's handle on ``store`` (created if missing): a Workspace, or MLflow's experiment id."""
    store.mkdir(parents=True, exist_ok=True)
    os.chdir(store)  # MLflow writes ./mlruns-style artifact folders relative to the cwd
    if tool == "dcai":
        import dcai

        return dcai.Workspace.init(store / "ws")
    _quiet_mlflow()
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{store / 'mlflow.db'}")
    found = mlflow.get_experiment_by_name(EXPERIMENT)
    if found is not None:
        return found.experiment_id
    return mlflow.create_experiment(EXPERIMENT, artifact_location=(store / "artifacts").as_uri())


def child_start(tool: str, store: str, t0: str) -> dict[str, Any]:
    """From the parent's process start (``t0``, epoch seconds) through ``import`` to the first
    real call completing: a run opened on a new store that logs one metric and ends."""
    path = Path(store)
    path.mkdir(parents=True, exist_ok=True)
    os.chdir(path)
    if tool == "mlflow":
        _quiet_mlflow()
    start = time.perf_counter()
    if tool == "dcai":
        import dcai

        imported = time.perf_counter()
        ws = dcai.Workspace(path / "ws")
        with ws.start_run(experiment=EXPERIMENT, capture_code=False) as run:
            run.log_metric("m", 0.5)
    else:
        import mlflow

        imported = time.perf_counter()
        mlflow.set_tracking_uri(f"sqlite:///{path / 'mlflow.db'}")
        with mlflow.start_run():
            mlflow.log_metric("m", 0.5)
    done = time.perf_counter()
    return {
        "import": imported - start,
        "first_call": done - imported,
        "wall": time.time() - float(t0),
        "peak_rss": peak_rss_bytes(),
    }


def child_calls(tool: str, store: str, what: str, n: int) -> dict[str, Any]:
    """Mean seconds per call of ``what`` (start_run, log_param or log_metric), ``n`` calls."""
    handle = _open(tool, Path(store))
    if tool == "dcai":
        ws = handle
        # Warm-up: the first run creates the experiment and caches the environment.
        ws.start_run(experiment=EXPERIMENT, capture_code=False).end()
        if what == "start_run":
            start = time.perf_counter()
            for _ in range(n):
                ws.start_run(experiment=EXPERIMENT, capture_code=False).end()
            wall = time.perf_counter() - start
        else:
            run = ws.start_run(experiment=EXPERIMENT, capture_code=False)
            start = time.perf_counter()
            if what == "log_param":
                for i in range(n):
                    run.log_param(f"p{i}", i)
            else:
                for i in range(n):
                    run.log_metric("m", i / n, step=i)
            wall = time.perf_counter() - start
            run.end()
    else:
        import mlflow

        mlflow.start_run(experiment_id=handle)
        mlflow.end_run()
        if what == "start_run":
            start = time.perf_counter()
            for _ in range(n):
                mlflow.start_run(experiment_id=handle)
                mlflow.end_run()
            wall = time.perf_counter() - start
        else:
            mlflow.start_run(experiment_id=handle)
            start = time.perf_counter()
            if what == "log_param":
                for i in range(n):
                    mlflow.log_param(f"p{i}", i)
            else:
                for i in range(n):
                    mlflow.log_metric("m", i / n, step=i)
            wall = time.perf_counter() - start
            mlflow.end_run()
    return {"per_call": wall / n, "peak_rss": peak_rss_bytes()}


def child_values(mode: str, store: str, n: int) -> dict[str, Any]:
    """``n`` values of metric ``m`` (steps 0…n-1) in one open run, logged as ``mode`` says.

    Times from the first call: ``calls`` (the logging calls have returned), ``durable`` (the
    values are in the store: dcai after ``run.flush()``; MLflow's calls write synchronously, so
    the same as ``calls``) and ``ended`` (the run's end has returned)."""
    tool = mode.split(".")[0]
    handle = _open(tool, Path(store))
    values = [(i / n, i) for i in range(n)]
    if tool == "dcai":
        ws = handle
        # Warm-up: the same path once (a run logging one value, flushed), as for MLflow.
        warm = ws.start_run(experiment=EXPERIMENT, capture_code=False)
        warm.log_metric("m", 0.0, step=0)
        warm.end()
        run = ws.start_run(experiment=EXPERIMENT, capture_code=False)
        start = time.perf_counter()
        for value, step in values:
            run.log_metric("m", value, step=step)
        calls = time.perf_counter()
        run.flush()
        durable = time.perf_counter()
        run.end()
        ended = time.perf_counter()
    else:
        import mlflow
        from mlflow.entities import Metric

        # Warm-up: the same path once (a run logging one value the same way), as for dcai.
        warm = mlflow.start_run(experiment_id=handle)
        if mode == "mlflow.log_metric":
            mlflow.log_metric("m", 0.0, step=0)
        else:
            mlflow.MlflowClient().log_batch(
                warm.info.run_id, metrics=[Metric("m", 0.0, int(time.time() * 1000), 0)]
            )
        mlflow.end_run()
        active = mlflow.start_run(experiment_id=handle)
        run_id = active.info.run_id
        client = mlflow.MlflowClient()
        start = time.perf_counter()
        if mode == "mlflow.log_metric":
            for value, step in values:
                mlflow.log_metric("m", value, step=step)
        else:
            for first in range(0, n, MLFLOW_BATCH_MAX):
                now = int(time.time() * 1000)
                batch = [
                    Metric("m", v, now, s) for v, s in values[first : first + MLFLOW_BATCH_MAX]
                ]
                client.log_batch(run_id, metrics=batch)
        calls = durable = time.perf_counter()
        mlflow.end_run()
        ended = time.perf_counter()
    return {
        "calls": calls - start,
        "durable": durable - start,
        "ended": ended - start,
        "peak_rss": peak_rss_bytes(),
    }


def child_series(tool: str, store: str, n_runs: int, n_values: int) -> dict[str, Any]:
    """``n_runs`` runs of ``n_values`` ``log_metric`` calls each, one by one; total seconds
    until the last run's end returns."""
    handle = _open(tool, Path(store))
    if tool == "dcai":
        ws = handle
        ws.start_run(experiment=EXPERIMENT, capture_code=False).end()
        start = time.perf_counter()
        for _ in range(n_runs):
            run = ws.start_run(experiment=EXPERIMENT, capture_code=False)
            for i in range(n_values):
                run.log_metric("m", i / n_values, step=i)
            run.end()
        wall = time.perf_counter() - start
    else:
        import mlflow

        mlflow.start_run(experiment_id=handle)
        mlflow.end_run()
        start = time.perf_counter()
        for _ in range(n_runs):
            mlflow.start_run(experiment_id=handle)
            for i in range(n_values):
                mlflow.log_metric("m", i / n_values, step=i)
            mlflow.end_run()
        wall = time.perf_counter() - start
    return {"wall": wall, "peak_rss": peak_rss_bytes()}


def _run_values(i: int) -> tuple[dict[str, Any], dict[str, float]]:
    """Deterministic params and metrics of populated run ``i``."""
    import random

    rng = random.Random(i)
    params = {"p": i % 10, "lr": round(10 ** rng.uniform(-4, -1), 6), "model": f"m{i % 3}"}
    metrics = {"m": rng.random(), "loss": rng.random()}
    return params, metrics


def child_populate(tool: str, store: str, first: int, stop: int, budget: float) -> dict[str, Any]:
    """Add runs ``first``…``stop``-1 (finished, 3 params and 2 metrics each) as fast as the
    public API allows, stopping after ``budget`` seconds."""
    handle = _open(tool, Path(store))
    start = time.perf_counter()
    done = 0
    if tool == "dcai":
        ws = handle
        for i in range(first, stop):
            params, metrics = _run_values(i)
            run = ws.start_run(experiment=EXPERIMENT, params=params, capture_code=False)
            run.log_metrics(metrics)
            run.end()
            done += 1
            if done % 1000 == 0:
                print(f"    dcai: {first + done:,} runs", file=sys.stderr, flush=True)
            if time.perf_counter() - start > budget:
                break
    else:
        from mlflow.entities import Metric, Param
        from mlflow.tracking import MlflowClient

        client = MlflowClient()
        for i in range(first, stop):
            params, metrics = _run_values(i)
            now = int(time.time() * 1000)
            rid = client.create_run(handle).info.run_id
            client.log_batch(
                rid,
                metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
                params=[Param(k, str(v)) for k, v in params.items()],
            )
            client.set_terminated(rid)
            done += 1
            if done % 1000 == 0:
                print(f"    mlflow: {first + done:,} runs", file=sys.stderr, flush=True)
            if time.perf_counter() - start > budget:
                break
    return {"runs": first + done, "wall": time.perf_counter() - start, "peak_rss": peak_rss_bytes()}


def child_search(tool: str, store: str) -> dict[str, Any]:
    """The filtered search, ``SEARCH_REPEATS`` times in this process: first and median seconds."""
    handle = _open(tool, Path(store))
    walls, rows = [], 0
    for _ in range(SEARCH_REPEATS):
        start = time.perf_counter()
        if tool == "dcai":
            frame = handle.runs(experiment=EXPERIMENT, where=WHERE["dcai"])
        else:
            import mlflow

            frame = mlflow.search_runs(
                experiment_ids=[handle], filter_string=WHERE["mlflow"], max_results=100_000
            )
        walls.append(time.perf_counter() - start)
        rows = len(frame)
    return {
        "first": walls[0],
        "median": statistics.median(walls),
        "rows": rows,
        "peak_rss": peak_rss_bytes(),
    }


# Orchestration ------------------------------------------------------------------------------


def measure(
    quick: bool, search_sizes: tuple[int, ...], budgets: dict[str, float]
) -> dict[str, Any]:
    sizes = QUICK if quick else FULL
    res: dict[str, Any] = {"sizes": sizes, "search_sizes": list(search_sizes), "budget": budgets}
    with tempfile.TemporaryDirectory(prefix="dcai-tracking-") as tmp_name:
        tmp = Path(tmp_name)
        for tool in TOOLS:
            runs = [
                run_step(__file__, "start", tool, str(tmp / f"{tool}-start-{k}"), str(time.time()))
                for k in range(START_REPEATS)
            ]
            res[f"{tool}.start"] = {
                key: statistics.median(r[key] for r in runs)
                for key in ("import", "first_call", "wall")
            } | {"peak_rss": max(r["peak_rss"] for r in runs)}
            r = res[f"{tool}.start"]
            print(f"  {tool} start → first call: {r['wall']:.3f} s {r}", flush=True)
        for tool in TOOLS:
            for what in ("start_run", "log_param", "log_metric"):
                store = str(tmp / f"{tool}-{what}")
                r = run_step(__file__, "calls", tool, store, what, str(sizes["calls"]))
                res[f"{tool}.{what}"] = r
                print(f"  {tool} {what}: {r['per_call'] * 1e6:,.1f} µs/call", flush=True)
            store = str(tmp / f"{tool}-series")
            r = run_step(__file__, "series", tool, store, str(sizes["runs"]), str(sizes["per_run"]))
            res[f"{tool}.series"] = r
            print(f"  {tool} {sizes['runs']} runs x {sizes['per_run']}: {r['wall']:.2f} s")
        for mode in MODES:
            r = run_step(__file__, "values", mode, str(tmp / mode), str(sizes["values"]))
            res[f"values.{mode}"] = r
            print(f"  {mode} x {sizes['values']:,}: {r}", flush=True)
        # Search stores: each tool's store grown to every size in turn, one tool at a time.
        for tool in TOOLS:
            store, have, spent = str(tmp / f"{tool}-search"), 0, 0.0
            for n in search_sizes:
                key = f"{tool}.search.{n}"
                left = budgets[tool] - spent
                if have < n and left > 0:
                    r = run_step(__file__, "populate", tool, store, str(have), str(n), str(left))
                    have, spent = r["runs"], spent + r["wall"]
                    print(f"  {tool} populated to {have:,} runs ({spent:.0f} s)", flush=True)
                if have < n:
                    res[key] = {"missing": True, "reached": have, "spent": spent}
                    print(f"  {tool} search over {n:,}: not measured ({have:,} runs)", flush=True)
                    break
                res[key] = run_step(__file__, "search", tool, store) | {"populated_s": spent}
                print(f"  {tool} search over {n:,}: {res[key]}", flush=True)
    return res


def _us(seconds: float) -> str:
    us = seconds * 1e6
    return f"{us:,.1f} µs" if us < 100 else f"{us:,.0f} µs"


def _s(seconds: float) -> str:
    return f"{seconds:.3f} s" if seconds < 10 else f"{seconds:,.1f} s"


def _search(res: dict[str, Any], tool: str, n: int) -> dict[str, Any] | None:
    r = res.get(f"{tool}.search.{n}")
    return None if r is None or r.get("missing") else r


def targets(res: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(target, measured, met) of each issue-7 target."""
    speedup = res["mlflow.log_metric"]["per_call"] / res["dcai.log_metric"]["per_call"]
    durable = res["values.dcai.log_metric"]["durable"]
    batch = res["values.mlflow.log_batch"]["durable"]
    n = res["sizes"]["values"]
    out = [
        (
            f"`log_metric` ≥ {TARGET_SPEEDUP:.0f}× faster per call than MLflow's `log_metric`",
            f"{speedup:,.0f}×",
            speedup >= TARGET_SPEEDUP,
        ),
        (
            f"{n:,} values ≥ {TARGET_BATCH_SPEEDUP:.0f}× faster than MLflow's `log_batch` "
            "(both until durably stored)",
            f"{batch / durable:,.1f}× ({_s(durable)} vs {_s(batch)})",
            batch / durable >= TARGET_BATCH_SPEEDUP,
        ),
        (
            f"{n:,} `log_metric` one by one ≤ {TARGET_ONE_BY_ONE_S} s (until flushed)",
            _s(durable),
            durable <= TARGET_ONE_BY_ONE_S,
        ),
    ]
    measured = [n for n in res["search_sizes"] if _search(res, "dcai", n)]
    if measured:
        big = max(measured)
        r = _search(res, "dcai", big)
        assert r is not None
        label = f"search with a filter over {TARGET_SEARCH_RUNS:,} runs ≤ {TARGET_SEARCH_S:.0f} s"
        if big != TARGET_SEARCH_RUNS:
            label += f" (measured over {big:,} runs)"
        out.append(
            (
                label,
                f"{_s(r['median'])} (first call {_s(r['first'])})",
                max(r["median"], r["first"]) <= TARGET_SEARCH_S and big >= TARGET_SEARCH_RUNS,
            )
        )
    start = res["dcai.start"]["wall"]
    out.append(
        (
            f"`import dcai` ≤ {TARGET_START_S:.0f} s, timed from process start to the first "
            "run logged",
            f"{_s(start)} (the `import` alone {_s(res['dcai.start']['import'])})",
            start <= TARGET_START_S,
        )
    )
    return out


def render(res: dict[str, Any], quick: bool, command: str) -> str:
    sizes = res["sizes"]
    vs = package_versions(("dcai", "mlflow", "sqlalchemy"))
    n = sizes["values"]

    def row(label: str, key: str, fmt: Any, field: str = "wall") -> str:
        cells = []
        for tool in TOOLS:
            r = res[f"{tool}.{key}"]
            cells += [fmt(r[field]), mb(r["peak_rss"])]
        ratio = res[f"mlflow.{key}"][field] / res[f"dcai.{key}"][field]
        return f"| {label} | {' | '.join(cells)} | {ratio:,.1f}× |"

    def search_row(size: int) -> str:
        cells = []
        for tool in TOOLS:
            r = _search(res, tool, size)
            if r is None:
                miss = res.get(f"{tool}.search.{size}") or {}
                if miss.get("missing"):
                    cells += [
                        f"not measured: creating {size:,} {NAMES[tool]} runs took > "
                        f"{res['budget'][tool] / 60:.0f} min (stopped at {miss['reached']:,})",
                        "",
                    ]
                else:
                    cells += ["not measured: a smaller size already exceeded the budget", ""]
                continue
            cells += [f"{_s(r['median'])} (first {_s(r['first'])}; {r['rows']:,} rows)"]
            cells += [mb(r["peak_rss"])]
        d, m = _search(res, "dcai", size), _search(res, "mlflow", size)
        ratio = f"{m['median'] / d['median']:,.1f}×" if d and m else "—"
        return f"| search with a filter, {size:,} runs | {' | '.join(cells)} | {ratio} |"

    start_cells = []
    for tool in TOOLS:
        r = res[f"{tool}.start"]
        start_cells.append(
            f"| {NAMES[tool]} | {_s(r['import'])} | {_s(r['first_call'])} | {_s(r['wall'])} | "
            f"{mb(r['peak_rss'])} |"
        )
    value_rows = []
    labels = {
        "dcai.log_metric": "dcai `run.log_metric` one by one, then `run.flush()`",
        "mlflow.log_metric": "MLflow `mlflow.log_metric` one by one",
        "mlflow.log_batch": "MLflow `MlflowClient.log_batch` (one call of 1,000 `Metric`s)"
        if n <= MLFLOW_BATCH_MAX
        else f"MLflow `MlflowClient.log_batch` ({MLFLOW_BATCH_MAX:,} `Metric`s per call)",
    }
    for mode in MODES:
        r = res[f"values.{mode}"]
        value_rows.append(
            f"| {labels[mode]} | {_s(r['calls'])} | {_s(r['durable'])} | {_s(r['ended'])} | "
            f"{mb(r['peak_rss'])} |"
        )
    pop = []
    for tool in TOOLS:
        done = [s for s in res["search_sizes"] if _search(res, tool, s)]
        if done:
            r = _search(res, tool, max(done))
            assert r is not None
            pop.append(
                f"{NAMES[tool]} {max(done):,} runs in {_s(r['populated_s'])} "
                f"({max(done) / r['populated_s']:,.0f} runs/s)"
            )
        missing = [res[k] for k in res if k.startswith(f"{tool}.search.") and res[k].get("missing")]
        for miss in missing:
            pop.append(
                f"{NAMES[tool]} stopped at its {res['budget'][tool] / 60:.0f}-min budget with "
                f"{miss['reached']:,} runs ({miss['reached'] / miss['spent']:,.0f} runs/s)"
            )
    lines = [
        SECTION,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()} (shared, loaded); "
        f"Python {vs['python']}, dcai {vs['dcai']}, MLflow {vs['mlflow']} "
        f"(SQLAlchemy {vs['sqlalchemy']})"
        + (" — **quick mode** (small sizes)" if quick else "")
        + ".",
        "",
        f"Command: `{command}`.",
        "",
        "**Method.** dcai's runs against MLflow's default local store, SQLite "
        '(`mlflow.set_tracking_uri("sqlite:///…/mlflow.db")`), same machine, the same inputs '
        "for both tools, each measurement in a fresh child process on a fresh store in a "
        "temporary directory, peak RSS of that process alongside. dcai runs as shipped: the "
        "benchmark changes none of its settings (background flush every 0.5 s, at 10,000 "
        "pending values, back-pressure at 40,000). dcai runs are started with "
        "`capture_code=False` (no git capture); MLflow's with its defaults (fluent API: "
        "`mlflow.start_run` / `log_param` / `log_metric` / `end_run`).",
        "",
        "### Start-up: process start → import → first real call",
        "",
        "A fresh Python process (the benchmark script as a child, which imports argparse, "
        "json and the like before the tool) opens a new store and logs one metric — dcai: "
        "`import dcai; ws = dcai.Workspace(path); with ws.start_run(...) as r: "
        'r.log_metric("m", 0.5)`; MLflow: `import mlflow; mlflow.set_tracking_uri("sqlite:…"); '
        'with mlflow.start_run(): mlflow.log_metric("m", 0.5)`. "total" runs from just before '
        "the parent starts the process to the end of the `with` block (the run ended); median "
        f"of {START_REPEATS}.",
        "",
        "| tool | `import` | first call (store + run + 1 metric + end) | total from process start | peak RSS |",
        "|---|---:|---:|---:|---:|",
        *start_cells,
        "",
        f"### {n:,} values of one metric in one open run",
        "",
        f"Steps 0…{n - 1:,} of metric `m` in a run started before the clock starts (after one "
        "warm-up run that logs one value the same way, so that both tools' first-use costs — "
        "statement compilation, table creation — are paid before the clock). "
        "*calls returned*: the logging calls alone (dcai only buffers them); "
        "*durably stored*: the values are in the database — dcai after `run.flush()` returns, "
        "MLflow's calls write synchronously, so the same as *calls returned*; *run ended*: the "
        "run's end (`run.end()` / `mlflow.end_run()`) has returned too. MLflow's `log_batch` "
        f"takes at most {MLFLOW_BATCH_MAX:,} metrics per call; the time includes building the "
        "`Metric` objects.",
        "",
        "| how | calls returned | durably stored | run ended | peak RSS |",
        "|---|---:|---:|---:|---:|",
        *value_rows,
        "",
        "### Per call, runs and search",
        "",
        f"Per-call figures are the mean over {sizes['calls']} calls after one warm-up run: "
        "`start_run` includes its `end`; `log_param` / `log_metric` are calls inside one open "
        "run, timed until they return (dcai buffers them, MLflow writes each one). The "
        f"{sizes['runs']} runs × {sizes['per_run']} values are timed until the last run's end "
        "returns, so dcai's final flush is included. Search: the filter "
        "`metrics.m > 0.5 and params.p = 3` (MLflow: `params.p = '3'`), returning a pandas "
        "DataFrame in both tools (`ws.runs(experiment=…, where=…)`; "
        "`mlflow.search_runs(…, max_results=100000)`), run "
        f"{SEARCH_REPEATS} times in one process: median, and the first call. Both tools search "
        "stores of the same size, holding finished runs with 3 parameters and 2 metrics each "
        "(p = i mod 10, so about 5 % match), populated as fast as each public API allows — "
        "dcai: `start_run(params=…)` + `log_metrics` + `end`; MLflow: "
        "`MlflowClient.create_run` + `log_batch` + `set_terminated` — each store grown from one "
        "size to the next, one tool at a time; population budget "
        + ", ".join(f"{NAMES[t]} {res['budget'][t] / 60:.0f} min" for t in TOOLS)
        + " (all sizes together).",
        "",
        "| step | dcai | dcai peak RSS | MLflow | MLflow peak RSS | MLflow / dcai |",
        "|---|---:|---:|---:|---:|---:|",
        row("`start_run` + end, per call", "start_run", _us, "per_call"),
        row("`log_param`, per call", "log_param", _us, "per_call"),
        row("`log_metric`, per call (until it returns)", "log_metric", _us, "per_call"),
        row(f"{sizes['runs']} runs × {sizes['per_run']} values, one by one", "series", _s),
        *(search_row(s) for s in res["search_sizes"]),
        "",
        "Populating the search stores: " + "; ".join(pop) + ".",
        "",
        "### Targets (issue 7)",
        "",
        "| target | measured | |",
        "|---|---:|---|",
    ]
    for target, measured, met in targets(res):
        lines.append(f"| {target} | {measured} | {'met' if met else '**missed**'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for development")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument(
        "--search-sizes", help="comma-separated run counts searched (default 1000,3000,10000,30000)"
    )
    parser.add_argument("--mlflow-budget", type=float, help="seconds to populate MLflow's store")
    parser.add_argument("--json", help="also write the raw figures to this file")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        step, *rest = args.child
        if step == "start":
            out = child_start(rest[0], rest[1], rest[2])
        elif step == "calls":
            out = child_calls(rest[0], rest[1], rest[2], int(rest[3]))
        elif step == "values":
            out = child_values(rest[0], rest[1], int(rest[2]))
        elif step == "series":
            out = child_series(rest[0], rest[1], int(rest[2]), int(rest[3]))
        elif step == "populate":
            out = child_populate(rest[0], rest[1], int(rest[2]), int(rest[3]), float(rest[4]))
        elif step == "search":
            out = child_search(rest[0], rest[1])
        else:
            raise SystemExit(f"unknown step {step!r}")
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
        os._exit(0)  # skip MLflow's / dcai's exit hooks: the step is measured
    if args.search_sizes:
        search_sizes = tuple(int(s) for s in args.search_sizes.split(","))
    else:
        search_sizes = QUICK_SEARCH if args.quick else FULL_SEARCH
    budgets = dict(QUICK_BUDGET_S if args.quick else BUDGET_S)
    if args.mlflow_budget:
        budgets["mlflow"] = args.mlflow_budget
    res = measure(args.quick, search_sizes, budgets)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2), encoding="utf-8")
    command = command_shown("tracking.py", argv)
    section = render(res, args.quick, command)
    write_section(Path(args.out), SECTION, section)
    print(section)
    return report_targets(targets(res), check=args.check)


if __name__ == "__main__":
    raise SystemExit(main())
