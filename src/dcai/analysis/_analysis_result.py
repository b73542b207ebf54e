"""The result of an error analysis, :class:`ErrorAnalysis`, and its JSON form.

Kept apart from the workflow that computes it (:mod:`dcai.analysis.workflow`) so that the
renderers (``html``, the CLI) and the workflow's steps share one plain data type without
loading the workflow; it is re-exported from :mod:`dcai.analysis.workflow`, its public home.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from dcai.analysis._clean_vs_collect import CleanVsCollect
    from dcai.analysis._learning_curve import LearningCurve
    from dcai.analysis._metrics import MetricsReport
    from dcai.analysis._requirements import RequirementsResult
    from dcai.analysis._slices import SliceReport

__all__ = ["ErrorAnalysis"]


@dataclass
class ErrorAnalysis:
    """Everything ``dcai analyze`` reports about one version (see :mod:`dcai.analysis.workflow`)."""

    ref: str
    audit: str | None
    metric: str
    n_examples: int
    evaluated_on: str
    metrics: MetricsReport
    priorities: pd.DataFrame
    discovered: SliceReport | None
    learning_curve: LearningCurve | None
    clean_vs_collect: CleanVsCollect | None
    requirements: RequirementsResult | None = None
    masks: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    notes: list[str] = field(default_factory=list)
    #: The run whose predictions were analysed (``analyze(run=...)``), else None.
    run: str | None = None
    #: The HLP report used as baseline: ``id``, ``method``, ``value``, ``ref``; None without.
    hlp: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``slices`` is the priority table as a list, best first."""
        slices = [
            {key: _json(value) for key, value in row.items()}
            for row in self.priorities.rename(
                columns={"value": "metric", "metric_name": "metric_name"}
            ).to_dict(orient="records")
        ]
        return {
            "ref": self.ref,
            "audit": self.audit,
            "run": self.run,
            "hlp": None if self.hlp is None else {k: _json(v) for k, v in self.hlp.items()},
            "metric": self.metric,
            "n_examples": self.n_examples,
            "evaluated_on": self.evaluated_on,
            "metrics": self.metrics.to_dict(),
            "slices": slices,
            "discovered": None if self.discovered is None else self.discovered.to_dict(),
            "learning_curve": None
            if self.learning_curve is None
            else self.learning_curve.to_dict(),
            "clean_vs_collect": None
            if self.clean_vs_collect is None
            else self.clean_vs_collect.to_dict(),
            "requirements": None if self.requirements is None else self.requirements.to_dict(),
            "notes": list(self.notes),
        }


def _json(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
