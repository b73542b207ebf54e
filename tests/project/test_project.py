"""Scope and status: targets and baselines in dcai.toml, each target against measured values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import dcai
from dcai.demo import digits_frame
from dcai.errors import InvalidInputError, WorkspaceError
from dcai.project import parse_target
from dcai.project.scope_file import read_scope, set_baseline, set_target
from tests.conftest import run_dcai
from tests.e2e.test_cli_bad_input import assert_rejected, ok


# ------------------------------------------------------------------------------ targets
@pytest.mark.parametrize(
    ("metric", "text", "measured_as", "kind"),
    [
        ("f1_macro", ">= 0.9", "macro_f1", "run"),
        ("test.accuracy", "> 0.8", "test.accuracy", "run"),
        ("latency_p95_seconds", "<= 0.05", "latency_p95", "monitoring"),
        ("throughput_rps", ">=200", "request_rate", "monitoring"),
        ("bleu", ">= 30", "bleu", "unknown"),
    ],
)
def test_targets_parse_and_name_what_measures_them(
    metric: str, text: str, measured_as: str, kind: str
) -> None:
    target = parse_target(metric, text)
    assert target.measured_as == measured_as and target.source_kind == kind


def test_target_comparisons_and_bad_text() -> None:
    assert parse_target("accuracy", "<= 0.5").met(0.5) is True
    assert parse_target("accuracy", "< 0.5").met(0.5) is False
    assert parse_target("accuracy", ">= 0.5").met(None) is None
    for bad in ("0.9", ">= ninety", "=> 0.9", ">= nan", ">= 1e999"):
        with pytest.raises(InvalidInputError):
            parse_target("accuracy", bad)
    with pytest.raises(InvalidInputError, match="plain name"):
        parse_target("acc uracy", ">= 0.9")


# ---------------------------------------------------------------------------- dcai.toml
def test_scope_file_keeps_comments_and_checks_entries(tmp_path: Path) -> None:
    config = tmp_path / "dcai.toml"
    config.write_text('# our settings\n[monitor]\nwindow = "1h"  # hourly\n')
    set_target(tmp_path, "f1_macro", ">= 0.9")
    set_target(tmp_path, "f1_macro", ">= 0.92")  # replaced, not duplicated
    set_baseline(tmp_path, "old_system", 0.81, source="rules engine", metric="f1_macro")
    text = config.read_text()
    assert "# our settings" in text and 'window = "1h"  # hourly' in text
    assert text.count("f1_macro =") == 1
    targets, baselines = read_scope(tmp_path)
    assert [(t.metric, t.text) for t in targets] == [("f1_macro", ">= 0.92")]
    assert baselines[0].name == "old_system" and baselines[0].value == 0.81
    with pytest.raises(InvalidInputError, match="needs its source"):
        set_baseline(tmp_path, "x", 0.5, source=" ", metric="accuracy")
    config.write_text(text.replace(">= 0.92", "about 0.9"))
    with pytest.raises(WorkspaceError, match=r"\[project.targets\]"):
        read_scope(tmp_path)


# ------------------------------------------------------------------------------- status
@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("status") / "ws"
    with dcai.Workspace(path) as ws:
        ws.data.add("digits", digits_frame().head(400), label="label")
        ws.data.split("digits", dev=0.25, test=0.0, seed=0)
        ws.runs.train("digits", n_boot=0, capture_code=False)
    return path


def test_status_holds_each_target_against_the_newest_run(trained: Path, tmp_path: Path) -> None:
    import shutil

    path = tmp_path / "ws"
    shutil.copytree(trained, path)
    with dcai.Workspace(path) as ws:
        empty = ws.project.status()
        assert empty.targets == [] and "no targets yet" in empty.notes[0]
        assert empty.next_action == {
            "action": "analyse the errors",
            "command": "dcai analyze digits",
        }
        ws.project.target("accuracy", ">= 0.5")
        ws.project.target("f1_macro", "< 0.5")
        ws.project.target("latency_p95_seconds", "<= 0.05")
        ws.project.target("bleu", ">= 30")
        ws.project.baseline("quick_model", 0.7, source="logreg on 10 pixels", metric="accuracy")
        status = ws.project.status()
        runs = ws.runs()
    rows = {t.metric: t for t in status.targets}
    accuracy = float(runs.loc[0, "metrics.accuracy"])
    assert rows["accuracy"].value == pytest.approx(accuracy) and rows["accuracy"].met is True
    assert rows["accuracy"].source.startswith("run ") and "digits@" in rows["accuracy"].source
    assert rows["accuracy"].baselines == [
        {"name": "quick_model", "value": 0.7, "source": "logreg on 10 pixels"}
    ]
    assert rows["f1_macro"].value == pytest.approx(float(runs.loc[0, "metrics.macro_f1"]))
    assert rows["f1_macro"].met is False
    assert rows["latency_p95_seconds"].value is None and rows["latency_p95_seconds"].met is None
    assert "nothing in this workspace measures bleu" in status.notes
    assert status.all_met is False
    payload = json.loads(json.dumps(status.to_dict(), allow_nan=False))
    assert [t["metric"] for t in payload["targets"]][:2] == ["accuracy", "f1_macro"]


def test_cli_scope_and_status(trained: Path, tmp_path: Path) -> None:
    import shutil

    path = tmp_path / "ws"
    shutil.copytree(trained, path)
    ok(run_dcai("scope", "target", "accuracy", ">= 0.5", workspace=path))
    ok(run_dcai("scope", "baseline", "old", "0.6", "--source", "old system", workspace=path))
    shown = ok(run_dcai("status", workspace=path))
    assert "accuracy" in shown.stdout and "met" in shown.stdout and "next:" in shown.stdout
    payload = json.loads(ok(run_dcai("status", "--json", workspace=path)).stdout)
    assert payload["targets"][0]["met"] is True
    assert payload["targets"][0]["baselines"][0]["source"] == "old system"
    assert_rejected(
        run_dcai("scope", "target", "accuracy", "about 0.9", workspace=path), "OP VALUE"
    )
    ok(run_dcai("scope", "target", "macro_recall", ">= 0.5", workspace=path))
    assert_rejected(
        run_dcai("scope", "baseline", "b", "0.5", "--source", "x", workspace=path),
        "which metric",
    )
