"""The compute seam: joblib and Dask give the same results, in order; bad settings say what to do."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dcai.compute import BACKENDS, ComputeBackend, parallel_map, resolve_backend
from dcai.config import Settings
from dcai.errors import InvalidInputError, MissingDependencyError


def _slow_square(x: int) -> int:
    # Earlier items sleep longer, so they finish last: results must still come back in order.
    time.sleep(0.05 * (4 - x))
    return x * x


def _fail_on_two(x: int) -> int:
    if x == 2:
        raise ZeroDivisionError("task 2 failed")
    return x


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    )
    yield cluster
    cluster.close()


def test_joblib_returns_results_in_input_order() -> None:
    assert parallel_map(_slow_square, range(5), n_jobs=2) == [0, 1, 4, 9, 16]


def test_n_jobs_1_runs_inline_in_this_process() -> None:
    seen: list[int] = []

    def record(x: int) -> int:
        seen.append(os.getpid())
        return x + 1

    assert parallel_map(record, [1, 2, 3], n_jobs=1) == [2, 3, 4]
    assert seen == [os.getpid()] * 3


def test_empty_items_and_progress() -> None:
    calls: list[tuple[str, int, int]] = []
    assert parallel_map(abs, [], progress=lambda *a: calls.append(a)) == []
    assert calls == [("tasks", 0, 0)]
    calls.clear()
    parallel_map(abs, [-1, -2], n_jobs=2, progress=lambda *a: calls.append(a), description="x")
    assert calls[0] == ("x", 0, 2)
    assert [done for _, done, _ in calls] == [0, 1, 2]


def test_task_errors_propagate() -> None:
    with pytest.raises(ZeroDivisionError, match="task 2 failed"):
        parallel_map(_fail_on_two, [1, 2, 3], n_jobs=1)


def test_unknown_backend_names_the_valid_ones() -> None:
    with pytest.raises(InvalidInputError, match="'joblib', 'dask'") as info:
        parallel_map(abs, [1], backend="spark")
    assert "spark" in str(info.value)
    assert BACKENDS == ("joblib", "dask")


@pytest.mark.parametrize("n_jobs", [0, 1.5, True])
def test_bad_n_jobs(n_jobs: Any) -> None:
    with pytest.raises(InvalidInputError, match="n_jobs"):
        parallel_map(abs, [1], n_jobs=n_jobs)


def test_resolve_backend_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_backend(None) == ComputeBackend("joblib", None)
    (tmp_path / "dcai.toml").write_text(
        '[compute]\nbackend = "dask"\nscheduler_address = "tcp://from-toml:8786"\n'
    )
    settings = Settings.load(tmp_path)
    assert resolve_backend(settings) == ComputeBackend("dask", "tcp://from-toml:8786")
    # An explicit argument beats the settings.
    assert resolve_backend(settings, "joblib") == ComputeBackend("joblib", None)
    assert resolve_backend(settings, scheduler_address="tcp://arg:1").scheduler_address == (
        "tcp://arg:1"
    )
    # Without settings, the environment is read directly.
    monkeypatch.setenv("DCAI_COMPUTE_BACKEND", "dask")
    monkeypatch.setenv("DCAI_SCHEDULER_ADDRESS", "tcp://from-env:8786")
    assert resolve_backend(None) == ComputeBackend("dask", "tcp://from-env:8786")
    monkeypatch.setenv("DCAI_COMPUTE_BACKEND", "ray")
    with pytest.raises(InvalidInputError, match="unknown compute backend 'ray'"):
        resolve_backend(None)


def test_import_does_not_load_dask() -> None:
    code = (
        "import sys, dcai.compute\n"
        "print(','.join(m for m in ('dask', 'distributed', 'sklearn', 'joblib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_dask_without_scheduler_or_client_says_what_to_set() -> None:
    pytest.importorskip("distributed")
    with pytest.raises(InvalidInputError) as info:
        parallel_map(abs, [1], backend="dask")
    message = str(info.value)
    assert "[compute] scheduler_address" in message
    assert "DCAI_SCHEDULER_ADDRESS" in message


def test_dask_unreachable_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("distributed")
    monkeypatch.setattr("dcai.compute._backends._CONNECT_TIMEOUT", "0.5s")
    with pytest.raises(InvalidInputError, match="cannot connect to the Dask scheduler"):
        parallel_map(abs, [1], backend="dask", scheduler_address="tcp://127.0.0.1:9")


def test_dask_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(MissingDependencyError, match=r"dcai\[scale\]"):
        parallel_map(abs, [1], backend="dask", scheduler_address="tcp://127.0.0.1:9")


def test_dask_by_address_in_order_with_progress(dask_cluster: Any) -> None:
    calls: list[tuple[str, int, int]] = []
    result = parallel_map(
        _slow_square,
        range(5),
        backend="dask",
        scheduler_address=dask_cluster.scheduler_address,
        progress=lambda *a: calls.append(a),
    )
    assert result == [0, 1, 4, 9, 16]
    assert [done for _, done, _ in calls] == [0, 1, 2, 3, 4, 5]


def test_dask_uses_the_open_client(dask_cluster: Any) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.Client(dask_cluster):
        assert parallel_map(lambda x: -x, [1, 2, 3], backend="dask") == [-1, -2, -3]


def test_dask_task_errors_propagate(dask_cluster: Any) -> None:
    with pytest.raises(ZeroDivisionError, match="task 2 failed"):
        parallel_map(
            _fail_on_two,
            [1, 2, 3],
            backend="dask",
            scheduler_address=dask_cluster.scheduler_address,
        )
