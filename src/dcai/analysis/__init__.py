"""Error analysis: what more data, cleaner labels or a slice's fix would buy.

The functions here are pure: they take a model recipe, arrays or DataFrames and return result
objects that render themselves as DataFrames and JSON-ready dicts. They never touch a
workspace; :mod:`dcai.analysis.workflow` (``ws.analyze``, ``dcai analyze``) puts them together
on a dataset version, and :mod:`dcai.analysis.html` writes the offline report.

Names are loaded lazily, so ``import dcai.analysis`` stays light (no scikit-learn until used).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    # metrics with bootstrap intervals
    "MetricEstimate": "dcai.analysis._metrics",
    "MetricsReport": "dcai.analysis._metrics",
    "classification_metrics": "dcai.analysis._metrics",
    "metric_by_group": "dcai.analysis._metrics",
    # slices
    "SliceReport": "dcai.analysis._slices",
    "find_slices": "dcai.analysis._slices",
    "parse_slice": "dcai.analysis._slice_predicates",
    "slice_mask": "dcai.analysis._slice_predicates",
    # what to work on next, requirements
    "priority_table": "dcai.analysis._priorities",
    "Requirement": "dcai.analysis._requirements",
    "RequirementsResult": "dcai.analysis._requirements",
    "check_requirements": "dcai.analysis._requirements",
    "load_requirements": "dcai.analysis._requirements",
    "parse_requirements": "dcai.analysis._requirements",
    # learning curves
    "Interval": "dcai.analysis._learning_curve",
    "LearningCurve": "dcai.analysis._learning_curve",
    "PowerLawFit": "dcai.analysis._learning_curve",
    "learning_curve": "dcai.analysis._learning_curve",
    # clean vs collect
    "CleanVsCollect": "dcai.analysis._clean_vs_collect",
    "clean_vs_collect": "dcai.analysis._clean_vs_collect",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dcai.analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
