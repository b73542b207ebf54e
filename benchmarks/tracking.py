"""Tracking benchmark (issue 7): dcai's runs against MLflow's default local SQLite store.

Usage::

    make bench-env      # .venv-bench: dcai (editable) + benchmarks/requirements.txt (mlflow)
    .venv-bench/bin/python benchmarks/tracking.py [--quick] [--check] [--out BENCHMARKS.md]

dcai never imports MLflow; this script does, in the separate benchmark environment.

Every measurement runs in a fresh child process (so its peak RSS belongs to it alone) against
a fresh store in a temporary directory: a dcai workspace, or MLflow with
``mlflow.set_tracking_uri("sqlite:///…/mlflow.db")``. Steps: per-call ``start_run`` + end,
``log_param`` and ``log_metric`` (mean over 200 calls), 1,000 ``log_metric`` calls one
by one in one run (until the run's end returns, so dcai's final flush is included), 100 runs ×
30 values, and a filtered search (``metrics.m > 0.5 and params.p = 3``; MLflow:
``params.p = '3'``) over 1,000 and 30,000 runs. The 30,000-run stores are populated as fast as
each public API allows (dcai: ``start_run(params=…)`` + ``log_metrics`` + ``end``; MLflow:
``MlflowClient.create_run`` + ``log_batch`` + ``set_terminated``); MLflow stops where its time
budget ends. ``import dcai`` / ``import mlflow`` are timed in fresh processes (median of 5).
``--check`` exits with status 1 if a target is missed; ``--quick`` uses small sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import machine, mb, peak_rss_bytes, run_child, run_step, write_section
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

FULL = {"calls": 200, "one_by_one": 1_000, "runs": 100, "values": 30, "small": 1_000}
FULL_LARGE = 30_000
QUICK = {"calls": 50, "one_by_one": 1_000, "runs": 20, "values": 30, "small": 200}
QUICK_LARGE = 1_000
#: Populating MLflow's large store stops after this long (the figure states the size reached).
MLFLOW_BUDGET_S = 480.0
QUICK_MLFLOW_BUDGET_S = 60.0
#: dcai's large store gets the same kind of guard.
DCAI_BUDGET_S = 900.0
IMPORT_REPEATS = 5
SEARCH_REPEATS = 5

# Targets (issue 7).
TARGET_SPEEDUP = 20.0
TARGET_ONE_BY_ONE_S = 0.2
TARGET_SEARCH_S = 1.0
TARGET_IMPORT_S = 1.0


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


def child_import(tool: str) -> dict[str, Any]:
    start = time.perf_counter()
    if tool == "dcai":
        import dcai  # noqa: F401
    else:
        import mlflow  # noqa: F401
    return {"wall": time.perf_counter() - start, "peak_rss": peak_rss_bytes()}


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


def child_populate(tool: str, store: str, n: int, budget: float) -> dict[str, Any]:
    """Add ``n`` finished runs (3 params, 2 metrics each) as fast as the public API allows,
    stopping after ``budget`` seconds."""
    handle = _open(tool, Path(store))
    start = time.perf_counter()
    done = 0
    if tool == "dcai":
        import dcai.experiments.runs as dcai_runs

        # Workaround: with the 1-second background flusher on, start_run's own flush can race
        # it and insert a run's params twice (UNIQUE constraint failed: run_params) — a dcai
        # bug seen after ~2,000 back-to-back runs. Each run is flushed by start_run and end.
        dcai_runs.FLUSH_INTERVAL_S = 1e9
        ws = handle
        for i in range(n):
            params, metrics = _run_values(i)
            run = ws.start_run(experiment=EXPERIMENT, params=params, capture_code=False)
            run.log_metrics(metrics)
            run.end()
            done += 1
            if done % 1000 == 0:
                print(f"    dcai: {done:,} runs", file=sys.stderr, flush=True)
                if time.perf_counter() - start > budget:
                    break
    else:
        from mlflow.entities import Metric, Param
        from mlflow.tracking import MlflowClient

        client = MlflowClient()
        for i in range(n):
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
                print(f"    mlflow: {done:,} runs", file=sys.stderr, flush=True)
            if time.perf_counter() - start > budget:
                break
    return {"runs": done, "wall": time.perf_counter() - start, "peak_rss": peak_rss_bytes()}


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
                experiment_ids=[handle], filter_string=WHERE["mlflow"], max_results=50_000
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


def _store(tmp: Path, name: str) -> str:
    return str(tmp / name)


def measure(quick: bool, large: int | None, mlflow_budget: float | None) -> dict[str, Any]:
    sizes = QUICK if quick else FULL
    large = large or (QUICK_LARGE if quick else FULL_LARGE)
    mlflow_budget = mlflow_budget or (QUICK_MLFLOW_BUDGET_S if quick else MLFLOW_BUDGET_S)
    res: dict[str, Any] = {"sizes": sizes, "large": large, "budget": mlflow_budget}
    with tempfile.TemporaryDirectory(prefix="dcai-tracking-") as tmp_name:
        tmp = Path(tmp_name)
        for tool in TOOLS:
            runs = [run_step(__file__, "import", tool) for _ in range(IMPORT_REPEATS)]
            res[f"{tool}.import"] = {
                "wall": statistics.median(r["wall"] for r in runs),
                "peak_rss": max(r["peak_rss"] for r in runs),
            }
            print(f"  import {tool}: {res[f'{tool}.import']['wall']:.3f} s", flush=True)
        for tool in TOOLS:
            for what in ("start_run", "log_param", "log_metric"):
                store = _store(tmp, f"{tool}-{what}")
                r = run_step(__file__, "calls", tool, store, what, str(sizes["calls"]))
                res[f"{tool}.{what}"] = r
                print(f"  {tool} {what}: {r['per_call'] * 1e6:,.1f} µs/call", flush=True)
            r = run_step(
                __file__, "series", tool, _store(tmp, f"{tool}-one"), "1", str(sizes["one_by_one"])
            )
            res[f"{tool}.one_by_one"] = r
            print(f"  {tool} {sizes['one_by_one']:,} one by one: {r['wall']:.3f} s", flush=True)
            r = run_step(
                __file__,
                "series",
                tool,
                _store(tmp, f"{tool}-series"),
                str(sizes["runs"]),
                str(sizes["values"]),
            )
            res[f"{tool}.series"] = r
            print(f"  {tool} {sizes['runs']} runs x {sizes['values']}: {r['wall']:.2f} s")
        # Small stores one after the other; the two large stores populated side by side.
        for tool in TOOLS:
            store = _store(tmp, f"{tool}-small")
            res[f"{tool}.populate_small"] = run_step(
                __file__, "populate", tool, store, str(sizes["small"]), "1e9"
            )
            res[f"{tool}.search_small"] = run_step(__file__, "search", tool, store)
            print(f"  {tool} search over {sizes['small']:,}: {res[f'{tool}.search_small']}")
        results: dict[str, dict[str, Any] | None] = {}

        def populate(tool: str, budget: float) -> None:
            results[tool] = run_child(
                __file__, "populate", tool, _store(tmp, f"{tool}-large"), str(large), str(budget)
            )

        threads = [
            threading.Thread(target=populate, args=("dcai", DCAI_BUDGET_S)),
            threading.Thread(target=populate, args=("mlflow", mlflow_budget)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for tool in TOOLS:
            res[f"{tool}.populate_large"] = results[tool]
            res[f"{tool}.search_large"] = run_step(
                __file__, "search", tool, _store(tmp, f"{tool}-large")
            )
            print(f"  {tool} populate large: {results[tool]}", flush=True)
            print(f"  {tool} search large: {res[f'{tool}.search_large']}", flush=True)
    return res


def _us(seconds: float) -> str:
    us = seconds * 1e6
    return f"{us:,.1f} µs" if us < 100 else f"{us:,.0f} µs"


def _s(seconds: float) -> str:
    return f"{seconds:.3f} s" if seconds < 10 else f"{seconds:,.1f} s"


def targets(res: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(target, measured, met) of each issue-7 target."""
    speedup = res["mlflow.log_metric"]["per_call"] / res["dcai.log_metric"]["per_call"]
    one = res["dcai.one_by_one"]["wall"]
    large = res["dcai.search_large"]
    n_large = res["dcai.populate_large"]["runs"]
    imp = res["dcai.import"]["wall"]
    return [
        (
            f"`log_metric` ≥ {TARGET_SPEEDUP:.0f}× faster per call than MLflow",
            f"{speedup:,.0f}×",
            speedup >= TARGET_SPEEDUP,
        ),
        (
            f"1,000 `log_metric` one by one ≤ {TARGET_ONE_BY_ONE_S} s (incl. final flush)",
            _s(one),
            one <= TARGET_ONE_BY_ONE_S,
        ),
        (
            f"search with a filter over {n_large:,} runs ≤ {TARGET_SEARCH_S:.0f} s",
            f"{_s(large['median'])} (first call {_s(large['first'])})",
            max(large["median"], large["first"]) <= TARGET_SEARCH_S,
        ),
        (f"`import dcai` ≤ {TARGET_IMPORT_S:.0f} s", _s(imp), imp <= TARGET_IMPORT_S),
    ]


def render(res: dict[str, Any], quick: bool) -> str:
    sizes = res["sizes"]
    vs = package_versions(("dcai", "mlflow", "sqlalchemy"))
    n_small = sizes["small"]
    big = {tool: res[f"{tool}.populate_large"]["runs"] for tool in TOOLS}

    def row(label: str, key: str, fmt: Any, field: str = "wall") -> str:
        cells = []
        for tool in TOOLS:
            r = res[f"{tool}.{key}"]
            cells += [fmt(r[field]), mb(r["peak_rss"])]
        ratio = res[f"mlflow.{key}"][field] / res[f"dcai.{key}"][field]
        return f"| {label} | {' | '.join(cells)} | {ratio:,.1f}× |"

    def search_row(key: str, label: str) -> str:
        cells = []
        for tool in TOOLS:
            r = res[f"{tool}.{key}"]
            cells += [f"{_s(r['median'])} (first {_s(r['first'])}; {r['rows']:,} rows)"]
            cells += [mb(r["peak_rss"])]
        ratio = res[f"mlflow.{key}"]["median"] / res[f"dcai.{key}"]["median"]
        return f"| {label} | {' | '.join(cells)} | {ratio:,.1f}× |"

    if big["dcai"] == big["mlflow"]:
        large_label = f"search with a filter, {big['dcai']:,} runs"
    else:
        large_label = (
            f"search with a filter, dcai {big['dcai']:,} runs / MLflow {big['mlflow']:,} runs"
        )
    lines = [
        SECTION,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}; Python {vs['python']}, "
        f"dcai {vs['dcai']}, MLflow {vs['mlflow']} (SQLAlchemy {vs['sqlalchemy']})"
        + (" — **quick mode** (small sizes)" if quick else "")
        + ".",
        "",
        "**Method.** dcai's runs against MLflow's default local store, SQLite "
        '(`mlflow.set_tracking_uri("sqlite:///…/mlflow.db")`), same machine, each measurement '
        "in a fresh child process on a fresh store in a temporary directory, peak RSS of that "
        "process alongside. dcai runs are started with `capture_code=False` (no git capture); "
        "MLflow's with its defaults (fluent API: `mlflow.start_run` / `log_param` / "
        "`log_metric` / `end_run`). Per-call figures are the mean over "
        f"{sizes['calls']} calls after one warm-up run: `start_run` includes its `end`; "
        "`log_param` / `log_metric` are calls inside one open run (dcai buffers them and "
        "writes every second and at the end, MLflow writes each one). The "
        f"{sizes['one_by_one']:,} one-by-one `log_metric` calls and the {sizes['runs']} runs "
        f"× {sizes['values']} values are timed until the (last) run's end returns, so dcai's "
        "final flush is included. Search: the filter `metrics.m > 0.5 and params.p = 3` "
        "(MLflow: `params.p = '3'`), returning a pandas DataFrame in both tools "
        "(`ws.runs(experiment=…, where=…)`; `mlflow.search_runs(…, max_results=50000)`), run "
        f"{SEARCH_REPEATS} times in one process: median, and the first call. The stores hold "
        "finished runs with 3 parameters and 2 metrics each (p = i mod 10, so about 5 % "
        "match), populated as fast as each public API allows — dcai: `start_run(params=…)` + "
        "`log_metrics` + `end`; MLflow: `MlflowClient.create_run` + `log_batch` + "
        f"`set_terminated` — the two large stores side by side (2 processes at once); MLflow's "
        f"population stops after {res['budget'] / 60:.0f} min. `import` is the time of the "
        f"import statement in a fresh process, median of {IMPORT_REPEATS}.",
        "",
        "| step | dcai | dcai peak RSS | MLflow | MLflow peak RSS | MLflow / dcai |",
        "|---|---:|---:|---:|---:|---:|",
        row("`import`", "import", _s),
        row("`start_run` + end, per call", "start_run", _us, "per_call"),
        row("`log_param`, per call", "log_param", _us, "per_call"),
        row("`log_metric`, per call", "log_metric", _us, "per_call"),
        row(f"{sizes['one_by_one']:,} `log_metric` one by one, one run", "one_by_one", _s),
        row(f"{sizes['runs']} runs × {sizes['values']} values", "series", _s),
        search_row("search_small", f"search with a filter, {n_small:,} runs"),
        search_row("search_large", large_label),
    ]
    pop = []
    for tool, name in (("dcai", "dcai"), ("mlflow", "MLflow")):
        r = res[f"{tool}.populate_large"]
        pop.append(
            f"{name} {r['runs']:,} runs in {_s(r['wall'])} "
            f"({r['runs'] / r['wall']:,.0f} runs/s, peak RSS {mb(r['peak_rss'])})"
        )
    lines += ["", "Populating the large stores (side by side): " + "; ".join(pop) + "."]
    if big["mlflow"] < res["large"]:
        lines.append(
            f"MLflow reached {big['mlflow']:,} of {res['large']:,} runs within its "
            f"{res['budget'] / 60:.0f}-min budget, so its large search ran over "
            f"{big['mlflow']:,} runs."
        )
    lines += ["", "| target | measured | |", "|---|---:|---|"]
    for target, measured, met in targets(res):
        lines.append(f"| {target} | {measured} | {'met' if met else '**missed**'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for development")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--large", type=int, help="runs in the large stores (default 30,000)")
    parser.add_argument("--mlflow-budget", type=float, help="seconds to populate MLflow's")
    parser.add_argument("--json", help="also write the raw figures to this file")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        step, *rest = args.child
        if step == "import":
            out = child_import(rest[0])
        elif step == "calls":
            out = child_calls(rest[0], rest[1], rest[2], int(rest[3]))
        elif step == "series":
            out = child_series(rest[0], rest[1], int(rest[2]), int(rest[3]))
        elif step == "populate":
            out = child_populate(rest[0], rest[1], int(rest[2]), float(rest[3]))
        elif step == "search":
            out = child_search(rest[0], rest[1])
        else:
            raise SystemExit(f"unknown step {step!r}")
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
        os._exit(0)  # skip MLflow's / dcai's exit hooks: the step is measured
    res = measure(args.quick, args.large, args.mlflow_budget)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2), encoding="utf-8")
    section = render(res, args.quick)
    write_section(Path(args.out), SECTION, section)
    print(section)
    missed = [t for t, _, met in targets(res) if not met]
    for target, measured, met in targets(res):
        print(f"{'met   ' if met else 'MISSED'}  {target}: {measured}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
