"""The project's scope: key metrics with a target each, and baselines to hold results against.

A target is a metric name and a comparison, written as text: ``f1_macro ">= 0.9"``,
``latency_p95_seconds "<= 0.05"``. Metric names are dcai's own (what runs log, what monitoring
measures) or scikit-learn's scoring names for the same thing (``f1_macro`` is dcai's
``macro_f1``), so either spelling finds the measured value.

>>> target = parse_target("f1_macro", ">= 0.9")
>>> target.metric, target.op, target.value, target.measured_as
('f1_macro', '>=', 0.9, 'macro_f1')
>>> target.met(0.93), target.met(0.85)
(True, False)
>>> parse_target("latency_p95_seconds", "<= 0.05").source_kind
'monitoring'
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from dcai.errors import InvalidInputError

__all__ = [
    "MONITORING_METRICS",
    "RUN_METRICS",
    "Baseline",
    "Target",
    "parse_target",
]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
#: Metrics a training run logs (on dev; ``test.`` + name on test), by dcai's name.
RUN_METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "macro_recall", "roc_auc")
#: scikit-learn scoring names → dcai's run metric names.
_ALIASES = {"f1_macro": "macro_f1", "recall_macro": "macro_recall"}
#: Metrics a monitoring window measures that a target may name → the window's column.
MONITORING_METRICS = {
    "latency_p50_seconds": "latency_p50",
    "latency_p95_seconds": "latency_p95",
    "latency_p99_seconds": "latency_p99",
    "throughput_rps": "request_rate",
    "request_rate": "request_rate",
    "error_rate": "error_rate",
    "server_memory_mb": "server_memory_mb",
    "production_accuracy": "accuracy",
    "estimated_accuracy": "estimated_accuracy",
}
_TEXT = re.compile(r"^\s*(>=|<=|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")
SourceKind = Literal["run", "monitoring", "unknown"]


@dataclass(frozen=True)
class Target:
    """``metric op value``; ``measured_as`` is the name the value is looked up under."""

    metric: str
    op: str
    value: float

    @property
    def text(self) -> str:
        return f"{self.op} {self.value:g}"

    @property
    def measured_as(self) -> str:
        if self.metric in MONITORING_METRICS:
            return MONITORING_METRICS[self.metric]
        split, _, name = self.metric.rpartition(".")
        name = _ALIASES.get(name, name)
        return f"{split}.{name}" if split else name

    @property
    def source_kind(self) -> SourceKind:
        if self.metric in MONITORING_METRICS:
            return "monitoring"
        name = self.measured_as.removeprefix("test.")
        return "run" if name in RUN_METRICS else "unknown"

    def met(self, measured: float | None) -> bool | None:
        """Whether ``measured`` meets the target (None: nothing measured)."""
        if measured is None or not math.isfinite(measured):
            return None
        return bool(_OPS[self.op](measured, self.value))


@dataclass(frozen=True)
class Baseline:
    """A reference figure for a metric: HLP, the literature, the old system, a quick model."""

    name: str
    metric: str
    value: float
    source: str


def parse_target(metric: str, text: str) -> Target:
    """A target from its metric name and ``"OP VALUE"`` text (``>=``, ``<=``, ``>``, ``<``)."""
    name = metric.strip()
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name):
        raise InvalidInputError(
            f"metric name {metric!r} is not a plain name",
            hint="Use letters, digits, _ and . (e.g. f1_macro, test.accuracy).",
        )
    found = _TEXT.match(text)
    if found is None:
        raise InvalidInputError(
            f"target {text!r} for {name} is not 'OP VALUE'",
            hint='Write e.g. ">= 0.9" or "<= 0.05" (>=, <=, >, <, then a number).',
        )
    value = float(found.group(2))
    if not math.isfinite(value):
        raise InvalidInputError(f"target value {found.group(2)} is not a finite number")
    return Target(name, found.group(1), value)
