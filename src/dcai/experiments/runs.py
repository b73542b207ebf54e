"""Runs: code + data + parameters + results, recorded together, cheaply.

``ws.runs.start(experiment=..., dataset=REF, params={...})`` opens a :class:`Run`. It records by
itself the dataset version (its full content hash), the code version (git commit, branch, dirty
flag, the diff against HEAD as an artifact, untracked files; outside git the entry script's
hash), the environment, the times and the status. Used as a context manager the run ends
``FINISHED``, or ``FAILED`` with the exception; a run whose process died is reported
``CRASHED``.

Logging is buffered: ``log_metric`` appends to a list in memory (about a microsecond) and a
background thread writes the buffer in one transaction every ``FLUSH_INTERVAL_S`` (0.5 s), as
soon as ``FLUSH_AT_VALUES`` (10,000) values are pending, at run end and at exit. A run never
holds more than ``MAX_UNFLUSHED_VALUES`` (40,000) unwritten metric values: the ``log_metric``
call that reaches it writes the buffer itself before returning (back-pressure). A hard kill
(``kill -9``, power loss) therefore loses at most the values logged in the last second and
never more than 40,000 values per run; values flushed before it are kept and the run shows as
``CRASHED``. The three constants are module attributes read at each use, so they can be set
(``dcai.experiments.runs.FLUSH_AT_VALUES = 5_000``).

>>> import tempfile, dcai
>>> ws = dcai.Workspace.init(tempfile.mkdtemp())
>>> with ws.runs.start(experiment="demo", params={"C": 1.0}, capture_code=False) as run:
...     for step in range(3):
...         run.log_metric("loss", 1.0 / (step + 1))
>>> frame = ws.runs(experiment="demo")
>>> row = frame.iloc[0]
>>> row["status"], row["params.C"], round(float(row["metrics.loss"]), 3)
('FINISHED', '1.0', 0.333)
"""

from __future__ import annotations

import atexit
import io
import json
import math
import os
import socket
import threading
import time
import traceback
import uuid
import weakref
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from dcai._provenance import current_author, now_iso
from dcai.errors import InvalidInputError, UnknownRefError
from dcai.store import schema as t

if TYPE_CHECKING:
    from dcai.data.versions import DatasetVersion
    from dcai.store import Stores

__all__ = ["FLUSH_AT_VALUES", "FLUSH_INTERVAL_S", "MAX_UNFLUSHED_VALUES", "Run", "start_run"]

#: The background thread writes buffered values this often (seconds). A value is written at
#: most this long plus one write (≤ MAX_UNFLUSHED_VALUES rows: ~0.2 s on a 2-core laptop)
#: after it is logged: the documented one-second loss bound.
FLUSH_INTERVAL_S = 0.5
#: The background thread is woken to write a run's buffer once this many metric values are
#: pending. A write of 10,000 values takes ~50 ms (SQLite, 2-core laptop: ~200,000 rows/s).
FLUSH_AT_VALUES = 10_000
#: Hard cap on a run's unwritten metric values (buffered + being written): the ``log_metric``
#: call that reaches it writes the buffer itself before returning (back-pressure), so a hard
#: kill never loses more values than this. Measured: a tight logging loop (~1 µs per call)
#: then runs at the store's write rate (~200,000 values/s) and loses ≤ 40,000 values.
MAX_UNFLUSHED_VALUES = 40_000
#: An idle run's heartbeat is refreshed this often…
HEARTBEAT_S = 30.0
#: …and a RUNNING run whose heartbeat is older than this is reported CRASHED.
STALE_AFTER_S = 300.0
_MAX_KEY = 250


class Run:
    """One run (see the module docstring). Create it with ``ws.start_run``."""

    def __init__(
        self,
        stores: Stores,
        pk: int,
        run_id: str,
        experiment: str,
        name: str,
        dataset: DatasetVersion | None,
        code: dict[str, Any],
    ) -> None:
        self._bound_stores = stores
        self._pk = pk
        self.id = run_id
        self.experiment = experiment
        self.name = name
        self.dataset = dataset
        self.code = code
        self.status = "RUNNING"
        self._params: dict[str, str] = {}
        self._metrics: list[tuple[str, float, int, float]] = []
        self._inflight = 0  # metric values taken by a flush whose transaction is not done
        self._steps: dict[str, int] = {}
        self._tags: dict[str, str] = {}
        self._written: dict[str, str] = {}
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._last_write = time.time()
        _OPEN_RUNS.add(self)
        _ensure_flusher()

    @property
    def short_id(self) -> str:
        return self.id[:8]

    def __repr__(self) -> str:
        return f"<Run {self.short_id} {self.experiment}/{self.name} {self.status}>"

    # Logging -----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self.status != "RUNNING":
            raise InvalidInputError(
                f"run {self.short_id} is {self.status}; nothing more can be logged to it",
                hint="Start a new run: ws.runs.start(...)",
            )

    def log_param(self, key: str, value: Any) -> None:
        """Record a parameter; a parameter is set once (the same value again is allowed)."""
        self.log_params({key: value})

    def log_params(self, params: dict[str, Any]) -> None:
        """Record several parameters at once."""
        self._check_open()
        with self._lock:
            for key, value in params.items():
                key = _check_key(key, "parameter")
                text = value if isinstance(value, str) else json.dumps(value, default=str)
                old = self._params.get(key)
                if old is not None and old != text:
                    raise InvalidInputError(
                        f"parameter {key!r} of run {self.short_id} is already {old}; got {text}",
                        hint="Parameters are set once per run; start a new run to change one.",
                    )
                self._params[key] = text

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Append one value of a metric (``step`` defaults to the key's next step: 0, 1, …)."""
        if self.status != "RUNNING":
            self._check_open()
        number = float(value)
        if not math.isfinite(number):
            raise InvalidInputError(f"metric {key!r} must be a finite number; got {value!r}")
        with self._lock:
            if step is None:
                step = self._steps.get(key, -1) + 1
            self._steps[key] = max(step, self._steps.get(key, -1))
            self._metrics.append((key, number, int(step), time.time()))
            pending = len(self._metrics) + self._inflight
        if pending >= FLUSH_AT_VALUES:
            self._backlog(pending)

    def _backlog(self, pending: int) -> None:
        """Many values are unwritten: wake the writer, or at the hard cap write them here."""
        if pending >= MAX_UNFLUSHED_VALUES:
            # Back-pressure: wait for a write in progress, then write the rest ourselves, so
            # that a hard kill never loses more than MAX_UNFLUSHED_VALUES values.
            self.flush()
        elif not _WAKE.is_set():
            _WAKE.set()

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Append one value of each metric, at one step."""
        for key, value in metrics.items():
            self.log_metric(_check_key(key, "metric"), value, step)

    def set_tag(self, key: str, value: Any) -> None:
        """Set (or replace) a tag."""
        self._check_open()
        with self._lock:
            self._tags[_check_key(key, "tag")] = str(value)

    def log_artifact(self, source: str | Path | bytes, name: str | None = None) -> str:
        """Store a file (or bytes) as a content-addressed artifact of the run; returns its sha256."""
        self._check_open()
        if isinstance(source, bytes):
            if not name:
                raise InvalidInputError("an artifact given as bytes needs a name")
            data = source
        else:
            path = Path(source)
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise InvalidInputError(
                    f"cannot read the artifact: {exc.strerror}", path=str(path)
                ) from exc
            name = name or path.name
        return self._put_artifact(name, data, kind="file")

    def log_figure(self, figure: Any, name: str) -> str:
        """Store a plotly figure (as self-contained HTML) or a matplotlib one (as PNG)."""
        self._check_open()
        if hasattr(figure, "to_html"):
            data = figure.to_html(include_plotlyjs=True, full_html=True).encode("utf-8")
            suffix = ".html"
        elif hasattr(figure, "savefig"):
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png")
            data, suffix = buffer.getvalue(), ".png"
        else:
            raise InvalidInputError(
                f"cannot store a {type(figure).__name__} as a figure",
                hint="Give a plotly or matplotlib figure.",
            )
        return self._put_artifact(name if name.endswith(suffix) else name + suffix, data, "figure")

    def _put_artifact(self, name: str, data: bytes, kind: str) -> str:
        digest = _put_bytes(self._bound_stores, data)
        with self._bound_stores.meta.transaction() as conn:
            conn.execute(
                t.run_artifacts.delete().where(
                    (t.run_artifacts.c.run_id == self._pk) & (t.run_artifacts.c.name == name)
                )
            )
            conn.execute(
                t.run_artifacts.insert().values(
                    run_id=self._pk, name=name, object=digest, size=len(data), kind=kind
                )
            )
        return digest

    # Writing -----------------------------------------------------------------------------

    def flush(self, *, heartbeat: bool = True) -> None:
        """Write buffered parameters, metrics and tags in one transaction.

        Flushes of one run are serialised (the background thread and the caller may flush at
        the same time); if the transaction fails, the values go back into the buffer.
        """
        with self._flush_lock:
            with self._lock:
                new_params = {k: v for k, v in self._params.items() if k not in self._written}
                metrics, self._metrics = self._metrics, []
                self._inflight = len(metrics)
                tags, self._tags = self._tags, {}
            if not (new_params or metrics or tags or heartbeat):
                return
            now = time.time()
            try:
                self._write(new_params, metrics, tags, now)
            except BaseException:
                with self._lock:
                    self._metrics[:0] = metrics
                    self._inflight = 0
                    self._tags = {**tags, **self._tags}
                raise
            with self._lock:
                self._inflight = 0
            self._written.update(new_params)
            self._last_write = now

    def _write(
        self,
        params: dict[str, str],
        metrics: list[tuple[str, float, int, float]],
        tags: dict[str, str],
        now: float,
    ) -> None:
        with self._bound_stores.meta.transaction() as conn:
            if params:
                conn.execute(
                    t.run_params.insert(),
                    [{"run_id": self._pk, "key": k, "value": v} for k, v in params.items()],
                )
            if metrics:
                conn.execute(
                    t.run_metrics.insert(),
                    [
                        {"run_id": self._pk, "key": k, "value": v, "step": s, "timestamp": ts}
                        for k, v, s, ts in metrics
                    ],
                )
                _upsert_latest(conn, self._pk, metrics)
            for key, value in tags.items():
                conn.execute(
                    t.run_tags.delete().where(
                        (t.run_tags.c.run_id == self._pk) & (t.run_tags.c.key == key)
                    )
                )
                conn.execute(t.run_tags.insert().values(run_id=self._pk, key=key, value=value))
            conn.execute(update(t.runs).where(t.runs.c.id == self._pk).values(heartbeat_at=now))

    def _pending(self) -> int:
        return len(self._metrics)

    def _due(self) -> bool:
        with self._lock:
            pending = bool(self._metrics or self._tags) or len(self._params) > len(self._written)
        return pending or time.time() - self._last_write >= HEARTBEAT_S

    def end(self, status: str = "FINISHED", error: str | None = None) -> None:
        """Flush and close the run as FINISHED or FAILED (ending twice does nothing)."""
        if self.status != "RUNNING":
            return
        if status not in ("FINISHED", "FAILED"):
            raise InvalidInputError(f"a run ends FINISHED or FAILED; got {status!r}")
        self.flush()
        with self._bound_stores.meta.transaction() as conn:
            conn.execute(
                update(t.runs)
                .where(t.runs.c.id == self._pk)
                .values(status=status, error=error, ended_at=now_iso(), heartbeat_at=time.time())
            )
        self.status = status
        _OPEN_RUNS.discard(self)

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if error is None:
            self.end("FINISHED")
        else:
            text = "".join(traceback.format_exception(kind, error, tb))[-20_000:]
            self.end("FAILED", error=text)


def _put_bytes(stores: Stores, data: bytes) -> str:
    """Store bytes as a content-addressed object; its sha256."""

    def write(path: Path) -> None:
        path.write_bytes(data)

    return stores.objects.write(write)


def _check_key(key: Any, what: str) -> str:
    if not isinstance(key, str) or not key or len(key) > _MAX_KEY:
        raise InvalidInputError(
            f"a {what} name must be a non-empty string of at most {_MAX_KEY} characters; "
            f"got {key!r}"
        )
    return key


def _upsert_latest(conn: Any, run_pk: int, metrics: list[tuple[str, float, int, float]]) -> None:
    """Keep ``run_latest_metrics`` at each key's highest step (the latest write wins ties)."""
    latest: dict[str, tuple[float, int]] = {}
    for key, value, step, _ in metrics:
        if key not in latest or step >= latest[key][1]:
            latest[key] = (value, step)
    rows = conn.execute(
        select(t.run_latest_metrics.c.key, t.run_latest_metrics.c.step).where(
            (t.run_latest_metrics.c.run_id == run_pk) & t.run_latest_metrics.c.key.in_(list(latest))
        )
    ).all()
    stored = {r.key: r.step for r in rows}
    for key, (value, step) in latest.items():
        if key not in stored:
            conn.execute(
                t.run_latest_metrics.insert().values(run_id=run_pk, key=key, value=value, step=step)
            )
        elif step >= stored[key]:
            conn.execute(
                update(t.run_latest_metrics)
                .where(
                    (t.run_latest_metrics.c.run_id == run_pk) & (t.run_latest_metrics.c.key == key)
                )
                .values(value=value, step=step)
            )


# The background flusher: one daemon thread per process for every open run. ---------------

_OPEN_RUNS: weakref.WeakSet[Run] = weakref.WeakSet()
_FLUSHER: threading.Thread | None = None
_FLUSHER_LOCK = threading.Lock()
#: Set by ``log_metric`` when a run has FLUSH_AT_VALUES values pending.
_WAKE = threading.Event()


def _flush_loop() -> None:
    """Every FLUSH_INTERVAL_S write every due run; when woken, the runs with a backlog."""
    next_tick = time.monotonic() + FLUSH_INTERVAL_S
    while True:
        wait = min(max(0.0, next_tick - time.monotonic()), threading.TIMEOUT_MAX)
        _WAKE.wait(wait)
        _WAKE.clear()
        now = time.monotonic()
        timed = now >= next_tick
        if timed:
            next_tick = now + FLUSH_INTERVAL_S
        for run in list(_OPEN_RUNS):
            if run.status != "RUNNING":
                continue
            if run._pending() >= FLUSH_AT_VALUES or (timed and run._due()):
                try:
                    run.flush()
                except Exception:  # a busy or closed workspace: try again next tick
                    continue


def _ensure_flusher() -> None:
    global _FLUSHER
    with _FLUSHER_LOCK:
        if _FLUSHER is None or not _FLUSHER.is_alive():
            _FLUSHER = threading.Thread(target=_flush_loop, name="dcai-run-flush", daemon=True)
            _FLUSHER.start()


@atexit.register
def _flush_at_exit() -> None:
    """At interpreter exit, flush every open run and end it FINISHED (a normal exit)."""
    for run in list(_OPEN_RUNS):
        try:
            run.end("FINISHED")
        except Exception:
            continue


# Starting and reading runs ------------------------------------------------------------------


def _experiment_pk(conn: Any, name: str) -> int:
    row = conn.execute(select(t.experiments.c.id).where(t.experiments.c.name == name)).first()
    if row is not None:
        return int(row.id)
    return int(
        conn.execute(
            t.experiments.insert().values(name=name, created_at=now_iso())
        ).inserted_primary_key[0]
    )


def _version_pk(conn: Any, version: DatasetVersion) -> int:
    return int(
        conn.execute(
            select(t.versions.c.id)
            .select_from(t.versions.join(t.datasets, t.versions.c.dataset_id == t.datasets.c.id))
            .where(
                (t.datasets.c.name == version.dataset) & (t.versions.c.version_hash == version.id)
            )
        ).scalar_one()
    )


def start_run(
    stores: Stores,
    *,
    experiment: str = "default",
    dataset: str | None = None,
    params: dict[str, Any] | None = None,
    name: str | None = None,
    tags: dict[str, Any] | None = None,
    author: str | None = None,
    capture_code: bool = True,
) -> Run:
    """Open a run (see the module docstring); use it as a context manager.

    ``dataset`` is a version ref (``name`` means its latest version), recorded by its full
    content hash. With ``capture_code`` (default) the git state — or the entry script's hash —
    and the diff against HEAD are recorded.
    """
    from dcai.experiments._code_version import capture_code_version
    from dcai.experiments._environment import capture_environment

    if not isinstance(experiment, str) or not experiment.strip():
        raise InvalidInputError("the experiment name must be a non-empty string")
    version = None
    if dataset is not None:
        from dcai.data.versions import resolve_ref  # only when a dataset is named: loads pandas

        version = resolve_ref(stores, dataset)
    code: dict[str, Any] = {"kind": "not captured"}
    diff_object = None
    diff_size = 0
    if capture_code:
        captured = capture_code_version()
        code = captured.to_dict()
        if captured.diff:
            diff_object = _put_bytes(stores, captured.diff)
            diff_size = len(captured.diff)
    env = capture_environment()
    run_id = uuid.uuid4().hex
    with stores.meta.transaction() as conn:
        experiment_pk = _experiment_pk(conn, experiment)
        pk = int(
            conn.execute(
                t.runs.insert().values(
                    run_id=run_id,
                    experiment_id=experiment_pk,
                    name=name or run_id[:8],
                    status="RUNNING",
                    version_id=_version_pk(conn, version) if version is not None else None,
                    code_json=json.dumps(code, default=str),
                    env_json=json.dumps(env, default=str),
                    diff_object=diff_object,
                    author=current_author(author),
                    hostname=socket.gethostname(),
                    pid=os.getpid(),
                    started_at=now_iso(),
                    heartbeat_at=time.time(),
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )
    run = Run(stores, pk, run_id, experiment, name or run_id[:8], version, code)
    if diff_object is not None:
        with stores.meta.transaction() as conn:
            conn.execute(
                t.run_artifacts.insert().values(
                    run_id=pk, name="code.diff", object=diff_object, size=diff_size, kind="code"
                )
            )
    if params:
        run.log_params(params)
    for key, value in (tags or {}).items():
        run.set_tag(key, value)
    run.flush()
    return run


def effective_status(status: str, hostname: str, pid: int, heartbeat: float) -> str:
    """RUNNING, unless its process is gone (same host) or its heartbeat is stale: CRASHED."""
    if status != "RUNNING":
        return status
    if hostname == socket.gethostname() and not _alive(pid):
        return "CRASHED"
    if time.time() - heartbeat > STALE_AFTER_S:
        return "CRASHED"
    return status


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def resolve_run(stores: Stores, key: str) -> tuple[int, str]:
    """The run a full id or an unambiguous prefix names: ``(pk, run_id)``."""
    text = key.strip().lower()
    if len(text) < 4:
        raise InvalidInputError(f"run id {key!r} is too short", hint="Give at least 4 characters.")
    with stores.meta.read() as conn:
        rows = conn.execute(
            select(t.runs.c.id, t.runs.c.run_id).where(t.runs.c.run_id.startswith(text)).limit(2)
        ).all()
    if not rows:
        raise UnknownRefError(f"no run {key!r}", hint="List runs with: dcai runs list")
    if len(rows) > 1:
        raise InvalidInputError(f"run id {key!r} is ambiguous", hint="Give more characters.")
    return int(rows[0].id), str(rows[0].run_id)
