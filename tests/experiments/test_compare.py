"""dcai runs compare: the same recipe on two data versions — which data change bought what."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import dcai
from dcai.experiments.compare import compare_runs
from tests.conftest import run_dcai


def test_compare_two_data_versions(tmp_workspace: dcai.Workspace) -> None:
    rng = np.random.default_rng(0)
    n = 600
    x = rng.normal(size=(n, 2))
    truth = np.where(x[:, 0] > 0, "pos", "neg")
    noisy = truth.copy()
    flip = rng.random(n) < 0.3
    noisy[flip] = np.where(truth[flip] == "pos", "neg", "pos")
    frame = pd.DataFrame(
        {"uid": [f"e{i}" for i in range(n)], "x0": x[:, 0], "x1": x[:, 1], "label": noisy}
    )
    first = tmp_workspace.add_dataset("d", frame, id="uid")
    split = tmp_workspace.split(first.ref, dev=0.3, test=0.1)
    run_a = tmp_workspace.train(split.ref, n_boot=0, capture_code=False)
    clean = split.to_pandas()
    clean["label"] = truth[[int(i[1:]) for i in clean["example_id"]]]
    fixed = tmp_workspace.add_dataset("d", clean, id="example_id", message="labels fixed")
    run_b = tmp_workspace.train(fixed.ref, n_boot=0, capture_code=False)
    result = compare_runs(tmp_workspace, [run_a.run, run_b.run])
    pair = result["pairs"][0]
    assert pair["data"]["relabeled"] > 50
    assert any("labels fixed" in step for step in pair["data"]["lineage"])
    # Dev labels differ where they were fixed, so only examples with the same label are paired.
    assert pair["paired"] is not None and pair["paired"]["n_shared"] > 50
    assert set(result["metrics"]["accuracy"]) == {run_a.run[:8], run_b.run[:8]}
    out = run_dcai("runs", "compare", run_a.run, run_b.run, "--json", workspace=tmp_workspace.path)
    assert out.returncode == 0, out
    assert json.loads(out.stdout)["pairs"][0]["data"]["relabeled"] == pair["data"]["relabeled"]
    view = json.loads(
        run_dcai(
            "runs",
            "data-view",
            "--recipe",
            "logreg",
            "--dataset",
            "d",
            "--json",
            workspace=tmp_workspace.path,
        ).stdout
    )
    assert [r["run"] for r in view["rows"]] == [run_a.run, run_b.run]
    assert [r["operation"] for r in view["rows"]] == ["split", "add"]
    assert view["rows"][1]["change"] == pytest.approx(
        view["rows"][1]["metric"] - view["rows"][0]["metric"]
    )
    single = run_dcai("runs", "compare", run_a.run, workspace=tmp_workspace.path)
    assert single.returncode == 2 and "two or more runs" in single.stderr
