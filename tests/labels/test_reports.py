"""Label workflows on a version: agreement (by guideline), consensus commit, HLP, conventions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dcai
from dcai.demo import digits_frame, simulate_labelers
from dcai.errors import InvalidInputError, UnknownRefError
from dcai.labels import ConventionRules, load_transcripts
from dcai.labels.reports import latest_report
from tests.conftest import run_dcai


@pytest.fixture
def annotated(tmp_workspace: dcai.Workspace) -> tuple[dcai.Workspace, str, pd.DataFrame]:
    version = tmp_workspace.add_dataset("digits", digits_frame().iloc[:400])
    truth = version.to_pandas(columns=["example_id", "label"])
    child = tmp_workspace.labels.import_annotations(
        version.ref, simulate_labelers(truth, n_items=150)
    )
    return tmp_workspace, child.ref, truth


def test_agreement_is_stored_and_finds_the_confused_pair(annotated: tuple) -> None:
    ws, ref, _ = annotated
    report = ws.labels.agreement(ref, n_boot=50)
    data = report.to_dict()
    for key in (
        "n_items",
        "n_annotators",
        "percent_agreement",
        "cohen_kappa",
        "fleiss_kappa",
        "krippendorff_alpha",
        "per_class",
        "pairs",
    ):
        assert key in data
    assert data["n_items"] == 150 and data["n_annotators"] == 3
    top = report.confused_pairs(1).iloc[0]
    assert {top["class_a"], top["class_b"]} == {1, 8}
    stored = latest_report(ws, ref, "agreement")
    assert stored.summary["n_items"] == 150


def test_agreement_by_guideline(tmp_workspace: dcai.Workspace, tmp_path: Path) -> None:
    version = tmp_workspace.add_dataset("digits", digits_frame().iloc[:400])
    truth = version.to_pandas(columns=["example_id", "label"])
    (tmp_path / "v1.md").write_text("v1")
    (tmp_path / "v2.md").write_text("v2: 1 has no foot; 8 has two loops")
    tmp_workspace.labels.add_guideline("digits", tmp_path / "v1.md")
    first = simulate_labelers(truth.iloc[:200], n_items=100, seed=1)
    child = tmp_workspace.labels.import_annotations(version.ref, first, guideline="digits@v1")
    tmp_workspace.labels.add_guideline("digits", tmp_path / "v2.md")
    better = (("ana", 0.98, None, 0.0), ("bo", 0.98, None, 0.0), ("cy", 0.98, None, 0.0))
    second = simulate_labelers(truth.iloc[200:], n_items=100, seed=2, labelers=better)
    child = tmp_workspace.labels.import_annotations(child.ref, second, guideline="digits")
    comparison = tmp_workspace.labels.agreement_by(child.ref, "guideline", n_boot=50)
    summary = comparison.summary.set_index("guideline")
    assert set(summary.index) == {"digits@v1", "digits@v2"}
    # Revised instructions: the 1/8 confusion is gone, so class 1 agrees more under v2.
    wide = comparison.per_class_wide()
    assert wide.loc[1, "digits@v2"] > wide.loc[1, "digits@v1"]


def test_consensus_commit_and_hlp(annotated: tuple) -> None:
    ws, ref, truth = annotated
    result = ws.labels.consensus(ref, method="dawid_skene")
    merged = result.labels.merge(truth, on="example_id", suffixes=("", "_true"))
    assert (merged["label"] == merged["label_true"]).mean() > 0.95
    assert result.annotators.set_index("annotator")["accuracy"].idxmin() == "cy"
    child = ws.labels.commit_consensus(ref, method="majority")
    assert child.operation == "consensus" and child.params["method"] == "majority"
    assert child.to_pandas()["label"].dtype.kind == "i"
    report = ws.labels.hlp(ref, n_boot=50)
    frame = report.to_frame()
    overall = frame[frame["scope"] == "overall"].iloc[0]
    assert 0.8 < overall["accuracy"] < 1.0
    per_class = frame[frame["scope"] == "class"].set_index("group")["accuracy"]
    assert per_class.index.astype(str).isin(["1", "8"]).any()
    assert latest_report(ws, ref, "hlp").table.shape[0] == len(frame)


def test_model_assisted_consensus_needs_an_audit(annotated: tuple) -> None:
    ws, ref, truth = annotated
    with pytest.raises(InvalidInputError, match="has no audit"):
        ws.labels.consensus(ref, method="model_assisted")
    ws.audit(ref, cv=3)
    result = ws.labels.consensus(ref, method="model_assisted")
    merged = result.labels.merge(truth, on="example_id", suffixes=("", "_true"))
    assert (merged["label"] == merged["label_true"]).mean() > 0.95


def test_conventions_on_transcripts(tmp_workspace: dcai.Workspace, tmp_path: Path) -> None:
    transcripts = load_transcripts()
    data = pd.DataFrame({"example_id": transcripts["example_id"].unique()})
    data["audio_seconds"] = np.arange(len(data), dtype=float)
    data["label"] = "transcript"
    version = tmp_workspace.add_dataset("speech", data, id="example_id")
    child = tmp_workspace.labels.import_annotations(version.ref, transcripts)
    report = tmp_workspace.labels.conventions(child.ref)
    named = set(report.conventions["convention"])
    assert {"filler_words", "ellipsis"} <= named
    applied = tmp_workspace.labels.apply_conventions(child.ref, report.rules)
    assert applied.operation == "apply_conventions" and applied.params["changed"] > 0
    after = tmp_workspace.labels.conventions(applied.ref)
    assert after.groups.shape[0] <= report.groups.shape[0]
    original = child.annotations().set_index(["example_id", "annotator"])["label"]
    assert (
        original.reindex(applied.annotations().set_index(["example_id", "annotator"]).index)
        == original
    ).all()
    rules = ConventionRules.from_dict(json.loads(json.dumps(report.rules.to_dict())))
    assert rules == report.rules


def test_no_annotations_is_a_clear_error(tmp_workspace: dcai.Workspace) -> None:
    tmp_workspace.add_dataset("plain", digits_frame().iloc[:50])
    with pytest.raises(InvalidInputError, match="has no annotations"):
        tmp_workspace.labels.agreement("plain")
    with pytest.raises(UnknownRefError, match="no hlp report"):
        latest_report(tmp_workspace, "plain", "hlp")


def test_labels_cli(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    frame = digits_frame().iloc[:300]
    frame.to_csv(tmp_path / "digits.csv", index=False)
    run_dcai("init", workspace=ws)
    run_dcai(
        "data", "add", "digits", str(tmp_path / "digits.csv"), "--label", "label", workspace=ws
    )
    exported = tmp_path / "rows.csv"
    run_dcai("data", "export", "digits", str(exported), workspace=ws)
    rows = pd.read_csv(exported)
    simulate_labelers(rows[["example_id", "label"]], n_items=100).to_csv(
        tmp_path / "ann.csv", index=False
    )
    imported = run_dcai("labels", "import", "digits", str(tmp_path / "ann.csv"), workspace=ws)
    assert imported.returncode == 0, imported
    agreement = json.loads(
        run_dcai("labels", "agreement", "digits", "--boot", "50", "--json", workspace=ws).stdout
    )
    assert agreement["n_annotators"] == 3 and agreement["n_items"] == 100
    assert {
        "percent_agreement",
        "cohen_kappa",
        "fleiss_kappa",
        "krippendorff_alpha",
        "per_class",
        "pairs",
    } <= set(agreement)
    committed = json.loads(
        run_dcai(
            "labels",
            "aggregate",
            "digits",
            "--method",
            "majority",
            "--commit",
            "--json",
            workspace=ws,
        ).stdout
    )
    assert committed["new"] in (True, False) and committed["examples"] == 100
    hlp = run_dcai("labels", "hlp", "digits", "--boot", "50", "--json", workspace=ws)
    assert hlp.returncode == 0, hlp
    tasks = tmp_path / "tasks.json"
    sampled = json.loads(
        run_dcai(
            "labels", "sample", "digits", "--n", "20", "--out", str(tasks), "--json", workspace=ws
        ).stdout
    )
    assert sampled["examples"] == 20 and json.loads(tasks.read_text())[0]["data"]
    bad = run_dcai("labels", "agreement", "nope", workspace=ws)
    assert bad.returncode == 2 and "no dataset named" in bad.stderr
