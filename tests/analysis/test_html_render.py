"""The HTML report opens offline in a real headless Chromium and draws every chart.

``make test`` installs Chromium (``make browser``); run directly without it, this test skips.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dcai
from dcai.analysis.html import write_html_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (make browser)")
def test_report_renders_every_chart_offline(tmp_workspace: dcai.Workspace, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 600
    x = rng.normal(size=(n, 2))
    frame = pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "site": rng.choice(["a", "b"], n)})
    frame["label"] = np.where(x[:, 0] > 0, "yes", "no")
    flip = rng.random(n) < 0.1
    frame.loc[flip, "label"] = np.where(frame.loc[flip, "label"] == "yes", "no", "yes")
    version = tmp_workspace.add_dataset("toy", frame, meta=["site"])
    version = tmp_workspace.split(version.ref, dev=0.2, test=0.1)
    result = tmp_workspace.analyze(version.ref, n_boot=50, repeats=2)
    assert result.learning_curve is not None and result.clean_vs_collect is not None
    report = write_html_report(result, tmp_path / "report.html")
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
    charts = run.stdout.count('class="plotly-graph-div')
    drawn = len(re.findall(r'<svg class="main-svg"', run.stdout))
    assert charts == 4  # confusion matrix, slices, learning curve, clean vs collect
    assert drawn >= 2 * charts, f"only {drawn} plot surfaces drawn for {charts} charts"
