"""The prediction log and the feedback log: rows of append-only Parquet, written in batches.

The prediction log holds every answered instance; the feedback log every label or outcome
that came back for one (delayed ground truth, a person's review decision, a click); the error
log every request a model failed to answer.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

__all__ = [
    "ERROR_FIELDS",
    "FEEDBACK_FIELDS",
    "PREDICTION_FIELDS",
    "USAGE_FIELDS",
    "LogBlock",
    "PartitionedLog",
    "error_log_dir",
    "feedback_log_dir",
    "inputs_json",
    "prediction_block",
    "prediction_log_dir",
    "to_json",
    "usage_log_dir",
]

logger = logging.getLogger(__name__)

#: Prediction log columns and their Arrow types (``deployment`` and ``date`` are the partition
#: folders, read back as columns by pandas, pyarrow and DuckDB).
PREDICTION_FIELDS: tuple[tuple[str, str], ...] = (
    ("request_id", "string"),
    ("index", "int32"),
    ("time", "string"),
    ("revision", "int32"),
    ("route", "string"),
    ("model_version", "string"),
    ("inputs", "string"),
    ("label", "string"),
    ("confidence", "float64"),
    ("probabilities", "string"),
    ("needs_review", "bool"),
    ("latency_ms", "float64"),
)

#: Feedback log columns: a label (JSON) or an outcome for one answered instance.
FEEDBACK_FIELDS: tuple[tuple[str, str], ...] = (
    ("request_id", "string"),
    ("index", "int32"),
    ("time", "string"),
    ("label", "string"),
    ("outcome", "string"),
    ("source", "string"),
)

#: Error log columns: one row per request a model failed to answer (the caller got a 500).
#: Guard-rails read it (``error_rate`` of a ramp, docs/deploy.md).
ERROR_FIELDS: tuple[tuple[str, str], ...] = (
    ("request_id", "string"),
    ("time", "string"),
    ("revision", "int32"),
    ("route", "string"),
    ("model_version", "string"),
    ("instances", "int32"),
    ("error", "string"),
    ("latency_ms", "float64"),
)


def to_json(value: Any) -> str:
    """``value`` as strict, compact JSON text: NaN and infinity are written as ``null``, keys as
    strings, and a type JSON lacks (a NumPy scalar, a ``Decimal``) as its ``str``.

    One C call (orjson) per value: the server writes three of these for every answered
    instance, so the standard library's encoder was a third of its time at 100 rows/request.

    >>> to_json({"x": float("nan"), "colour": "red", 1: 0.25})
    '{"x":null,"colour":"red","1":0.25}'
    """
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


#: Usage log columns: a serving process's resource use, sampled every few seconds (one row per
#: deployment it serves; ``dcai.serve._usage``). CPU is percent of one core since the last sample.
USAGE_FIELDS: tuple[tuple[str, str], ...] = (
    ("time", "string"),
    ("host", "string"),
    ("pid", "int32"),
    ("memory_mb", "float64"),
    ("cpu_percent", "float64"),
    ("load_per_core", "float64"),
)


def inputs_json(row: dict[str, Any]) -> str:
    """One instance's inputs as the log keeps them: strict JSON, missing values (NaN, None)
    as ``null``.

    >>> inputs_json({"x": float("nan"), "colour": "red"})
    '{"x":null,"colour":"red"}'
    """
    return to_json(row)


@dataclass(frozen=True)
class LogBlock:
    """The log rows of one request (or one batch chunk), by column.

    ``values`` maps a field to a list of ``size`` values, or to one value shared by every row
    (the request id, time, route, ...). Every row must have the same ``deployment`` and the
    same date in ``time``: they choose the partition. Without an ``index`` field the rows are
    numbered 0, 1, ...: a request's instances in order. Queuing one block per request instead
    of one dict per row is what keeps the log's cost per instance small.
    """

    size: int
    values: dict[str, Any]

    @property
    def partition(self) -> tuple[str, str]:
        """``(deployment, date)``: the folder its rows go to."""
        return str(self._first("deployment")), str(self._first("time"))[:10]

    def _first(self, name: str) -> Any:
        value = self.values.get(name)
        return value[0] if isinstance(value, list) else value

    def column(self, name: str) -> list[Any]:
        if name == "index" and "index" not in self.values:
            return list(range(self.size))
        value = self.values.get(name)
        return value if isinstance(value, list) else [value] * self.size

    def rows(self) -> list[dict[str, Any]]:
        """The block as one dict per row (its fields, and ``index``)."""
        names = [*self.values, *(() if "index" in self.values else ("index",))]
        columns = [self.column(name) for name in names]
        return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def prediction_block(
    answers: list[dict[str, Any]],
    inputs: list[str],
    *,
    needs_review: list[bool] | bool = False,
    **shared: Any,
) -> LogBlock:
    """The prediction-log rows of one answered request: ``answers`` as
    :func:`dcai.deploy._models.answers` gives them, ``inputs`` as :func:`inputs_json` wrote
    them, and the fields every row shares (``request_id``, ``time``, ``deployment``,
    ``revision``, ``route``, ``model_version``, ``latency_ms``).

    >>> block = prediction_block(
    ...     [{"label": 1, "confidence": 0.9, "probabilities": {"0": 0.1, "1": 0.9}}],
    ...     ['{"x":3}'], request_id="r1", time="2026-01-01T00:00:00+00:00",
    ...     deployment="web", route="primary")
    >>> block.column("label"), block.column("index"), block.partition
    (['1'], [0], ('web', '2026-01-01'))
    >>> block.rows()[0]["probabilities"]
    '{"0":0.1,"1":0.9}'
    """
    return LogBlock(
        len(answers),
        shared
        | {
            "inputs": inputs,
            "label": [to_json(a["label"]) for a in answers],
            "confidence": [a["confidence"] for a in answers],
            "probabilities": [to_json(a["probabilities"]) for a in answers],
            "needs_review": needs_review,
        },
    )


def _blocks(rows: list[dict[str, Any]]) -> list[LogBlock]:
    """Row dicts as blocks, one per partition (every field a column)."""
    parts: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        parts[(str(row["deployment"]), str(row["time"])[:10])].append(row)
    out = []
    for part in parts.values():
        names = {name for row in part for name in row}
        columns: dict[str, Any] = {name: [row.get(name) for row in part] for name in names}
        out.append(LogBlock(len(part), columns))
    return out


def prediction_log_dir(root: Path) -> Path:
    """Where a workspace's prediction log lives (``root`` is the workspace folder)."""
    return Path(root) / "logs" / "predictions"


def feedback_log_dir(root: Path) -> Path:
    """Where a workspace's feedback log lives."""
    return Path(root) / "logs" / "feedback"


def usage_log_dir(root: Path) -> Path:
    """Where a workspace's log of the serving processes' resource use lives."""
    return Path(root) / "logs" / "usage"


def error_log_dir(root: Path) -> Path:
    """Where a workspace's log of failed requests lives."""
    return Path(root) / "logs" / "errors"


class PartitionedLog:
    """A background writer of rows (thread-safe ``append``; ``close`` flushes).

    Each row needs ``deployment`` and ``time`` (ISO 8601, UTC): they choose the partition.
    """

    def __init__(
        self,
        root: Path,
        fields: tuple[tuple[str, str], ...] = PREDICTION_FIELDS,
        *,
        flush_interval: float = 1.0,
        batch_rows: int = 50_000,
        max_queued: int = 1_000_000,
        on_drop: Callable[[int], None] | None = None,
    ) -> None:
        self.root = Path(root)
        self.fields = fields
        self.flush_interval = flush_interval
        self.batch_rows = batch_rows
        # Items are blocks (one per request): one queue operation per request, not per row.
        # ``max_queued`` bounds the rows waiting (approximately: whole requests).
        self._queue: queue.Queue[LogBlock | None] = queue.Queue()
        self.max_queued = max_queued
        self._queued = 0
        self._queued_lock = threading.Lock()
        self._on_drop = on_drop
        self.dropped_rows = 0
        self.written_rows = 0
        self._counter = itertools.count()
        self._thread = threading.Thread(target=self._run, name="dcai-log-writer", daemon=True)
        self._thread.start()

    def append(self, row: dict[str, Any]) -> None:
        """Queue one row; never blocks (a full queue drops the row and counts it)."""
        self.extend([row])

    def extend(self, rows: list[dict[str, Any]]) -> None:
        """Queue rows given as dicts; never blocks (past ``max_queued`` waiting rows they are
        dropped and counted)."""
        for block in _blocks(rows):
            self.extend_block(block)

    def extend_block(self, block: LogBlock) -> None:
        """Queue the rows of one request together; never blocks (past ``max_queued`` waiting
        rows they are dropped and counted)."""
        if block.size <= 0:
            return
        with self._queued_lock:
            full = self._queued + block.size > self.max_queued
            if not full:
                self._queued += block.size
        if full:
            self._drop(block.size)
            return
        self._queue.put_nowait(block)

    def _drop(self, n: int) -> None:
        self.dropped_rows += n
        if self._on_drop is not None:
            self._on_drop(n)

    def _run(self) -> None:
        batch: list[LogBlock] = []
        rows = 0
        deadline = time.monotonic() + self.flush_interval
        while True:
            timeout = max(0.0, deadline - time.monotonic())
            try:
                block = self._queue.get(timeout=timeout)
            except queue.Empty:
                block = LogBlock(0, {})
            if block is None:  # close()
                self._write(batch)
                return
            if block.size:
                batch.append(block)
                rows += block.size
                with self._queued_lock:
                    self._queued -= block.size
            if rows >= self.batch_rows or time.monotonic() >= deadline:
                self._write(batch)
                batch, rows = [], 0
                deadline = time.monotonic() + self.flush_interval

    def _write(self, batch: list[LogBlock]) -> None:
        if not batch:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        parts: dict[tuple[str, str], list[LogBlock]] = defaultdict(list)
        for block in batch:
            parts[block.partition].append(block)
        schema = pa.schema([(name, pa.type_for_alias(kind)) for name, kind in self.fields])
        for (deployment, date), blocks in parts.items():
            folder = self.root / f"deployment={deployment}" / f"date={date}"
            name = f"part-{time.time_ns()}-{os.getpid()}-{next(self._counter)}.parquet"
            size = sum(block.size for block in blocks)
            try:
                folder.mkdir(parents=True, exist_ok=True)
                columns: dict[str, list[Any]] = {}
                for field, _ in self.fields:
                    values: list[Any] = []
                    for block in blocks:
                        values.extend(block.column(field))
                    columns[field] = values
                table = pa.Table.from_pydict(columns, schema=schema)
                tmp = folder / f".{name}.tmp"
                pq.write_table(table, tmp, compression="zstd")
                os.replace(tmp, folder / name)
                self.written_rows += size
            except Exception as exc:  # a full or read-only disk, or a row Arrow cannot take
                # Anything raised here would end the writer thread and lose every later row
                # without counting it: drop this batch, count it, and keep writing.
                logger.error(
                    "%s log: dropped %d rows: cannot write %s: %s",
                    self.root.name,
                    size,
                    folder,
                    exc,
                )
                self._drop(size)
                with contextlib.suppress(OSError):
                    (folder / f".{name}.tmp").unlink(missing_ok=True)

    def close(self, timeout: float = 30.0) -> None:
        """Write everything queued, then stop the writer."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)
