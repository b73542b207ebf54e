"""Ramp a canary up step by step while guard-rails hold; roll back on its own when one fails.

``run_ramp(stores, "web", model="digits/3", steps=[5, 25, 50, 100], every=600,
guards=[parse_guard("error_rate<0.01"), parse_guard("latency_p95<0.1")])`` sends 5 % of the
traffic to the candidate, watches it for ``every`` seconds, and moves to the next step only if
every guard holds on what the canary did *during that step*; after the last step (100 %) the
candidate is promoted. Each step, the rollback and the promotion are revisions of the
deployment, with the measured values in their ``reason``, so ``dcai deploy show`` tells the
whole story afterwards.

Live metrics come from the logs the serving processes write (flushed every second), so a ramp
sees the traffic of every replica and needs no connection to a server:

=================  ==========================================================================
``error_rate``     requests the canary failed to answer / all requests routed to it
``latency_p50``    median server-side latency of the canary's requests, in seconds
``latency_p95``    95th percentile (likewise ``latency_p99``)
``disagreement``   share of the canary's answers that differ from the primary's on the same
                   inputs (the primary is re-run on the newest logged canary inputs)
=================  ==========================================================================

A guard is checked only once the step has seen ``min_requests`` canary requests (a percentile
or a rate of five requests says nothing); it is checked at every poll after that, so a failing
canary is rolled back within seconds, not at the end of the step. A step whose window has
passed without enough traffic waits for it. Guards are parsed, never evaluated as code.
Argo Rollouts and Flagger gate Kubernetes canaries on the same kind of threshold analysis;
this is that loop for one process.
"""

from __future__ import annotations

import itertools
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from dcai.errors import InvalidInputError

if TYPE_CHECKING:
    from dcai.deploy._models import LoadedModel
    from dcai.store import Stores

__all__ = [
    "GUARD_METRICS",
    "CanaryHealth",
    "Guard",
    "RampEvent",
    "RampResult",
    "canary_health",
    "parse_guard",
    "parse_steps",
    "run_ramp",
]

#: The metrics a guard can name, and what each measures.
GUARD_METRICS: dict[str, str] = {
    "error_rate": "share of the canary's requests it failed to answer",
    "latency_p50": "median server-side latency of the canary's requests (seconds)",
    "latency_p95": "95th percentile latency of the canary's requests (seconds)",
    "latency_p99": "99th percentile latency of the canary's requests (seconds)",
    "disagreement": "share of the canary's answers that differ from the primary's",
}
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_GUARD = re.compile(r"^\s*([a-z_0-9]+)\s*(<=|>=|<|>)\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*$")
#: Canary rows the disagreement guard re-answers with the primary (the newest of the step).
DISAGREEMENT_SAMPLE = 5000

Outcome = Literal["promoted", "completed", "rolled_back", "superseded", "interrupted"]


@dataclass(frozen=True)
class Guard:
    """``metric op threshold``, e.g. ``latency_p95 < 0.1``: the canary may go on while it holds."""

    metric: str
    op: str
    threshold: float

    def holds(self, value: float) -> bool:
        """Whether a measured ``value`` keeps to the guard."""
        return _OPS[self.op](value, self.threshold)

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.threshold:g}"


def parse_guard(text: str) -> Guard:
    """``"error_rate<0.01"`` → a :class:`Guard` (parsed, never evaluated).

    >>> parse_guard("latency_p95 < 0.1")
    Guard(metric='latency_p95', op='<', threshold=0.1)
    """
    match = _GUARD.match(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidInputError(
            f"--guard {text!r} is not METRIC<NUMBER",
            hint='Write e.g. --guard "error_rate<0.01" (operators <, <=, >, >=; metrics: '
            f"{', '.join(GUARD_METRICS)}).",
        )
    metric, op, number = match[1], match[2], float(match[3])
    if metric not in GUARD_METRICS:
        raise InvalidInputError(
            f"--guard {text!r}: unknown metric {metric!r}",
            hint=f"Use one of: {', '.join(GUARD_METRICS)}.",
        )
    return Guard(metric, op, number)


def parse_steps(text: str | Sequence[float]) -> list[float]:
    """``"5,25,50,100"`` → ``[5.0, 25.0, 50.0, 100.0]``: increasing percentages in (0, 100].

    >>> parse_steps("10, 50,100")
    [10.0, 50.0, 100.0]
    """
    parts = text.split(",") if isinstance(text, str) else list(text)
    try:
        steps = [float(p) for p in parts]
    except (TypeError, ValueError):
        steps = []
    if (
        not steps
        or any(not math.isfinite(s) or not 0 < s <= 100 for s in steps)
        or any(b <= a for a, b in itertools.pairwise(steps))
    ):
        raise InvalidInputError(
            f"--steps {text!r} is not a list of increasing percentages in (0, 100]",
            hint="Write e.g. --steps 5,25,50,100 (the last step 100 promotes the candidate).",
        )
    return steps


@dataclass(frozen=True)
class CanaryHealth:
    """What the canary did since a moment: requests, errors, latency, disagreement."""

    requests: int
    instances: int
    errors: int
    latency_p50: float | None
    latency_p95: float | None
    latency_p99: float | None
    disagreement: float | None
    compared: int

    @property
    def error_rate(self) -> float | None:
        """Failed requests over all requests routed to the canary (None before any)."""
        total = self.requests + self.errors
        return self.errors / total if total else None

    def value(self, metric: str) -> float | None:
        """The measured value of a guard's metric (None when nothing measures it yet)."""
        value: float | None = getattr(self, metric)
        return value

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "instances": self.instances,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "latency_p50": self.latency_p50,
            "latency_p95": self.latency_p95,
            "latency_p99": self.latency_p99,
            "disagreement": self.disagreement,
            "compared": self.compared,
        }


def canary_health(
    stores: Stores,
    deployment: str,
    *,
    model_version: str,
    since: str,
    primary: LoadedModel | None = None,
    sample: int = DISAGREEMENT_SAMPLE,
) -> CanaryHealth:
    """The canary ``model_version`` of ``deployment`` since ``since`` (ISO time), from the logs.

    With ``primary``, the newest ``sample`` canary answers are compared with the primary's
    answers on the same logged inputs (``disagreement``).
    """
    from dcai.deploy.logs import _connect, _files, decoded
    from dcai.deploy.prediction_log import error_log_dir, prediction_log_dir

    predictions = _files(prediction_log_dir(stores.path), deployment)
    errors_glob = _files(error_log_dir(stores.path), deployment)
    latencies = np.zeros(0)
    instances = errors = 0
    rows: list[tuple[Any, Any]] = []
    with _connect() as conn:
        if predictions is not None:
            where = "route = 'canary' AND model_version = ? AND time >= ?"
            per_request = conn.execute(
                f"""SELECT any_value(latency_ms), count(*)
                    FROM read_parquet(?, hive_partitioning = false)
                    WHERE {where} GROUP BY request_id""",
                [predictions, model_version, since],
            ).fetchall()
            latencies = np.array([r[0] for r in per_request], dtype=float) / 1000
            instances = sum(int(r[1]) for r in per_request)
            if primary is not None and per_request:
                rows = conn.execute(
                    f"""SELECT inputs, label FROM read_parquet(?, hive_partitioning = false)
                        WHERE {where} ORDER BY time DESC LIMIT {int(sample)}""",
                    [predictions, model_version, since],
                ).fetchall()
        if errors_glob is not None:
            found = conn.execute(
                """SELECT count(*) FROM read_parquet(?, hive_partitioning = false)
                   WHERE route = 'canary' AND model_version = ? AND time >= ?""",
                [errors_glob, model_version, since],
            ).fetchone()
            errors = int(found[0]) if found else 0
    disagreement = None
    if rows and primary is not None:
        import pandas as pd

        from dcai.deploy._models import answers

        frame = pd.DataFrame.from_records([decoded(r[0]) for r in rows])
        theirs = [a["label"] for a in answers(primary, primary.predict(frame))]
        ours = [decoded(r[1]) for r in rows]
        disagreement = sum(a != b for a, b in zip(ours, theirs, strict=True)) / len(rows)

    def quantile(q: float) -> float | None:
        return float(np.quantile(latencies, q)) if latencies.size else None

    return CanaryHealth(
        requests=int(latencies.size),
        instances=instances,
        errors=errors,
        latency_p50=quantile(0.5),
        latency_p95=quantile(0.95),
        latency_p99=quantile(0.99),
        disagreement=disagreement,
        compared=len(rows),
    )


@dataclass(frozen=True)
class RampEvent:
    """One thing a ramp did or saw: ``kind`` is step, check, waiting, failed, promoted, ..."""

    kind: str
    step: int
    percent: float
    revision: int
    message: str
    health: CanaryHealth | None = None


@dataclass(frozen=True)
class RampResult:
    """How a ramp ended, with every step it took."""

    deployment: str
    model: str
    outcome: Outcome
    reason: str
    revision: int
    steps: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """What ``dcai deploy ramp --json`` prints."""
        return {
            "deployment": self.deployment,
            "model": self.model,
            "outcome": self.outcome,
            "reason": self.reason,
            "revision": self.revision,
            "steps": self.steps,
        }


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _checks(guards: Iterable[Guard], health: CanaryHealth) -> tuple[list[str], list[str], bool]:
    """(held, failed, measurable): each guard with its measured value."""
    held: list[str] = []
    failed: list[str] = []
    measurable = True
    for guard in guards:
        value = health.value(guard.metric)
        if value is None:
            measurable = False
            continue
        text = f"{guard.metric} {value:.4g} (guard {guard})"
        (held if guard.holds(value) else failed).append(text)
    return held, failed, measurable


def run_ramp(
    stores: Stores,
    name: str,
    *,
    model: str,
    steps: Sequence[float],
    every: float,
    guards: Sequence[Guard],
    min_requests: int = 100,
    poll: float | None = None,
    reason: str = "",
    author: str | None = None,
    trusted: Iterable[str] = (),
    on_event: Callable[[RampEvent], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RampResult:
    """Advance ``model`` through the canary ``steps`` of ``name`` while ``guards`` hold.

    Each step lasts at least ``every`` seconds and until the canary has answered
    ``min_requests`` requests in it. A failing guard rolls the deployment back to its routing
    before the ramp, recording the measured value; when the last step (100 %) passes, the
    candidate is promoted. A change made by someone else meanwhile stops the ramp without
    touching the deployment; so does Ctrl-C (the canary stays where it is).
    """
    from dcai.deploy._models import load_pinned
    from dcai.deploy._privacy import sensitive_inputs
    from dcai.deploy.deployments import get_deployment, promote, rollback, set_canary

    steps = parse_steps(steps)
    if not math.isfinite(every) or every <= 0:
        raise InvalidInputError(f"--every must be a positive duration, got {every!r}")
    if isinstance(min_requests, bool) or not isinstance(min_requests, int) or min_requests < 1:
        raise InvalidInputError(
            f"--min-requests must be a positive whole number, got {min_requests!r}"
        )
    guards = list(guards)
    poll = min(max(every / 20, 0.2), 5.0) if poll is None else poll
    trusted = tuple(trusted)
    before = get_deployment(stores, name)
    base = before.revision
    primary = (
        load_pinned(stores, before.primary, trusted=trusted)
        if any(g.metric == "disagreement" for g in guards)
        else None
    )
    hidden = sorted(sensitive_inputs(primary)) if primary is not None else []
    if hidden:
        raise InvalidInputError(
            f"the disagreement guard cannot be measured: the log keeps {hidden[0]!r} of "
            f"{before.primary} only hashed or not at all (marked sensitive)",
            hint="Guard on error_rate and latency, or compare the models with a shadow first "
            f"(dcai deploy shadow {name} --model {model}).",
        )
    plan = f"{', '.join(f'{s:g}' for s in steps)} % every {every:g} s"
    plan += f"; guards {', '.join(map(str, guards))}" if guards else "; no guards"
    taken: list[dict[str, Any]] = []
    emit = on_event or (lambda event: None)
    revision = base

    def finish(outcome: Outcome, why: str) -> RampResult:
        return RampResult(name, model, outcome, why, revision, taken)

    for index, percent in enumerate(steps):
        label = f"step {index + 1}/{len(steps)} at {percent:g} %"
        note = f"ramp {model}: {label} ({plan})" + (f"; {reason}" if reason else "")
        current = get_deployment(stores, name)
        if current.revision != revision:
            return finish("superseded", f"revision {current.revision} by {current.live.author}")
        d = set_canary(
            stores,
            name,
            model=model if index == 0 else None,
            percent=percent,
            reason=note,
            author=author,
            trusted=trusted,
            action="ramp",
        )
        revision, since, started = d.revision, _now_iso(), clock()
        taken.append({"step": index + 1, "percent": percent, "revision": revision, "at": since})
        emit(RampEvent("step", index + 1, percent, revision, f"{label}: revision {revision}"))
        try:
            while True:
                sleep(poll)
                live = get_deployment(stores, name)
                if live.revision != revision:
                    taken[-1]["outcome"] = "superseded"
                    why = (
                        f"the deployment changed meanwhile (revision {live.revision}, "
                        f"{live.live.action} by {live.live.author}); the ramp stopped"
                    )
                    emit(RampEvent("superseded", index + 1, percent, revision, why))
                    return finish("superseded", why)
                health = canary_health(
                    stores, name, model_version=d.canary or model, since=since, primary=primary
                )
                held, failed, measurable = _checks(guards, health)
                taken[-1]["health"] = health.to_dict()
                if health.requests >= min_requests and failed:
                    why = f"{label}: {'; '.join(failed)} over {health.requests} canary requests"
                    taken[-1]["outcome"] = "failed"
                    back = rollback(
                        stores,
                        name,
                        to=base,
                        reason=f"ramp {model} rolled back: {why}",
                        author=author,
                    )
                    revision = back.revision
                    emit(RampEvent("failed", index + 1, percent, revision, why, health))
                    return finish("rolled_back", why)
                elapsed = clock() - started
                if elapsed < every:
                    emit(RampEvent("check", index + 1, percent, revision, ", ".join(held), health))
                    continue
                if health.requests < min_requests or not measurable:
                    waiting = (
                        f"{health.requests}/{min_requests} canary requests"
                        if health.requests < min_requests
                        else "a value for every guard"
                    )
                    emit(RampEvent("waiting", index + 1, percent, revision, waiting, health))
                    continue
                taken[-1]["outcome"] = "passed"
                emit(RampEvent("passed", index + 1, percent, revision, ", ".join(held), health))
                break
        except KeyboardInterrupt:
            taken[-1]["outcome"] = "interrupted"
            why = (
                f"interrupted at {label}; the canary stays at {percent:g} % (roll back with "
                f"dcai deploy rollback {name} --to {base})"
            )
            return finish("interrupted", why)
    if steps[-1] == 100:
        summary = f"every step passed ({plan})"
        d = promote(stores, name, reason=f"ramp {model}: {summary}", author=author)
        revision = d.revision
        emit(RampEvent("promoted", len(steps), 100.0, revision, summary))
        return finish("promoted", summary)
    why = f"every step passed; the canary stays at {steps[-1]:g} %"
    return finish("completed", why)
