"""``dcai analyze``: --run (a run's predictions), --hlp (which HLP report), --baseline-version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import dcai
from dcai.demo import digits_frame, simulate_labelers
from tests.conftest import run_dcai


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("analyze") / "ws"
    ws = dcai.Workspace(path)
    version = ws.add_dataset("digits", digits_frame().iloc[:500])
    truth = version.to_pandas(columns=["example_id", "label"])
    labelled = ws.labels.import_annotations(version.ref, simulate_labelers(truth, n_items=120))
    split = ws.split(labelled.ref, dev=0.3, test=0.1)
    run = ws.train(split.ref, n_boot=0, capture_code=False)
    first = ws.labels.hlp(split.ref, consensus="majority", n_boot=0)
    second = ws.labels.hlp(split.ref, consensus="dawid_skene", n_boot=0)
    other = ws.add_dataset("other", digits_frame().iloc[500:800])
    other_split = ws.split(other.ref, dev=0.3, test=0.1)
    other_run = ws.train(other_split.ref, n_boot=0, capture_code=False)
    from dcai.labels.reports import list_reports

    ids = [r.id for r in list_reports(ws, "digits", kind="hlp")]  # newest first
    ws.close()
    assert first is not None and second is not None
    return {
        "path": path,
        "ref": split.ref,
        "run": run.run,
        "other_run": other_run.run,
        "hlp_ids": ids,
    }


FAST = ("--no-curves", "--no-discover", "--boot", "0", "--json")


def _analyze(setup: dict[str, Any], *args: str) -> Any:
    return run_dcai("analyze", setup["ref"], *args, workspace=setup["path"])


def test_run_predictions_are_analysed(setup: dict[str, Any]) -> None:
    out = _analyze(setup, "--run", setup["run"][:8], *FAST)
    assert out.returncode == 0, out
    data = json.loads(out.stdout)
    assert data["run"] == setup["run"]
    ws = dcai.Workspace(setup["path"])
    try:
        detail = ws.runs.get(setup["run"])
        n_dev = int((ws.data.version(setup["ref"]).to_pandas()["split"] == "dev").sum())
    finally:
        ws.close()
    assert data["n_examples"] == n_dev
    accuracy = next(m for m in data["metrics"]["overall"] if m["metric"] == "accuracy")
    assert accuracy["value"] == pytest.approx(detail["metrics"]["accuracy"])
    assert setup["run"][:8] in data["evaluated_on"]


def test_a_run_on_another_dataset_is_refused_in_one_line(setup: dict[str, Any]) -> None:
    out = _analyze(setup, "--run", setup["other_run"], *FAST)
    assert out.returncode == 2, out
    assert "was trained on other@" in out.stderr and "not on digits" in out.stderr


def test_the_hlp_report_used_is_named_and_can_be_chosen(setup: dict[str, Any]) -> None:
    newest, older = setup["hlp_ids"][:2]
    out = _analyze(setup, *FAST)
    assert out.returncode == 0, out
    data = json.loads(out.stdout)
    assert data["hlp"]["id"] == newest and data["hlp"]["method"] == "dawid_skene"
    assert 0 <= data["hlp"]["value"] <= 1
    assert any("2 HLP reports stored" in note for note in data["notes"])
    chosen = json.loads(_analyze(setup, "--hlp", str(older), *FAST).stdout)
    assert chosen["hlp"]["id"] == older and chosen["hlp"]["method"] == "majority"
    overall = next(s for s in chosen["slices"] if s["name"] == "all")
    assert overall["baseline"] == pytest.approx(chosen["hlp"]["value"])
    assert overall["baseline_source"].startswith(f"hlp #{older}")
    text = _analyze(setup, "--hlp", str(older), "--no-curves", "--no-discover", "--boot", "0")
    assert f"HLP baseline: report #{older} (majority" in text.stdout, text
    missing = _analyze(setup, "--hlp", "9999", *FAST)
    assert missing.returncode != 0 and "no HLP report 9999" in missing.stderr


def test_baseline_version_and_its_deprecated_alias(setup: dict[str, Any]) -> None:
    out = _analyze(setup, "--baseline-version", setup["ref"], *FAST)
    assert out.returncode == 0, out
    sources = {s["baseline_source"] for s in json.loads(out.stdout)["slices"]}
    assert any(str(s).startswith("run (digits@") for s in sources)
    assert "deprecated" not in out.stderr
    old = _analyze(setup, "--baseline-run", setup["ref"], *FAST)
    assert old.returncode == 0, old
    assert "--baseline-run is deprecated; use --baseline-version" in old.stderr
    help_text = run_dcai("analyze", "--help", workspace=Path(setup["path"]))
    assert "--baseline-version" in help_text.stdout and "--baseline-run" not in help_text.stdout
    assert "--run" in help_text.stdout and "--hlp" in help_text.stdout
