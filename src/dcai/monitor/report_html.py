"""A self-contained HTML report of a deployment's monitoring windows, readable offline.

``dcai monitor NAME --html FILE`` writes it so that someone without the workspace (or without
network access) can see at a glance what changed after deployment: the alerts, every window
metric over time with each rule's limit drawn on it and the firing spans shaded, the newest
window's inputs against the training rows, and the per-column drift table. It follows the
error-analysis report (:mod:`dcai.analysis.html`): plotly.js is embedded once, each chart's data
inline, every text taken from data is HTML-escaped, and the file is written atomically.

Charts come from plotly's own JSON encoder, which writes NaN and infinities as ``null`` and
escapes ``<`` inside strings, so the page holds strict JSON and no data can close a ``<script>``.
A series without windows gives a short page that says so (and carries no plotly.js at all).

>>> import pandas as pd
>>> page = render_monitor_report(
...     deployment="churn", window="3600s", series=pd.DataFrame(), columns=pd.DataFrame(),
...     alerts=[], rules=[], limits={}, reference=None, latest_inputs=None,
...     notes=["no logged predictions for churn"])
>>> "No monitoring windows to show" in page, "no logged predictions for churn" in page
(True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dcai._atomic import atomic_write_bytes
from dcai.analysis.html import _STYLE as _BASE_STYLE
from dcai.analysis.html import _e, _table
from dcai.monitor.windows import _category_text

if TYPE_CHECKING:
    from dcai.monitor.alerts import Rule
    from dcai.monitor.windows import Reference

__all__ = ["INPUT_CHARTS", "render_monitor_report", "write_monitor_report"]

#: Input columns drawn against the reference (drifted first, then by effect).
INPUT_CHARTS = 12
#: Categories shown per categorical column (the most common over both sides).
_CATEGORIES = 20
_BINS = 30

_STYLE = (
    _BASE_STYLE
    + """
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 0.5rem; }
.firing { color: #b00020; font-weight: 600; }
"""
)
_CONFIG = {"displaylogo": False, "responsive": True}


def _div(figure: Any, name: str) -> str:
    """One chart's div and script; a fixed id so that the same input gives the same page."""
    return str(figure.to_html(full_html=False, include_plotlyjs=False, config=_CONFIG, div_id=name))


_FIRING = "rgba(214, 39, 40, 0.15)"
_RESOLVED = "rgba(255, 127, 14, 0.10)"


@dataclass(frozen=True)
class _Group:
    """One chart of metrics over time: left-axis metrics (lines) and right-axis ones."""

    title: str
    left: tuple[str, ...]
    left_title: str
    prefixes: tuple[str, ...] = ()
    right: tuple[str, ...] = ()
    right_title: str = ""


_GROUPS = (
    _Group(
        "Software: traffic and errors",
        ("error_rate",),
        "error rate",
        (),
        ("request_rate",),
        "requests / s",
    ),
    _Group("Software: latency", ("latency_p50", "latency_p95", "latency_p99"), "seconds"),
    _Group(
        "Software: the serving processes",
        ("server_cpu_percent",),
        "CPU, % of one core",
        (),
        ("server_memory_mb",),
        "resident memory, MiB",
    ),
    _Group(
        "Inputs",
        (
            "missing_rate",
            "out_of_range_rate",
            "unseen_category_rate",
            "schema_violation_rate",
            "drift_share",
        ),
        "rate",
    ),
    _Group(
        "Outputs",
        (
            "confidence_mean",
            "null_output_rate",
            "needs_review_rate",
            "shadow_disagreement",
            "override_rate",
        ),
        "rate",
        ("class_share:", "outcome_rate:"),
    ),
    _Group(
        "Performance",
        ("accuracy", "estimated_accuracy"),
        "accuracy",
        (),
        ("labeled",),
        "labeled answers",
    ),
)
#: Metrics drawn with their interval band.
_BANDS = {"accuracy": "#1f77b4", "estimated_accuracy": "#2ca02c"}


def write_monitor_report(
    path: str | Path,
    *,
    deployment: str,
    window: str,
    series: pd.DataFrame,
    columns: pd.DataFrame,
    alerts: list[dict[str, Any]],
    rules: list[Rule],
    limits: dict[str, float | None],
    reference: Reference | None,
    latest_inputs: pd.DataFrame | None,
    notes: list[str],
) -> Path:
    """Write :func:`render_monitor_report` to ``path`` atomically and return the path."""
    target = Path(path)
    page = render_monitor_report(
        deployment=deployment,
        window=window,
        series=series,
        columns=columns,
        alerts=alerts,
        rules=rules,
        limits=limits,
        reference=reference,
        latest_inputs=latest_inputs,
        notes=notes,
    )
    atomic_write_bytes(target, page.encode("utf-8"))
    return target


def render_monitor_report(
    *,
    deployment: str,
    window: str,
    series: pd.DataFrame,
    columns: pd.DataFrame,
    alerts: list[dict[str, Any]],
    rules: list[Rule],
    limits: dict[str, float | None],
    reference: Reference | None,
    latest_inputs: pd.DataFrame | None,
    notes: list[str],
) -> str:
    """The whole report as one HTML string (see the module docstring).

    Parameters
    ----------
    deployment, window : str
        The deployment's name and the window spec (``"3600s"``, ``"every:500"``).
    series : DataFrame
        The stored windows, oldest first: ``window_start``, ``window_end``, ``complete`` and
        the metric columns of :data:`dcai.monitor.windows.WINDOW_METRICS` (NaN = not computed).
    columns : DataFrame
        The per window × input column table (:data:`~dcai.monitor.windows.COLUMN_METRICS`).
    alerts : list of dict
        :meth:`dcai.monitor.alerts.Alert.to_dict` records.
    rules, limits
        The alert rules and the limit each used (None when skipped).
    reference : Reference or None
        What the windows were compared with; its drift detector's sample is drawn.
    latest_inputs : DataFrame or None
        The newest window's parsed inputs.
    notes : list of str
        What the monitoring pass skipped, listed under the header.
    """
    frame = series.reset_index(drop=True) if series is not None else pd.DataFrame()
    firing = sum(1 for a in alerts if a.get("state") == "firing")
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>dcai monitor of {_e(deployment)}</title><style>{_STYLE}</style>",
        "<!--PLOTLYJS--></head><body>",
        f"<h1>Monitoring of {_e(deployment)}</h1>",
        _header(frame, window, reference, firing),
    ]
    if notes:
        parts.append("<ul>" + "".join(f"<li class='note'>{_e(n)}</li>" for n in notes) + "</ul>")
    charts: list[str] = []
    if frame.empty or "window_start" not in frame:
        parts.append("<p class='note'>No monitoring windows to show yet: nothing to chart.</p>")
    parts += ["<h2>Alerts</h2>", _alerts_table(alerts)]
    if not (frame.empty or "window_start" not in frame):
        times = _frame_times(frame)
        over_time = _time_charts(frame, times, alerts, rules, limits)
        charts += over_time
        parts.append(
            "<h2>Metrics over time</h2><p class='note'>Each point is a window at its start "
            "(UTC); dashed lines are the alert rules' limits, shaded spans their alerts (red "
            "firing, orange resolved).</p>"
        )
        if not (frame.get("complete", pd.Series(True, index=frame.index)).fillna(True)).all():
            parts.append("<p class='note'>Hollow markers: windows still open (incomplete).</p>")
        parts += over_time or ["<p class='note'>Every metric is empty.</p>"]
        newest = _newest_columns(frame, columns)
        inputs = _input_charts(newest, reference, latest_inputs)
        charts += inputs
        parts.append("<h2>Inputs, reference vs newest window</h2>")
        if inputs:
            parts.append("<div class='grid'>" + "".join(inputs) + "</div>")
        else:
            parts.append(
                "<p class='note'>No input to compare: the reference sample or the newest "
                "window's inputs are missing.</p>"
            )
        parts += ["<h2>Input columns in the newest window</h2>", _columns_table(newest)]
    parts.append("<p class='note'>Made by dcai. Opens offline.</p></body></html>")
    page = "\n".join(parts)
    script = ""
    if charts:
        from plotly.offline import get_plotlyjs

        # plotly.js once, in the head, so every chart below finds it whatever the order.
        script = f"<script type='text/javascript'>{get_plotlyjs()}</script>"
    return page.replace("<!--PLOTLYJS-->", script, 1)


# --- header and tables -----------------------------------------------------------------------


def _header(frame: pd.DataFrame, window: str, reference: Reference | None, firing: int) -> str:
    model = reference.model if reference is not None else "none"
    said = [f"window {_e(window)}", f"reference model {_e(model)}", f"{len(frame):,} windows"]
    if len(frame) and "window_start" in frame:
        end = (
            frame["window_end"].iloc[-1]
            if "window_end" in frame
            else frame["window_start"].iloc[-1]
        )
        said.append(f"{_e(frame['window_start'].iloc[0])} → {_e(end)}")
    state = "firing" if firing else "ok"
    said.append(f"<span class='{state}'>{firing} alert{'s' if firing != 1 else ''} firing</span>")
    return "<p>" + " · ".join(said) + "</p>"


def _alerts_table(alerts: list[dict[str, Any]]) -> str:
    if not alerts:
        return "<p class='note'>No alert.</p>"
    keys = ["rule", "metric", "state", "value", "threshold", "since", "window", "resolved_at"]
    table = pd.DataFrame([{k: a.get(k) for k in keys} for a in alerts], columns=keys)
    table["_order"] = table["state"].ne("firing")
    table = table.sort_values(["_order", "since"], ascending=[True, False], kind="stable")
    for name in ("value", "threshold"):
        table[name] = [_number(v) for v in table[name]]
    return _table(table[keys].astype(object))


def _number(value: Any) -> float:
    """A float (NaN for None or anything not a number), for the tables' formatting."""
    try:
        return float(value) if value is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def _newest_columns(frame: pd.DataFrame, columns: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``columns`` for the newest window, drifted first, then by effect."""
    if columns is None or columns.empty or "column" not in columns:
        return pd.DataFrame(columns=["column"])
    table = columns
    if "window_start" in columns:
        starts = columns["window_start"].astype(str)
        last = str(frame["window_start"].iloc[-1])
        table = columns[starts == (last if (starts == last).any() else starts.max())]
    table = table.copy()
    drift = table["drift"] if "drift" in table else pd.Series(np.nan, index=table.index)
    table["_drift"] = [v is True or v is np.True_ or v == 1 for v in drift]
    effect = table["effect"] if "effect" in table else pd.Series(np.nan, index=table.index)
    table["_effect"] = pd.to_numeric(effect, errors="coerce").fillna(-np.inf)
    ordered = table.sort_values(["_drift", "_effect"], ascending=False, kind="stable")
    return ordered.drop(columns=["_drift", "_effect"]).reset_index(drop=True)


def _columns_table(newest: pd.DataFrame) -> str:
    if newest.empty:
        return "<p class='note'>No per-column measurements for the newest window.</p>"
    shown = {
        "column": "column",
        "kind": "kind",
        "missing_rate": "missing",
        "out_of_range_rate": "out of range",
        "unseen_rate": "unseen",
        "p_adjusted": "p adjusted",
        "effect": "effect",
        "drift": "drift",
    }
    out = pd.DataFrame(index=newest.index)
    for name, title in shown.items():
        values = newest[name] if name in newest else pd.Series(np.nan, index=newest.index)
        if name in ("column", "kind"):
            out[title] = [None if _missing(v) else str(v) for v in values]
        elif name == "p_adjusted":
            out[title] = [None if _missing(p) else f"{_number(p):.3g}" for p in values]
        elif name == "drift":
            out[title] = [None if _missing(v) else ("yes" if bool(v) else "no") for v in values]
        else:
            out[title] = [_number(v) for v in values]
    return _table(out.astype(object))


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


# --- metrics over time -----------------------------------------------------------------------


def _plot_times(values: Any) -> list[str | None]:
    """ISO times as naive UTC text, the form plotly.js reads as dates (None when unparseable)."""
    parsed = pd.to_datetime(
        pd.Series(values, dtype=object), utc=True, format="ISO8601", errors="coerce"
    )
    return [None if pd.isna(t) else t.strftime("%Y-%m-%d %H:%M:%S") for t in parsed]


def _frame_times(frame: pd.DataFrame) -> list[str | None]:
    return _plot_times(frame["window_start"])


def _values(frame: pd.DataFrame, metric: str) -> np.ndarray:
    values = pd.to_numeric(frame[metric], errors="coerce").to_numpy(dtype=np.float64)
    return np.where(np.isfinite(values), values, np.nan)


def _has(frame: pd.DataFrame, metric: str) -> bool:
    return metric in frame and bool(np.isfinite(_values(frame, metric)).any())


def _time_charts(
    frame: pd.DataFrame,
    times: list[str | None],
    alerts: list[dict[str, Any]],
    rules: list[Rule],
    limits: dict[str, float | None],
) -> list[str]:
    complete = (
        frame["complete"].astype(object).where(frame["complete"].notna(), True).astype(bool)
        if "complete" in frame
        else pd.Series(True, index=frame.index)
    )
    symbols = ["circle" if c else "circle-open" for c in complete]
    groups = list(_GROUPS)
    shown = {m for g in groups for m in (*g.left, *g.right)}
    prefixed = tuple(p for g in groups for p in g.prefixes)
    other = tuple(
        dict.fromkeys(
            r.metric
            for r in rules
            if r.metric not in shown and not r.metric.startswith(prefixed) and r.metric in frame
        )
    )
    if other:
        groups.append(_Group("Other metrics with rules", other, "value"))
    last_end = _plot_times([frame["window_end"].iloc[-1] if "window_end" in frame else None])[0]
    divs: list[str] = []
    for group in groups:
        extra = [
            str(c) for c in frame.columns if group.prefixes and str(c).startswith(group.prefixes)
        ]
        left = [m for m in (*group.left, *extra) if _has(frame, m)]
        right = [m for m in group.right if _has(frame, m)]
        if group.title == "Performance" and not left:
            right = []  # labeled counts alone say nothing about performance
        if not left and not right:
            continue
        figure = _group_figure(group, frame, times, symbols, left, right)
        _decorate(figure, left, right, alerts, rules, limits, times, last_end)
        divs.append(_div(figure, f"metrics-{len(divs)}"))
    return divs


def _group_figure(
    group: _Group,
    frame: pd.DataFrame,
    times: list[str | None],
    symbols: list[str],
    left: list[str],
    right: list[str],
) -> Any:
    from plotly.subplots import make_subplots

    figure = make_subplots(specs=[[{"secondary_y": bool(right)}]])
    for metric in left:
        values = _values(frame, metric)
        color = _BANDS.get(metric)
        low, high = f"{metric}_low", f"{metric}_high"
        if color is not None and _has(frame, low) and _has(frame, high):
            # The interval as a filled band: the low edge, then the high edge filled to it.
            figure.add_scatter(
                x=times,
                y=_values(frame, low),
                mode="lines",
                line={"width": 0},
                showlegend=False,
                hoverinfo="skip",
                legendgroup=metric,
            )
            figure.add_scatter(
                x=times,
                y=_values(frame, high),
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor=_fade(color),
                showlegend=False,
                hoverinfo="skip",
                legendgroup=metric,
            )
        figure.add_scatter(
            x=times,
            y=values,
            mode="lines+markers",
            name=_e(metric),
            legendgroup=metric,
            marker={"symbol": symbols, "size": 7, **({"color": color} if color else {})},
            line={"color": color} if color else {},
            hovertemplate=f"{_e(metric)}: %{{y:.4g}}<extra>%{{x}}</extra>",
        )
    for metric in right:
        values = _values(frame, metric)
        if metric == "labeled":
            figure.add_bar(
                x=times,
                y=values,
                name=_e(metric),
                opacity=0.3,
                marker={"color": "#7f7f7f"},
                secondary_y=True,
            )
        else:
            figure.add_scatter(
                x=times,
                y=values,
                mode="lines+markers",
                name=_e(metric),
                marker={"symbol": symbols, "size": 7},
                line={"dash": "dot"},
                secondary_y=True,
            )
    figure.update_layout(
        title=_e(group.title),
        height=340,
        margin={"l": 50, "r": 50, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.2},
        hovermode="x unified",
    )
    figure.update_xaxes(type="date")
    figure.update_yaxes(title_text=_e(group.left_title), secondary_y=False)
    if right:
        figure.update_yaxes(title_text=_e(group.right_title), secondary_y=True, showgrid=False)
    return figure


def _fade(color: str) -> str:
    red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, 0.2)"


def _decorate(
    figure: Any,
    left: list[str],
    right: list[str],
    alerts: list[dict[str, Any]],
    rules: list[Rule],
    limits: dict[str, float | None],
    times: list[str | None],
    last_end: str | None,
) -> None:
    """Each rule's limit as a dashed line; each alert's span (firing or resolved) shaded."""
    for rule in rules:
        if rule.metric not in left and rule.metric not in right:
            continue
        limit = _number(limits.get(rule.name, rule.threshold))
        if not math.isfinite(limit):
            continue
        figure.add_hline(
            y=limit,
            line_dash="dash",
            line_color="#b00020",
            line_width=1,
            annotation_text=_e(f"{rule.name} ({rule.op} {limit:.4g})"),
            annotation_font_size=10,
            secondary_y=rule.metric in right,
        )
    drawn = [t for t in times if t is not None]
    for alert in alerts:
        if alert.get("metric") not in left and alert.get("metric") not in right:
            continue
        start = _plot_times([alert.get("since")])[0]
        firing = alert.get("state") == "firing"
        end = _plot_times([alert.get("resolved_at")])[0] if not firing else last_end
        end = end or last_end or (drawn[-1] if drawn else None)
        if start is None or end is None:
            continue
        figure.add_vrect(
            x0=start,
            x1=end,
            fillcolor=_FIRING if firing else _RESOLVED,
            line_width=0,
            layer="below",
        )


# --- inputs against the reference ------------------------------------------------------------


def _input_charts(
    newest: pd.DataFrame, reference: Reference | None, latest: pd.DataFrame | None
) -> list[str]:
    detector = reference.detector if reference is not None else None
    sample = getattr(detector, "reference_sample_", None)
    if sample is None or latest is None or reference is None:
        return []
    both = [c for c in sample.columns if c in latest.columns]
    order = [c for c in newest["column"] if c in both] if len(newest) else []
    order += [c for c in both if c not in order]
    details = {row["column"]: row for row in newest.to_dict("records")} if len(newest) else {}
    divs: list[str] = []
    for column in order[:INPUT_CHARTS]:
        numeric = column in reference.numeric_range
        figure = (_numeric_figure if numeric else _category_figure)(sample[column], latest[column])
        if figure is None:
            continue
        figure.update_layout(
            title={"text": _input_title(column, details.get(column, {})), "font": {"size": 12}},
            height=300,
            margin={"l": 40, "r": 20, "t": 50, "b": 40},
            barmode=("overlay" if numeric else "group"),
            legend={"orientation": "h", "y": -0.25},
        )
        divs.append(_div(figure, f"input-{len(divs)}"))
    return divs


def _input_title(column: Any, row: dict[str, Any]) -> str:
    said = [f"<b>{_e(column)}</b>"]
    p = _number(row.get("p_adjusted"))
    if math.isfinite(p):
        said.append(f"p adjusted {p:.3g}")
    effect = _number(row.get("effect"))
    if math.isfinite(effect):
        name = row.get("effect_name")
        label = "effect" if _missing(name) else str(name)
        said.append(f"{_e(label)} {effect:.3f}")
    if row.get("drift") is True or row.get("drift") is np.True_:
        said.append("drifted")
    return " · ".join(said)


def _numeric_figure(reference: pd.Series, current: pd.Series) -> Any:
    import plotly.graph_objects as go

    ref = pd.to_numeric(reference, errors="coerce").to_numpy(dtype=np.float64)
    now = pd.to_numeric(current, errors="coerce").to_numpy(dtype=np.float64)
    ref, now = ref[np.isfinite(ref)], now[np.isfinite(now)]
    if not ref.size and not now.size:
        return None
    values = np.concatenate([ref, now])
    low, high = float(values.min()), float(values.max())
    # Shared bins, or the two histograms are not comparable.
    bins = {"start": low, "end": high, "size": (high - low) / _BINS} if high > low else None
    figure = go.Figure()
    for data, name, color in ((ref, "reference", "#7f7f7f"), (now, "newest window", "#d62728")):
        if data.size:
            figure.add_histogram(
                x=data,
                name=name,
                histnorm="probability",
                opacity=0.55,
                marker={"color": color},
                xbins=bins,
            )
    figure.update_yaxes(title_text="share")
    return figure


def _category_figure(reference: pd.Series, current: pd.Series) -> Any:
    import plotly.graph_objects as go

    ref = reference.dropna().astype(str).value_counts(normalize=True)
    now = current.dropna().map(_category_text).value_counts(normalize=True)
    if ref.empty and now.empty:
        return None
    shares = pd.concat([ref.rename("reference"), now.rename("newest window")], axis=1).fillna(0.0)
    top = shares.sum(axis=1).sort_values(ascending=False, kind="stable").index[:_CATEGORIES]
    shares = shares.loc[top]
    labels = [_e(c) for c in shares.index]
    figure = go.Figure()
    figure.add_bar(x=labels, y=shares["reference"], name="reference", marker={"color": "#7f7f7f"})
    figure.add_bar(
        x=labels, y=shares["newest window"], name="newest window", marker={"color": "#d62728"}
    )
    figure.update_yaxes(title_text="share", tickformat=".0%")
    return figure
