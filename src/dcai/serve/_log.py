"""The prediction log: every answered instance as a row of append-only Parquet.

Rows are queued by the request handlers and written by one background thread in batches
(every ``flush_interval`` seconds, or sooner past ``batch_rows``), so logging never blocks a
request. Files are partitioned by deployment and date —
``<root>/deployment=<name>/date=<YYYY-MM-DD>/part-<time>-<pid>-<n>.parquet``, Hive-style, so
that pandas, pyarrow and DuckDB read ``deployment`` and ``date`` back as columns (the files do
not repeat them) — and each is written
to a temporary name and renamed, so a reader (DuckDB, pandas) never sees half a file and a
``kill -9`` loses at most the rows of the last interval. When the log store fails (full,
read-only), the request still succeeds; the rows are dropped and counted
(``dropped_rows``, and ``dcai_log_dropped_rows_total`` on ``/metrics``).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["FILE_COLUMNS", "LOG_COLUMNS", "PredictionLog"]

logger = logging.getLogger(__name__)

#: The columns of every log row, in order.
LOG_COLUMNS = (
    "request_id",
    "index",
    "time",
    "deployment",
    "revision",
    "route",
    "model_version",
    "inputs",
    "label",
    "confidence",
    "probabilities",
    "needs_review",
    "latency_ms",
)

#: The columns stored in each file: the deployment is in the partition path.
FILE_COLUMNS = tuple(c for c in LOG_COLUMNS if c != "deployment")


class PredictionLog:
    """A background writer of prediction rows (thread-safe ``append``; ``close`` flushes)."""

    def __init__(
        self,
        root: Path,
        *,
        flush_interval: float = 1.0,
        batch_rows: int = 50_000,
        max_queued: int = 1_000_000,
        on_drop: Callable[[int], None] | None = None,
    ) -> None:
        self.root = Path(root)
        self.flush_interval = flush_interval
        self.batch_rows = batch_rows
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=max_queued)
        self._on_drop = on_drop
        self.dropped_rows = 0
        self.written_rows = 0
        self._counter = itertools.count()
        self._idle = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dcai-prediction-log", daemon=True)
        self._thread.start()

    def append(self, row: dict[str, Any]) -> None:
        """Queue one row; never blocks (a full queue drops the row and counts it)."""
        try:
            self._queue.put_nowait(row)
        except queue.Full:
            self._drop(1)

    def _drop(self, n: int) -> None:
        self.dropped_rows += n
        if self._on_drop is not None:
            self._on_drop(n)

    def _run(self) -> None:
        batch: list[dict[str, Any]] = []
        deadline = time.monotonic() + self.flush_interval
        while True:
            timeout = max(0.0, deadline - time.monotonic())
            try:
                row = self._queue.get(timeout=timeout)
            except queue.Empty:
                row = {}
            if row is None:  # close()
                self._write(batch)
                return
            if row:
                batch.append(row)
            if len(batch) >= self.batch_rows or time.monotonic() >= deadline:
                self._write(batch)
                batch = []
                deadline = time.monotonic() + self.flush_interval

    def _write(self, batch: list[dict[str, Any]]) -> None:
        if not batch:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        parts: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for row in batch:
            parts[(str(row["deployment"]), str(row["time"])[:10])].append(row)
        for (deployment, date), rows in parts.items():
            folder = self.root / f"deployment={deployment}" / f"date={date}"
            name = f"part-{time.time_ns()}-{os.getpid()}-{next(self._counter)}.parquet"
            try:
                folder.mkdir(parents=True, exist_ok=True)
                table = pa.Table.from_pylist(
                    [{c: r.get(c) for c in FILE_COLUMNS} for r in rows], schema=_schema()
                )
                tmp = folder / f".{name}.tmp"
                pq.write_table(table, tmp, compression="zstd")
                os.replace(tmp, folder / name)
                self.written_rows += len(rows)
            except OSError as exc:
                logger.error(
                    "prediction log: dropped %d rows: cannot write %s: %s", len(rows), folder, exc
                )
                self._drop(len(rows))
                with contextlib.suppress(OSError):
                    (folder / f".{name}.tmp").unlink(missing_ok=True)

    def close(self, timeout: float = 30.0) -> None:
        """Write everything queued, then stop the writer."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("request_id", pa.string()),
            ("index", pa.int32()),
            ("time", pa.string()),
            ("revision", pa.int32()),
            ("route", pa.string()),
            ("model_version", pa.string()),
            ("inputs", pa.string()),
            ("label", pa.string()),
            ("confidence", pa.float64()),
            ("probabilities", pa.string()),
            ("needs_review", pa.bool_()),
            ("latency_ms", pa.float64()),
        ]
    )
