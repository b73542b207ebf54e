"""Server memory and CPU: the serving process samples itself into the usage log, and each
monitoring window reports the largest memory and the mean CPU use of the samples in it."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from dcai.deploy.prediction_log import USAGE_FIELDS, PartitionedLog, usage_log_dir
from dcai.monitor.windows import WINDOW_METRICS, compute_windows
from dcai.serve._usage import UsageSampler, resident_mb


def _rows(times: list[str]) -> pd.DataFrame:
    n = len(times)
    return pd.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(n)],
            "index": 0,
            "time": times,
            "route": "primary",
            "model_version": "m/1",
            "revision": 1,
            "inputs": ['{"x": 1.0}'] * n,
            "label": ["1"] * n,
            "confidence": [0.9] * n,
            "probabilities": ['{"0": 0.1, "1": 0.9}'] * n,
            "needs_review": False,
            "latency_ms": 5.0,
        }
    )


def test_each_window_gets_the_peak_memory_and_the_mean_cpu_of_its_samples() -> None:
    rows = _rows(
        ["2026-01-01T10:00:01+00:00", "2026-01-01T11:30:00+00:00", "2026-01-01T12:10:00+00:00"]
    )
    usage = pd.DataFrame(
        {
            "time": [
                "2026-01-01T10:00:10+00:00",
                "2026-01-01T10:59:59+00:00",
                "2026-01-01T11:00:00+00:00",  # the next window: windows are half-open
                "2026-01-01T13:30:00+00:00",  # after the last window: not counted
            ],
            "pid": [1, 2, 1, 1],
            "memory_mb": [300.0, 410.0, 320.0, 999.0],
            "cpu_percent": [20.0, 60.0, 10.0, 99.0],
        }
    )
    windows = compute_windows(rows, window_seconds=3600, usage=usage).windows
    assert {"server_memory_mb", "server_cpu_percent"} <= set(WINDOW_METRICS)
    assert windows["server_memory_mb"].tolist()[:2] == [410.0, 320.0]
    assert windows["server_cpu_percent"].tolist()[:2] == [40.0, 10.0]
    assert math.isnan(windows["server_memory_mb"].iloc[2])  # no sample in 12:00-13:00
    # Runs of requests: a sample counts in the run whose first and last request span it.
    runs = compute_windows(rows, every=2, usage=usage).windows
    assert runs["server_memory_mb"].tolist()[0] == 410.0


def test_without_usage_samples_the_server_metrics_are_missing() -> None:
    windows = compute_windows(_rows(["2026-01-01T10:00:01+00:00"]), window_seconds=60).windows
    assert np.isnan(windows[["server_memory_mb", "server_cpu_percent"]].to_numpy()).all()


def test_the_sampler_measures_this_process_and_logs_a_row_per_deployment(
    tmp_path: Path,
) -> None:
    log = PartitionedLog(usage_log_dir(tmp_path), USAGE_FIELDS, flush_interval=0.05)
    sampler = UsageSampler(log, lambda: ["web", "api"], interval=0.1)
    sampler.start()
    end = time.process_time() + 0.3
    while time.process_time() < end:  # burn CPU: the samples must see it
        sum(i * i for i in range(1000))
    time.sleep(0.15)
    sampler.stop()
    log.close()
    files = sorted(usage_log_dir(tmp_path).rglob("*.parquet"))
    rows = pd.concat([pq.read_table(f).to_pandas().assign(deployment=f.parts[-3]) for f in files])
    assert list(rows.columns[:-1]) == [name for name, _ in USAGE_FIELDS]
    assert set(rows["deployment"]) == {"deployment=web", "deployment=api"}
    assert (rows["pid"] == os.getpid()).all()
    assert rows["memory_mb"].between(10, 100_000).all()
    assert rows["cpu_percent"].max() > 20  # busy for most of at least one interval
    assert len(rows) >= 2 * 3  # several samples, and the last one taken by stop()


def test_resident_memory_grows_with_an_allocation() -> None:
    before = resident_mb()
    block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
    assert resident_mb() - before > 40
    del block
