"""A self-contained HTML report of an error analysis: tables and plotly charts, offline.

One file, no network: plotly's JavaScript is embedded once, the data of every chart inline.
Charts: the confusion matrix, the slices against their baselines, the learning curve with its
extrapolation, and the clean-vs-noisy learning curves.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dcai._atomic import atomic_write_bytes

if TYPE_CHECKING:
    from dcai.analysis.workflow import ErrorAnalysis

__all__ = ["render_html_report", "write_html_report"]

#: Slices drawn in the bar chart.
CHART_SLICES = 15

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: right; }
th:first-child, td:first-child, td.text { text-align: left; }
.note { color: #666; } .warn { color: #a15c00; } .fail { color: #b00020; } .ok { color: #1b7a2f; }
.verdict { font-size: 1.05rem; font-weight: 600; }
"""


def write_html_report(result: ErrorAnalysis, path: str | Path) -> Path:
    """Write :func:`render_html_report` to ``path`` atomically and return the path."""
    target = Path(path)
    atomic_write_bytes(target, render_html_report(result).encode("utf-8"))
    return target


def render_html_report(result: ErrorAnalysis) -> str:
    """The whole report as one HTML string (see the module docstring)."""
    charts = [_confusion_chart(result), _slice_chart(result)]
    if result.learning_curve is not None:
        charts.append(_curve_chart(result))
    if result.clean_vs_collect is not None:
        charts.append(_clean_chart(result))
    from plotly.offline import get_plotlyjs

    divs = [
        chart.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})
        for chart in charts
    ]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>dcai analysis of {_e(result.ref)}</title><style>{_STYLE}</style>",
        # plotly.js once, in the head, so every chart below finds it whatever the order.
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>",
        f"<h1>Error analysis of {_e(result.ref)}</h1>",
        f"<p>{_e(_source(result))} · {result.n_examples:,} examples · evaluated on "
        f"{_e(result.evaluated_on)}</p>",
    ]
    for warning in result.metrics.warnings:
        parts.append(f"<p class='warn'>⚠ {_e(warning)}</p>")
    if result.clean_vs_collect is not None:
        parts.append(f"<p class='verdict'>{_e(result.clean_vs_collect.sentence)}</p>")
    parts += ["<h2>Metrics</h2>", _table(_metrics_rows(result))]
    parts += ["<h2>What to work on next</h2>", _priority_table(result.priorities), divs[1]]
    parts += ["<h2>Confusion matrix</h2>", divs[0]]
    if result.discovered is not None and len(result.discovered.slices):
        found = result.discovered.slices[
            ["name", "size", "error_rate", "error_rate_outside", "lift", "p_adjusted"]
        ]
        parts += ["<h2>Slices found automatically</h2>", _table(found)]
    extra = iter(divs[2:])
    if result.learning_curve is not None:
        parts += ["<h2>Learning curve</h2>", next(extra)]
    if result.clean_vs_collect is not None:
        parts += ["<h2>Clean vs collect</h2>", next(extra)]
    if result.requirements is not None:
        req = result.requirements
        state = "ok'>all requirements met" if req.passed else f"fail'>{len(req.failures)} failed"
        parts += [f"<h2>Requirements</h2><p class='{state}</p>", _table(req.checks)]
    if result.notes:
        parts.append("<h2>Notes</h2><ul>")
        parts += [f"<li class='note'>{_e(n)}</li>" for n in result.notes]
        parts.append("</ul>")
    parts.append("<p class='note'>Made by dcai. Opens offline.</p></body></html>")
    return "\n".join(parts)


def _source(result: ErrorAnalysis) -> str:
    """Whose predictions, and which HLP report is the baseline."""
    said = f"run {result.run[:8]}" if result.run else f"audit {result.audit}"
    if result.hlp is not None:
        value = result.hlp["value"]
        said += f" · HLP #{result.hlp['id']} ({result.hlp['method']}" + (
            ")" if value is None else f", {value:.3f})"
        )
    return said


def _e(value: Any) -> str:
    return html.escape(str(value))


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    if isinstance(value, float | np.floating):
        return f"{value:.3f}"
    return _e(value)


def _table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='text'>{_cell(v)}</td>" if isinstance(v, str) else f"<td>{_cell(v)}</td>"
            for v in row
        )
        + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _metrics_rows(result: ErrorAnalysis) -> pd.DataFrame:
    overall = result.metrics.overall
    return overall[["metric", "value", "low", "high"]]


def _priority_table(priorities: pd.DataFrame) -> str:
    columns = [
        "name",
        "share",
        "value",
        "low",
        "high",
        "baseline",
        "gap",
        "potential_gain",
        "label_issue_rate",
        "agreement",
        "action",
        "reason",
    ]
    return _table(priorities[columns])


def _confusion_chart(result: ErrorAnalysis) -> Any:
    import plotly.graph_objects as go

    confusion = result.metrics.confusion
    labels = [str(c) for c in confusion.columns]
    counts = confusion.to_numpy()
    rows = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, rows, out=np.zeros_like(counts, dtype=float), where=rows > 0)
    figure = go.Figure(
        go.Heatmap(
            z=shares,
            x=labels,
            y=[str(c) for c in confusion.index],
            text=counts,
            texttemplate="%{text}",
            colorscale="Blues",
            hovertemplate="true %{y} → predicted %{x}: %{text} (%{z:.1%} of the row)<extra></extra>",
        )
    )
    figure.update_layout(
        xaxis_title="predicted", yaxis_title="true", yaxis_autorange="reversed", height=480
    )
    return figure


def _slice_chart(result: ErrorAnalysis) -> Any:
    import plotly.graph_objects as go

    table = result.priorities.head(CHART_SLICES).iloc[::-1]
    value = table["value"].astype(float)
    figure = go.Figure()
    figure.add_bar(
        y=table["name"].astype(str),
        x=value,
        orientation="h",
        name=result.metric,
        error_x={
            "type": "data",
            "symmetric": False,
            "array": (table["high"].astype(float) - value).fillna(0),
            "arrayminus": (value - table["low"].astype(float)).fillna(0),
        },
        customdata=np.stack([table["action"], table["share"].astype(float)], axis=1),
        hovertemplate="%{y}: %{x:.3f} · %{customdata[1]:.1%} of the data · %{customdata[0]}"
        "<extra></extra>",
    )
    figure.add_scatter(
        y=table["name"].astype(str),
        x=table["baseline"].astype(float),
        mode="markers",
        marker={"symbol": "line-ns-open", "size": 18, "color": "black"},
        name="baseline",
    )
    figure.update_layout(
        xaxis_title=result.metric, height=max(320, 28 * len(table)), barmode="overlay"
    )
    return figure


def _curve_traces(figure: Any, curve: Any, name: str, color: str) -> None:
    frame = curve.to_frame(name)
    figure.add_scatter(
        x=frame["size"],
        y=frame["mean"],
        mode="markers",
        name=f"{name}: measured",
        marker={"color": color},
        error_y={
            "type": "data",
            "symmetric": False,
            "array": frame["high"] - frame["mean"],
            "arrayminus": frame["mean"] - frame["low"],
        },
    )
    if curve.fit.usable:
        sizes = np.geomspace(frame["size"].min(), 10 * curve.n_train, 40)
        fitted = curve.predict(sizes)
        figure.add_scatter(
            x=sizes,
            y=fitted["value"],
            mode="lines",
            name=f"{name}: power law",
            line={"color": color},
        )
        figure.add_scatter(
            x=np.concatenate([sizes, sizes[::-1]]),
            y=np.concatenate([fitted["high"], fitted["low"][::-1]]),
            fill="toself",
            line={"width": 0},
            fillcolor=color,
            opacity=0.15,
            name=f"{name}: interval",
            hoverinfo="skip",
        )


def _curve_chart(result: ErrorAnalysis) -> Any:
    import plotly.graph_objects as go

    curve = result.learning_curve
    figure = go.Figure()
    _curve_traces(figure, curve, "all", "#1f77b4")
    assert curve is not None  # drawn only when there is a curve
    figure.add_vline(x=curve.n_train, line_dash="dot", annotation_text="today")
    figure.update_layout(
        xaxis_type="log", xaxis_title="training examples", yaxis_title=curve.metric, height=420
    )
    return figure


def _clean_chart(result: ErrorAnalysis) -> Any:
    import plotly.graph_objects as go

    cvc = result.clean_vs_collect
    assert cvc is not None  # drawn only when there is a comparison
    figure = go.Figure()
    _curve_traces(figure, cvc.noisy_curve, "noisy labels", "#d62728")
    _curve_traces(figure, cvc.clean_curve, "cleaned labels", "#2ca02c")
    figure.update_layout(
        xaxis_type="log",
        xaxis_title="training examples",
        yaxis_title=cvc.metric,
        height=420,
        title=cvc.sentence,
        title_font_size=12,
    )
    return figure
