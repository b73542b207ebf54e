"""The monitoring report: offline, escaped, strict JSON, robust to empty and missing parts, and
drawn by a real headless Chromium (skipped when Chromium is not installed)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dcai.monitor.alerts import evaluate, parse_rules
from dcai.monitor.report_html import render_monitor_report, write_monitor_report
from dcai.monitor.windows import Reference, compute_windows, fit_reference

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
RULE = 'x drift <b>&"'  # a name that must be escaped everywhere
HOURS = 24
CHANGE = 16  # the hour from which inputs shift and confidence drops


def _reference() -> Reference:
    rng = np.random.default_rng(0)
    train = pd.DataFrame(
        {
            "x": rng.normal(size=400),
            "size": rng.uniform(0, 10, 400),
            "site": rng.choice(["a", "b"], 400),
        }
    )
    return fit_reference(
        "churn/3", train, numeric=["x", "size"], categorical=["site"], classes=[0, 1]
    )


def _log() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    records: list[dict[str, Any]] = []
    for hour in range(HOURS):
        changed = hour >= CHANGE
        for i in range(40):
            x = rng.normal(loc=2.5 if changed else 0.0)
            site = rng.choice(["a", "b", "zz"] if changed else ["a", "b"])
            confidence = rng.uniform(0.5, 0.7) if changed else rng.uniform(0.8, 1.0)
            label = int(x > 0)
            records.append(
                {
                    "request_id": f"{hour}-{i}",
                    "index": 0,
                    "time": f"2026-01-01T{hour:02d}:{i:02d}:00+00:00",
                    "route": "primary",
                    "model_version": "churn/3",
                    "revision": 1,
                    "inputs": json.dumps({"x": x, "size": float(rng.uniform(0, 10)), "site": site}),
                    "label": json.dumps(label),
                    "confidence": confidence,
                    "probabilities": json.dumps({"0": 1 - confidence, "1": confidence}),
                    "needs_review": confidence < 0.6,
                    "latency_ms": float(rng.uniform(3, 9)),
                    "feedback_label": json.dumps(label if rng.random() < 0.9 else 1 - label)
                    if i % 4 == 0
                    else None,
                }
            )
    return pd.DataFrame.from_records(records)


@pytest.fixture(scope="module")
def report_args() -> dict[str, Any]:
    reference = _reference()
    now = pd.Timestamp("2026-01-01T23:30:00+00:00").timestamp()  # the last window is open
    result = compute_windows(_log(), reference=reference, window_seconds=3600, now=now)
    rules = parse_rules(
        [
            {"name": RULE, "metric": "drift_share", "op": ">", "threshold": 0.3},
            {"metric": "latency_p99", "op": ">", "threshold": 1.0},
        ]
    )
    judged = evaluate(rules, result.windows)
    alerts = [a.to_dict() for a in judged.alerts]
    assert [a["rule"] for a in alerts if a["state"] == "firing"] == [RULE]
    return {
        "deployment": "churn-api",
        "window": "3600s",
        "series": result.windows,
        "columns": result.columns,
        "alerts": alerts,
        "rules": rules,
        "limits": dict(judged.limits),
        "reference": reference,
        "latest_inputs": result.latest_inputs,
        "notes": ["a <note> & more"],
    }


def _data_part(page: str) -> str:
    """The page without the embedded plotly.js (which itself mentions NaN and URLs)."""
    return re.sub(r"<script type='text/javascript'>.*?</script>", "", page, count=1, flags=re.S)


def _plot_json(page: str) -> list[str]:
    return re.findall(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*(.*?)\)\s*};", page, flags=re.S)


def _titles(page: str) -> list[str]:
    """Each chart's title, in page order."""
    return [json.loads("[" + f + "]")[1]["title"]["text"] for f in _plot_json(page)]


def test_page_is_offline_escaped_and_strict(report_args: dict[str, Any], tmp_path: Path) -> None:
    path = write_monitor_report(tmp_path / "out" / "report.html", **report_args)
    page = path.read_text(encoding="utf-8")
    assert page == render_monitor_report(**report_args)
    assert page.count("<script type='text/javascript'>") == 1  # plotly.js embedded once
    assert not re.search(r"""<(script|link|img|iframe)[^>]*(src|href)=["']?(https?:)?//""", page)
    data = _data_part(page)
    assert "https://" not in data and "http://" not in data
    assert "NaN" not in data and "Infinity" not in data
    # Every chart's figure is strict JSON.
    figures = _plot_json(data)
    assert figures
    for figure in figures:
        json.loads("[" + figure + "]")
    # Names from data are escaped: in HTML text and, unescaped nowhere.
    assert "x drift &lt;b&gt;&amp;&quot;" in page
    assert RULE not in page
    assert "a &lt;note&gt; &amp; more" in page
    assert "churn/3" in page and "1 alert firing" in page
    assert page.index("firing") < page.index("Metrics over time")
    assert "Hollow markers" in page  # the newest window is still open
    # The drifted columns come first among the input charts and the table.
    titles = _titles(page)
    inputs = [t.split("</b>")[0].removeprefix("<b>") for t in titles if t.startswith("<b>")]
    assert inputs[-1] == "size" and set(inputs) == {"x", "site", "size"}
    assert all("drifted" in t for t in titles if t.startswith(("<b>x<", "<b>site<")))
    table = page[page.index("Input columns in the newest window") :]
    assert table.index(">size<") > max(table.index(">x<"), table.index(">site<"))


def test_firing_alert_listed_first(report_args: dict[str, Any]) -> None:
    args = dict(report_args)
    resolved = dict(args["alerts"][0], state="resolved", rule="old", resolved_at=None)
    args["alerts"] = [resolved, *args["alerts"]]
    page = render_monitor_report(**args)
    table = page[page.index("<h2>Alerts</h2>") :]
    assert table.index(">firing<") < table.index(">resolved<")


def test_empty_series_says_nothing_to_show(tmp_path: Path) -> None:
    path = write_monitor_report(
        tmp_path / "empty.html",
        deployment="web",
        window="every:500",
        series=pd.DataFrame(),
        columns=pd.DataFrame(),
        alerts=[],
        rules=[],
        limits={},
        reference=None,
        latest_inputs=None,
        notes=[],
    )
    page = path.read_text(encoding="utf-8")
    assert "No monitoring windows to show" in page
    assert "plotly-graph-div" not in page and "<script" not in page


def test_all_nan_metrics_no_rules_no_reference() -> None:
    series = pd.DataFrame(
        {
            "window_start": ["2026-01-01T10:00:00+00:00", "2026-01-01T11:00:00+00:00"],
            "window_end": ["2026-01-01T11:00:00+00:00", "2026-01-01T12:00:00+00:00"],
            "complete": [True, None],
            "error_rate": [np.nan, np.nan],
            "accuracy": [np.nan, np.nan],
            "labeled": [0.0, 0.0],
        }
    )
    alerts = [
        {"rule": "r", "metric": "error_rate", "op": ">", "value": None, "threshold": None,
         "window": None, "window_end": None, "state": "firing", "since": None,
         "resolved_at": None}
    ]  # fmt: skip
    page = render_monitor_report(
        deployment="web", window="3600s", series=series, columns=pd.DataFrame(), alerts=alerts,
        rules=[], limits={"r": None}, reference=None, latest_inputs=None, notes=[],
    )  # fmt: skip
    assert "Every metric is empty" in page
    assert "No input to compare" in page
    assert "plotly-graph-div" not in page


def test_partial_inputs_and_nan_columns(report_args: dict[str, Any]) -> None:
    """No drift table and a newest window with gaps: charts still drawn, no NaN written."""
    args = dict(report_args, columns=pd.DataFrame())
    latest = args["latest_inputs"].copy()
    latest.loc[:, "size"] = np.nan
    args["latest_inputs"] = latest
    page = render_monitor_report(**args)
    data = _data_part(page)
    assert "NaN" not in data
    assert any(t.startswith("<b>x</b>") for t in _titles(page))
    assert "No per-column measurements" in page
    assert "No input to compare" in render_monitor_report(**dict(args, reference=None))


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (make browser)")
def test_report_renders_every_chart_offline(report_args: dict[str, Any], tmp_path: Path) -> None:
    report = write_monitor_report(tmp_path / "report.html", **report_args)
    expected = report.read_text(encoding="utf-8").count('class="plotly-graph-div')
    # Five metric groups over time and the three inputs against the reference.
    assert expected == 8
    assert CHROMIUM is not None
    # No network: a fresh profile, every request to the outside refused.
    run = subprocess.run(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--virtual-time-budget=10000",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    errors = [line for line in run.stderr.splitlines() if "CONSOLE" in line and "Uncaught" in line]
    assert not errors, errors
    # plotly.js adds js-plotly-plot to the class of each div it drew into.
    charts = len(re.findall(r'<div [^>]*class="[^"]*js-plotly-plot', run.stdout))
    drawn = len(re.findall(r'<svg class="main-svg"', run.stdout))
    assert charts == expected
    assert drawn >= 2 * charts, f"only {drawn} plot surfaces drawn for {charts} charts"
