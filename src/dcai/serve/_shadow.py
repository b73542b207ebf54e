"""Shadow models, answered in micro-batches off the response path.

A request answered by the primary queues a *job* (its instances, the primary's labels) and
returns; one background thread takes the jobs waiting — up to ``max_rows`` instances or
``max_wait`` seconds after the first — groups them by shadow model, and calls each model once
on the concatenated rows. A scikit-learn pipeline costs nearly as much for one row as for a
hundred (validation and per-step overhead dominate), so batching is what keeps a shadow from
doubling the server's CPU per request. Answers are split back per request, logged with
``route=shadow`` and counted against the primary's (disagreement). The queue is bounded: when
the shadow cannot keep up, jobs are dropped and counted, never the caller's request slowed.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dcai.deploy._models import answers as model_answers
from dcai.deploy.prediction_log import LogBlock, prediction_block

if TYPE_CHECKING:
    import pandas as pd

    from dcai.serve._inputs import ParsedRequest
    from dcai.serve._metrics import Metrics
    from dcai.serve._state import Live

__all__ = ["ShadowJob", "ShadowRunner"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShadowJob:
    """One answered request whose instances the shadow model must also answer."""

    target: Live
    #: The request's validated instances (the primary's frame among them).
    request: ParsedRequest
    #: The inputs as the primary's log rows hold them (JSON, sensitive columns redacted).
    logged_inputs: list[str]
    primary_labels: list[Any]
    request_id: str
    at: str


def _shadow_frame(jobs: list[ShadowJob], features: list[str]) -> pd.DataFrame:
    """One frame of every waiting instance for a shadow reading ``features``.

    The primaries' frames are reused when they hold exactly those columns in one numeric
    dtype (one NumPy concatenation); otherwise one frame is built from the instances' dicts
    (concatenating many small frames costs more than the model call).
    """
    import pandas as pd

    frames = [job.request.frame for job in jobs]
    if all(list(f.columns) == features for f in frames):
        dtypes = {dtype for f in frames for dtype in f.dtypes}
        if len(dtypes) == 1 and next(iter(dtypes)).kind in "iuf":
            values = np.concatenate([f.to_numpy() for f in frames])
            return pd.DataFrame(values, columns=features, copy=False)
    return pd.DataFrame([r for job in jobs for r in job.request.records], columns=features)


class ShadowRunner:
    """A background thread answering :class:`ShadowJob` s in batches; ``close`` drains it."""

    def __init__(
        self,
        extend: Callable[[LogBlock], None],
        metrics: Metrics,
        *,
        max_rows: int = 2000,
        max_wait: float = 1.0,
        max_jobs: int = 10_000,
    ) -> None:
        self._extend = extend
        self._metrics = metrics
        self.max_rows = max_rows
        self.max_wait = max_wait
        self._queue: queue.Queue[ShadowJob | None] = queue.Queue(maxsize=max_jobs)
        self.dropped_jobs = 0
        self._thread = threading.Thread(target=self._run, name="dcai-shadow", daemon=True)
        self._thread.start()

    def submit(self, job: ShadowJob) -> None:
        """Queue a job; never blocks (a full queue drops it and counts it)."""
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self.dropped_jobs += 1
            shadow = job.target.shadow
            ref = shadow.ref if shadow is not None else ""
            self._metrics.requests.labels(
                job.target.deployment.name, "shadow", ref, "dropped"
            ).inc()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, rows = [first], len(first.request)
            deadline = time.monotonic() + self.max_wait
            stop = False
            while rows < self.max_rows:
                try:
                    job = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                batch.append(job)
                rows += len(job.request)
            self._answer(batch)
            if stop:
                return

    def _answer(self, batch: list[ShadowJob]) -> None:
        groups: dict[tuple[str, str], list[ShadowJob]] = defaultdict(list)
        for job in batch:
            if job.target.shadow is not None:
                groups[(job.target.deployment.name, job.target.shadow.ref)].append(job)
        for (name, ref), jobs in groups.items():
            shadow = jobs[0].target.shadow
            assert shadow is not None  # grouped on it
            start = time.perf_counter()
            try:
                frame = _shadow_frame(jobs, shadow.features)
                answered = model_answers(shadow, shadow.predict(frame))
            except Exception:
                logger.exception("shadow model %s of %s failed", ref, name)
                self._metrics.requests.labels(name, "shadow", ref, "error").inc(len(jobs))
                continue
            latency = (time.perf_counter() - start) * 1000
            self._metrics.requests.labels(name, "shadow", ref, "ok").inc(len(jobs))
            offset = 0
            disagree = 0
            for job in jobs:
                mine = answered[offset : offset + len(job.request)]
                offset += len(job.request)
                disagree += sum(
                    a["label"] != b for a, b in zip(mine, job.primary_labels, strict=True)
                )
                self._extend(
                    prediction_block(
                        mine,
                        job.logged_inputs,
                        request_id=job.request_id,
                        time=job.at,
                        deployment=name,
                        revision=job.target.deployment.revision,
                        route="shadow",
                        model_version=ref,
                        latency_ms=latency,
                    )
                )
            self._metrics.shadow_predictions.labels(name).inc(len(answered))
            self._metrics.shadow_disagreements.labels(name).inc(disagree)

    def close(self, timeout: float = 30.0) -> None:
        """Answer everything queued, then stop."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)
