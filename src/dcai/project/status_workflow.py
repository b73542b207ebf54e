"""``dcai status``: each target of the project beside its latest measured value, and what to do next.

Where a value comes from:

* **run metrics** (``accuracy``, ``macro_f1`` — or scikit-learn's ``f1_macro`` — ``test.``
  + a name for the test split, …): the newest finished run that logged it;
* **monitoring metrics** (``latency_p95_seconds``, ``throughput_rps``, ``error_rate``,
  ``production_accuracy``, …): the newest complete stored window of any deployment;
* a metric nothing in the workspace measures has no value, and says so.

Baselines are the ones ``dcai scope baseline`` stored, plus, for accuracy, the newest
human-level performance report (``dcai labels hlp``). The next action is the first slice of the
newest stored error analysis (``dcai analyze``) whose action is not "leave it" — the priority
table is sorted by potential gain — or, without one, the command that makes one.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dcai.project._targets import Baseline, Target
from dcai.project.scope_file import read_scope

if TYPE_CHECKING:
    from dcai.labels.reports import LabelReport
    from dcai.store import Stores

__all__ = ["ProjectStatus", "TargetStatus", "project_status"]


@dataclass(frozen=True)
class TargetStatus:
    """One target: its text, the measured value (None: not measured), met or not, and where from."""

    metric: str
    target: str
    value: float | None
    met: bool | None
    source: str | None
    baselines: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "target": self.target,
            "value": self.value,
            "met": self.met,
            "source": self.source,
            "baselines": self.baselines,
        }


@dataclass(frozen=True)
class ProjectStatus:
    """``dcai status --json``: ``{"targets": [...], "next_action": {...}}``."""

    targets: list[TargetStatus]
    next_action: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def all_met(self) -> bool:
        return bool(self.targets) and all(t.met for t in self.targets)

    def to_dict(self) -> dict[str, Any]:
        return {
            "targets": [t.to_dict() for t in self.targets],
            "all_met": self.all_met,
            "next_action": self.next_action,
            "notes": self.notes,
        }


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _run_values(stores: Stores) -> dict[str, tuple[float, str]]:
    """Each run metric's newest value among finished runs, and the run it came from."""
    from dcai.experiments.query import list_runs

    runs = list_runs(stores)  # newest first
    found: dict[str, tuple[float, str]] = {}
    if runs.empty:
        return found
    finished = runs[runs["status"] == "FINISHED"]
    for column in (c for c in finished.columns if c.startswith("metrics.")):
        values = pd.to_numeric(finished[column], errors="coerce")
        values = values[np.isfinite(values.to_numpy(dtype=np.float64))]
        if len(values):
            row = finished.loc[values.index[0]]
            source = f"run {str(row['run'])[:8]} on {row['dataset']}"
            found[column.removeprefix("metrics.")] = (float(values.iloc[0]), source)
    return found


def _monitoring_values(stores: Stores, columns: set[str]) -> dict[str, tuple[float, str]]:
    """Each wanted window metric's value in the newest complete window that has it."""
    from sqlalchemy import select

    from dcai.store import schema as t

    found: dict[str, tuple[float, str]] = {}
    if not columns:
        return found
    w = t.monitor_windows
    with stores.meta.read() as conn:
        rows = conn.execute(
            select(w.c.deployment, w.c.window_start, w.c.metrics_json)
            .where(w.c.complete == 1)
            .order_by(w.c.window_end.desc(), w.c.computed_at.desc())
            .limit(1000)
        ).all()
    for row in rows:
        metrics = json.loads(row.metrics_json)
        for column in columns - set(found):
            value = _finite(metrics.get(column))
            if value is not None:
                start = str(row.window_start)[:16].replace("T", " ")
                found[column] = (value, f"monitoring {row.deployment}, window from {start} UTC")
        if len(found) == len(columns):
            break
    return found


def _newest_report(stores: Stores, kind: str) -> LabelReport | None:
    from dcai.data.catalog import list_datasets
    from dcai.labels.reports import list_reports

    found = [r for d in list_datasets(stores) for r in list_reports(stores, d.name, kind=kind)[:1]]
    return max(found, key=lambda r: (r.created_at, r.id)) if found else None


def _hlp_baseline(stores: Stores) -> dict[str, Any] | None:
    from dcai.analysis._workflow_baselines import _hlp_value

    report = _newest_report(stores, "hlp")
    value = None if report is None else _hlp_value(report)
    if report is None or value is None:
        return None
    return {"name": "hlp", "value": value, "source": f"hlp #{report.id} ({report.version_ref})"}


def _next_action(stores: Stores) -> dict[str, Any]:
    from dcai.data.catalog import list_datasets

    report = _newest_report(stores, "analysis")
    if report is None:
        datasets = list_datasets(stores)
        if not datasets:
            return {"action": "add a dataset", "command": "dcai data add NAME FILE --label COLUMN"}
        newest = max(datasets, key=lambda d: d.updated_at).name
        return {"action": "analyse the errors", "command": f"dcai analyze {newest}"}
    table = report.table
    base = {"analysis": f"analysis #{report.id}", "dataset": report.version_ref}
    if "action" not in table.columns:  # stored before actions were kept
        return {**base, "action": "analyse again", "command": f"dcai analyze {report.version_ref}"}
    todo = table[table["action"] != "leave it"]
    if todo.empty:
        return {**base, "action": "leave it", "reason": "every slice is at its baseline"}
    row = todo.iloc[0]
    return {
        **base,
        "action": str(row["action"]),
        "slice": str(row["name"]),
        "potential_gain": _finite(row.get("potential_gain")),
        "reason": str(row.get("reason") or ""),
    }


def _baselines_for(
    target: Target, baselines: list[Baseline], hlp: dict[str, Any] | None
) -> list[dict[str, Any]]:
    out = [
        {"name": b.name, "value": b.value, "source": b.source}
        for b in baselines
        if b.metric in (target.metric, target.measured_as)
    ]
    if hlp is not None and target.measured_as.removeprefix("test.") == "accuracy":
        out.append(hlp)
    return out


def project_status(stores: Stores) -> ProjectStatus:
    """Every target with its latest measured value, met or not, and the next action."""
    targets, baselines = read_scope(stores.path)
    notes = []
    if not targets:
        notes.append('no targets yet: set one with dcai scope target accuracy ">= 0.9"')
    hlp = _hlp_baseline(stores)
    runs = _run_values(stores) if any(t.source_kind != "monitoring" for t in targets) else {}
    windows = _monitoring_values(
        stores, {t.measured_as for t in targets if t.source_kind == "monitoring"}
    )
    rows = []
    for target in targets:
        measured = windows if target.source_kind == "monitoring" else runs
        value, source = measured.get(target.measured_as, (None, None))
        if value is None and target.source_kind == "unknown":
            notes.append(f"nothing in this workspace measures {target.metric}")
        rows.append(
            TargetStatus(
                metric=target.metric,
                target=target.text,
                value=value,
                met=target.met(value),
                source=source,
                baselines=_baselines_for(target, baselines, hlp),
            )
        )
    return ProjectStatus(rows, _next_action(stores), notes)
