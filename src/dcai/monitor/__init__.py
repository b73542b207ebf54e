"""Watch what happens after deployment: data drift against a fitted reference, change
detectors on streams, monitoring windows of a deployment's log, alerts, retraining.

Names are loaded lazily, so ``import dcai.monitor`` stays light (no scipy until used).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    # data drift (two samples, a reference fitted once)
    "DriftDetector": "dcai.monitor.drift",
    "drift_report": "dcai.monitor.drift",
    # stream change detectors
    "ADWIN": "dcai.monitor.streams",
    "DDM": "dcai.monitor.streams",
    "HDDM_A": "dcai.monitor.streams",
    "PageHinkley": "dcai.monitor.streams",
    "StreamDetector": "dcai.monitor.streams",
    "classify_change": "dcai.monitor.streams",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dcai.monitor' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
