"""Error analysis through the workspace and the ``dcai analyze`` CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dcai
from dcai.analysis._priorities import priority_table
from dcai.analysis._requirements import check_requirements, parse_requirements
from dcai.errors import InvalidInputError
from tests.conftest import run_dcai


def _calls(n: int = 900, seed: int = 0) -> pd.DataFrame:
    """Two classes from two features; on ``device == car`` a third of labels are flipped."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    label = np.where(x[:, 0] + 0.5 * x[:, 1] > 0, "go", "stop")
    device = rng.choice(["car", "phone", "desk"], size=n, p=[0.2, 0.4, 0.4])
    flip = (device == "car") & (rng.random(n) < 0.35)
    label = np.where(flip, np.where(label == "go", "stop", "go"), label)
    return pd.DataFrame(
        {
            "uid": [f"c{i:04d}" for i in range(n)],
            "x0": x[:, 0],
            "x1": x[:, 1],
            "device": device,
            "label": label,
        }
    )


@pytest.fixture
def analysed(tmp_workspace: dcai.Workspace) -> tuple[dcai.Workspace, str]:
    version = tmp_workspace.add_dataset("calls", _calls(), id="uid", meta=["device"])
    split = tmp_workspace.split(version.ref, dev=0.2, test=0.1)
    return tmp_workspace, split.ref


def test_the_bad_slice_leads_and_its_labels_are_blamed(analysed: tuple) -> None:
    ws, ref = analysed
    result = ws.analyze(ref, n_boot=200, repeats=2, baselines={"all": 0.97})
    table = result.priorities.set_index("name")
    assert result.priorities.loc[0, "name"] == "all"
    car = table.loc["device == car"]
    assert car["value"] < table.loc["device == phone", "value"] - 0.15
    assert car["potential_gain"] == pytest.approx(max(car["gap"], 0) * car["share"])
    assert car["action"] == "fix labels" and car["label_issue_rate"] > 0.15
    slices = result.to_dict()["slices"]
    assert {"name", "share", "metric", "baseline", "gap", "potential_gain", "action"} <= set(
        slices[0]
    )
    json.dumps(result.to_dict(), allow_nan=False)
    discovered = result.discovered
    assert discovered is not None and "device == car" in discovered.slices["name"].iloc[0]
    assert result.learning_curve is not None and result.clean_vs_collect is not None


def test_missing_parts_leave_notes_not_failures(tmp_workspace: dcai.Workspace) -> None:
    version = tmp_workspace.add_dataset("calls", _calls(300), id="uid", meta=["device"])
    result = tmp_workspace.analyze(
        version.ref,
        n_boot=50,
        baselines={"all": 0.9, "weather == rain": 0.8},
        slices=["x0 > 100"],
    )
    notes = " ".join(result.notes)
    assert "no train and dev split" in notes
    assert "'weather == rain', which is not analysed" in notes
    assert "'x0 > 100' has no examples" in notes
    assert "no human-level performance stored for calls" in notes
    assert len(result.priorities) > 1
    with pytest.raises(InvalidInputError, match="no split column"):
        tmp_workspace.analyze(version.ref, split="dev", n_boot=0, curves=False)


def test_priority_rules() -> None:
    y = np.array(["a"] * 100)
    pred = y.copy()
    pred[:30] = "b"  # slice s1: rows 0–39 — 30 errors
    s1 = np.arange(100) < 40
    s2 = np.arange(100) >= 60
    issues = np.zeros(100, dtype=bool)
    issues[:20] = True
    table = priority_table(
        y,
        pred,
        {"s1": s1, "s2": s2},
        baselines={"all": 0.95},
        label_issues=issues,
        agreement={"s2": (0.5, 30), "all": (0.9, 100)},
        n_boot=0,
    ).set_index("name")
    assert table.loc["s1", "action"] == "fix labels"
    assert table.loc["s2", "action"] == "leave it"  # at 1.0, above its baseline
    assert table.loc["s1", "potential_gain"] == pytest.approx((0.95 - 0.25) * 0.4)


def test_requirements_gate() -> None:
    frame = pd.DataFrame({"device": ["car"] * 10 + ["phone"] * 10})
    y = np.array(["a"] * 20)
    pred = y.copy()
    pred[:4] = "b"
    reqs = parse_requirements(
        {
            "requirement": [
                {"metric": "accuracy", "each": "device", "min": 0.7},
                {"metric": "accuracy", "max_gap_to_overall": 0.05},
                {"metric": "error_rate", "slice": "device == 'phone'", "max": 0.0},
            ]
        }
    )
    result = check_requirements(
        reqs, y, pred, frame, slices={"car": frame["device"].eq("car").to_numpy()}, n_boot=0
    )
    assert not result.passed
    failed = result.failures
    assert failed["rule"].str.contains("no slice more than").any()
    assert not failed["slice"].eq("device == phone").any()
    for bad, match in [
        ({"requirement": [{"metric": "auc", "each": "d", "min": 1}]}, "metric must be one of"),
        ({"requirement": [{"metric": "accuracy", "min": 1}]}, "exactly one of"),
        ({"requirement": [{"each": "d"}]}, "give a threshold"),
        ({"requirement": [{"each": "d", "min": 0.5, "colour": 1}]}, "unknown key"),
        ({}, "no \\[\\[requirement\\]\\] tables"),
    ]:
        with pytest.raises(InvalidInputError, match=match):
            parse_requirements(bad)


def test_analyze_cli_json_html_and_check(tmp_path: Path) -> None:
    _calls(600).to_csv(tmp_path / "calls.csv", index=False)
    ws = tmp_path / "ws"
    assert run_dcai("init", workspace=ws).returncode == 0
    added = run_dcai(
        "data",
        "add",
        "calls",
        str(tmp_path / "calls.csv"),
        "--id",
        "uid",
        "--meta",
        "device",
        workspace=ws,
    )
    assert added.returncode == 0, added
    assert run_dcai("data", "split", "calls", workspace=ws).returncode == 0
    requirements = tmp_path / "req.toml"
    requirements.write_text('[[requirement]]\nmetric = "accuracy"\neach = "device"\nmin = 0.8\n')
    html = tmp_path / "out" / "report.html"
    html.parent.mkdir()  # --html no longer creates missing folders
    out = run_dcai(
        "analyze",
        "calls",
        "--boot",
        "100",
        "--repeats",
        "2",
        "--check",
        str(requirements),
        "--html",
        str(html),
        "--json",
        workspace=ws,
        timeout=300,
    )
    assert out.returncode == 1, out  # the car slice fails the requirement
    data = json.loads(out.stdout)
    assert data["requirements"]["passed"] is False
    assert any(
        c["slice"] == "device == car" and not c["passed"] for c in data["requirements"]["checks"]
    )
    assert data["slices"][0]["name"] == "all"
    text = html.read_text(encoding="utf-8")
    assert "Plotly" in text and "What to work on next" in text
    assert not re.search(r"<script[^>]+src=[\"']https?:", text), "the report must open offline"
    table = run_dcai("analyze", "calls", "--boot", "50", "--no-curves", workspace=ws, timeout=300)
    assert table.returncode == 0 and "What to work on next" in table.stdout
    bad = run_dcai("analyze", "calls", "--metric", "auc", workspace=ws)
    assert bad.returncode == 2 and "--metric must be one of" in bad.stderr


def test_a_previous_run_is_a_baseline(analysed: tuple) -> None:
    ws, ref = analysed
    first = ws.analyze(ref, n_boot=0, curves=False, discover=False)
    again = ws.analyze(ref, n_boot=0, curves=False, discover=False, baseline_version=ref)
    before = first.priorities.set_index("name")
    after = again.priorities.set_index("name")
    assert after.loc["all", "baseline"] == pytest.approx(before.loc["all", "value"])
    assert after.loc["device == car", "baseline_source"].startswith("run (calls@")
    assert after.loc["device == car", "gap"] == pytest.approx(0.0)
    assert after.loc["device == car", "action"] == "leave it"
