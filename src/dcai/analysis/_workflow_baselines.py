"""What an error analysis holds each slice against, and the report it leaves for later ones.

A slice's baseline comes, weakest first, from the dataset's human-level-performance report (the
newest, or the one chosen by id), from the newest stored analysis of another version
(``baseline_version``), and from baselines the user gives (a mapping or a TOML file read by
:func:`load_baselines`); the labelers' agreement per slice is looked up beside them. Storing an
analysis (:func:`store_analysis`) lives here too because the table it writes is exactly what a
later ``baseline_version`` reads back. Kept apart from :mod:`dcai.analysis.workflow` so the
lookups in the store are in one place and the workflow only orders the steps.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dcai.data._schema import EXAMPLE_ID
from dcai.data.versions import log as version_log
from dcai.errors import InvalidInputError, UnknownRefError

if TYPE_CHECKING:
    from dcai.analysis._metrics import MetricsReport
    from dcai.data.versions import DatasetVersion
    from dcai.store import Stores

__all__ = ["agreement", "load_baselines", "slice_baselines", "store_analysis"]


def load_baselines(path: str | Path) -> dict[str, float]:
    """User baselines from TOML: ``[baselines]`` with ``all = 0.95`` and ``"slice name" = …``."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidInputError("no such file", path=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(f"not valid TOML: {exc}", path=str(path)) from exc
    table = data.get("baselines")
    if not isinstance(table, dict) or not table:
        raise InvalidInputError(
            "no [baselines] table",
            path=str(path),
            hint='Write e.g. [baselines] all = 0.95 and "label == 8" = 0.9',
        )
    out = {}
    for name, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise InvalidInputError(
                f"baseline {name!r} must be a number in [0, 1]; got {value!r}", path=str(path)
            )
        out[str(name)] = float(value)
    return out


def slice_baselines(
    stores: Stores,
    version: DatasetVersion,
    given: Mapping[str, float] | str | Path | None,
    baseline_version: str | None,
    hlp: str | int | None,
    notes: list[str],
) -> tuple[dict[str, float], dict[str, str], dict[str, Any] | None]:
    """Each slice's baseline and where it came from, and the HLP report used (None without).

    User baselines override ``baseline_version``'s analysis, which overrides the HLP report.
    """
    from dcai.labels.reports import latest_report

    base: dict[str, float] = {}
    sources: dict[str, str] = {}
    used: dict[str, Any] | None = None
    report = _hlp_report(stores, version, hlp, notes)
    if report is None:
        notes.append(
            f"no human-level performance stored for {version.dataset}: "
            f"run dcai labels hlp {version.dataset} (or give --baseline); slices are held "
            "against the rest of the data"
        )
    else:
        used = {
            "id": report.id,
            "method": report.params.get("consensus"),
            "value": _hlp_value(report),
            "ref": report.version_ref,
        }
        _add_hlp_baselines(report, base, sources)
    if baseline_version is not None:
        previous = latest_report(stores, baseline_version, "analysis")
        table = previous.table
        for row in table.itertuples():
            if row.metric_name == previous.params.get("metric") and not pd.isna(row.value):
                base[str(row.name)] = float(row.value)
                sources[str(row.name)] = f"run ({previous.version_ref})"
    if given is not None:
        user = load_baselines(given) if isinstance(given, str | Path) else dict(given)
        base.update(user)
        sources.update(dict.fromkeys(user, "user"))
    return base, sources, used


def _hlp_report(
    stores: Stores, version: DatasetVersion, hlp: str | int | None, notes: list[str]
) -> Any:
    """The HLP report chosen by id, else the newest (with a note when there are several)."""
    from dcai.labels.reports import list_reports

    reports = list_reports(stores, version.dataset, kind="hlp")
    if hlp is not None:
        wanted = str(hlp).lstrip("#")
        chosen = [r for r in reports if str(r.id) == wanted]
        if not chosen:
            listing = ", ".join(_described(r) for r in reports) or "none"
            raise UnknownRefError(
                f"no HLP report {hlp} for {version.dataset} (stored: {listing})",
                hint=f"Compute one with: dcai labels hlp {version.dataset}",
            )
        return chosen[0]
    if not reports:
        return None
    report = reports[0]
    if len(reports) > 1:
        notes.append(
            f"{len(reports)} HLP reports stored ({', '.join(_described(r) for r in reports)}); "
            f"the newest, #{report.id}, is used: choose another with --hlp ID"
        )
    return report


def _described(report: Any) -> str:
    value = _hlp_value(report)
    return f"#{report.id} {report.params.get('consensus')} " + (
        "?" if value is None else f"{value:.3f}"
    )


def _add_hlp_baselines(report: Any, base: dict[str, float], sources: dict[str, str]) -> None:
    """The HLP report's overall, per-class and per-metadata-value accuracies as baselines."""
    by = report.params.get("by")
    for row in report.table.itertuples():
        if pd.isna(row.accuracy):
            continue
        name = {
            "overall": "all",
            "class": f"label == {row.group}",
            "metadata": f"{by} == {row.group}" if by else None,
        }.get(str(row.scope))
        if name is not None:
            base[name] = float(row.accuracy)
            sources[name] = f"hlp #{report.id} ({report.version_ref})"


def _hlp_value(report: Any) -> float | None:
    """The overall accuracy of a stored HLP report."""
    table = report.table
    if table.empty or "scope" not in table:
        return None
    overall = table[table["scope"] == "overall"]
    value = overall["accuracy"].iloc[0] if len(overall) else None
    return None if value is None or pd.isna(value) else float(value)


def agreement(
    version: DatasetVersion,
    stores: Stores,
    masks: Mapping[str, np.ndarray],
    rows: np.ndarray,
    notes: list[str],
) -> dict[str, tuple[float | None, int]]:
    """Per slice: mean pairwise agreement over examples labelled by two or more labelers."""
    annotations = _annotations_for(stores, version)
    if annotations is None:
        notes.append("no labelers' annotations on this dataset: agreement per slice not shown")
        return {}
    counts = annotations.groupby([EXAMPLE_ID, "label"]).size().unstack(fill_value=0)
    n = counts.sum(axis=1).to_numpy(dtype=float)
    pairs = (counts.to_numpy(dtype=float) * (counts.to_numpy(dtype=float) - 1)).sum(axis=1)
    agree = pd.Series(
        np.where(n >= 2, pairs / np.maximum(n * (n - 1), 1), np.nan), index=counts.index.astype(str)
    )
    ids = version.to_pandas(columns=[EXAMPLE_ID])[EXAMPLE_ID].astype(str).to_numpy()
    per_example = agree.reindex(ids).to_numpy()
    out: dict[str, tuple[float | None, int]] = {}
    for name, mask in {"all": np.ones(len(ids), dtype=bool), **masks}.items():
        values = per_example[mask & rows]
        values = values[~np.isnan(values)]
        out[name] = (float(values.mean()) if len(values) else None, len(values))
    return out


def _annotations_for(stores: Stores, version: DatasetVersion) -> pd.DataFrame | None:
    if version.n_annotations:
        return version.annotations()
    for other in version_log(stores, version.dataset):
        if other.n_annotations:
            return other.annotations()
    return None


def store_analysis(
    stores: Stores,
    version: DatasetVersion,
    audit: str | None,
    run: str | None,
    metric: str,
    split: str | None,
    table: pd.DataFrame,
    metrics: MetricsReport,
) -> None:
    """Keep the slice metrics with the version: the baseline of a later analysis."""
    from dcai.labels.reports import store_report

    columns = ["name", "kind", "n", "share", "metric_name", "value", "low", "high"]
    # The recommendation too, in priority order: ``dcai status`` names the next action from it.
    columns += [c for c in ("potential_gain", "action", "reason") if c in table.columns]
    kept = table[columns].astype({"value": float, "low": float, "high": float})
    accuracy = metrics.metric("accuracy")
    store_report(
        stores,
        version,
        "analysis",
        {"audit": audit, "run": run, "metric": metric, "split": split},
        {"accuracy": accuracy.value, "n_slices": len(table)},
        kept,
        None,
    )
