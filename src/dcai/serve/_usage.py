"""The serving process's own resource use, sampled into the usage log for monitoring.

Every ``interval`` seconds a background thread measures the process's resident memory, its
CPU use since the previous sample (CPU seconds of all its threads over wall seconds, in
percent of one core) and the machine's 1-minute load average per core, and logs one row per
deployment served (``logs/usage/deployment=NAME/date=DATE/``), so that ``dcai monitor`` puts
``server_memory_mb`` and ``server_cpu_percent`` beside each window's latency and error rate.
A last sample is taken when the server stops. Resident memory is read from
``/proc/self/statm`` on Linux; elsewhere the peak resident size from ``getrusage`` stands in.
"""

from __future__ import annotations

import math
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from dcai.deploy.prediction_log import PartitionedLog

__all__ = ["UsageSampler", "resident_mb"]


def resident_mb() -> float:
    """This process's resident memory in MiB (its peak where the current size is unknown)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # bytes on macOS, KiB else
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _load_per_core() -> float | None:
    try:
        return os.getloadavg()[0] / (os.cpu_count() or 1)
    except (OSError, AttributeError):  # not on this platform
        return None


class UsageSampler:
    """Samples this process every ``interval`` seconds into ``log`` (one row per name that
    ``deployments()`` gives at that moment); ``stop`` takes a last sample."""

    def __init__(
        self,
        log: PartitionedLog,
        deployments: Callable[[], Iterable[str]],
        *,
        interval: float = 10.0,
    ) -> None:
        if not math.isfinite(interval) or interval <= 0:
            raise ValueError(f"the usage interval must be a positive number of seconds: {interval}")
        self.log = log
        self.deployments = deployments
        self.interval = interval
        self._host = socket.gethostname()
        self._stop = threading.Event()
        self._last = (time.monotonic(), time.process_time())
        self._thread = threading.Thread(target=self._run, name="dcai-usage", daemon=True)

    def start(self) -> None:
        self._last = (time.monotonic(), time.process_time())
        self._thread.start()

    def measure(self) -> dict[str, Any]:
        """One sample: ``memory_mb``, ``cpu_percent`` since the previous sample (NaN for an
        interval too short to measure) and ``load_per_core``."""
        wall, cpu = time.monotonic(), time.process_time()
        last_wall, last_cpu = self._last
        self._last = (wall, cpu)
        span = wall - last_wall
        return {
            "time": datetime.now(UTC).isoformat(timespec="microseconds"),
            "host": self._host,
            "pid": os.getpid(),
            "memory_mb": resident_mb(),
            "cpu_percent": 100.0 * (cpu - last_cpu) / span if span > 1e-3 else math.nan,
            "load_per_core": _load_per_core(),
        }

    def sample(self) -> None:
        """Measure now and log the sample for every deployment served."""
        row = self.measure()
        self.log.extend([row | {"deployment": name} for name in sorted(self.deployments())])

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sample()
            except Exception:  # a sample must never end the server; the next one may work
                continue

    def stop(self) -> None:
        """Stop sampling, after a last sample."""
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join(5)
            self.sample()
