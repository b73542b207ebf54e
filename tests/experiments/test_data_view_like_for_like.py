"""The data-centric view and ``runs compare`` score every run on one evaluation set.

Versions are built where dev labels change (a review relabels dev examples) and dev shrinks
(examples removed): each step of the view must equal the paired difference on the common
examples, with the newest labels, and its interval a paired bootstrap computed here directly.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import dcai
from dcai.experiments.compare import N_BOOT, _code_pair, compare_runs
from dcai.experiments.data_view import data_view
from dcai.store import read_parquet_object
from tests.conftest import run_dcai


def _dev_predictions(ws: dcai.Workspace, run: str) -> pd.DataFrame:
    detail = ws.runs.get(run)
    sha = next(a["sha256"] for a in detail["artifacts"] if a["name"] == "predictions.parquet")
    frame: pd.DataFrame = read_parquet_object(ws.objects, sha, what="test")
    return frame[frame["split"] == "dev"].set_index("example_id")


def _bootstrap(diff: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """The textbook paired percentile bootstrap (Efron & Tibshirani 1993, ch. 16), by hand."""
    rng = np.random.default_rng(seed)
    reps = np.empty(N_BOOT)
    draws = rng.integers(0, len(diff), size=(N_BOOT, len(diff)))
    for b in range(N_BOOT):
        reps[b] = diff[draws[b]].mean()
    low, high = np.quantile(reps, [0.025, 0.975])
    return float(low), float(high)


@pytest.fixture(scope="module")
def lineage(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    ws = dcai.Workspace(tmp_path_factory.mktemp("view") / "ws")
    rng = np.random.default_rng(0)
    n = 500
    x = rng.normal(size=(n, 2))
    truth = np.where(x[:, 0] + 0.3 * x[:, 1] > 0, "pos", "neg")
    noisy = truth.copy()
    flip = rng.random(n) < 0.2
    noisy[flip] = np.where(truth[flip] == "pos", "neg", "pos")
    frame = pd.DataFrame(
        {"uid": [f"e{i}" for i in range(n)], "x0": x[:, 0], "x1": x[:, 1], "label": noisy}
    )
    first = ws.add_dataset("d", frame, id="uid")
    v1 = ws.split(first.ref, dev=0.3, test=0.1)
    run1 = ws.train(v1.ref, n_boot=0, capture_code=False)
    # v2: a review relabels 7 dev examples (and nothing else).
    data = v1.to_pandas()
    dev_ids = data.loc[data["split"] == "dev", "example_id"].to_numpy()
    relabel = dev_ids[:7]
    at = data["example_id"].isin(relabel)
    data.loc[at, "label"] = np.where(data.loc[at, "label"] == "pos", "neg", "pos")
    v2 = ws.add_dataset("d", data, id="example_id", message="review: 7 dev labels fixed")
    run2 = ws.train(v2.ref, n_boot=0, capture_code=False)
    # v3: 40 dev examples removed (duplicates), so dev shrinks.
    removed = dev_ids[-40:]
    data3 = data[~data["example_id"].isin(removed)].reset_index(drop=True)
    v3 = ws.add_dataset("d", data3, id="example_id", message="duplicates removed")
    run3 = ws.train(v3.ref, n_boot=0, capture_code=False)
    yield {
        "ws": ws,
        "versions": [v1, v2, v3],
        "runs": [run1.run, run2.run, run3.run],
        "dev_ids": dev_ids,
        "relabel": relabel,
        "removed": removed,
    }
    ws.close()


def test_every_step_is_the_paired_difference_on_the_common_set(lineage: dict[str, Any]) -> None:
    ws, runs = lineage["ws"], lineage["runs"]
    view = data_view(ws, recipe="logreg", dataset="d")
    rows = view["rows"]
    assert [r["run"] for r in rows] == runs
    common = [i for i in lineage["dev_ids"] if i not in set(lineage["removed"])]
    newest = lineage["versions"][-1].to_pandas().set_index("example_id")["label"].astype(str)
    labels = newest.reindex(common).to_numpy()
    assert view["eval"]["n"] == len(common)
    hits = [
        (_dev_predictions(ws, r)["predicted"].astype(str).reindex(common).to_numpy() == labels)
        for r in runs
    ]
    for i, row in enumerate(rows):
        assert row["n_eval"] == len(common)
        assert row["metric"] == pytest.approx(hits[i].mean())
    for i in (1, 2):
        diff = hits[i].astype(float) - hits[i - 1].astype(float)
        assert rows[i]["change"] == pytest.approx(diff.mean())
        low, high = _bootstrap(diff)
        assert rows[i]["low"] == pytest.approx(low) and rows[i]["high"] == pytest.approx(high)
        assert rows[i]["real"] == (low > 0 or high < 0)
    # The dev set's own changes are said, row by row.
    assert rows[0]["dev_change"] is None
    assert rows[1]["dev_change"] == {"added": 0, "removed": 0, "relabelled": 7}
    assert rows[2]["dev_change"] == {"added": 0, "removed": 40, "relabelled": 0}
    # Each run's own dev metric differs from the like-for-like one (dev labels/size changed).
    assert rows[2]["own_metric"] != pytest.approx(rows[2]["metric"]) or rows[1][
        "own_metric"
    ] != pytest.approx(rows[1]["metric"])
    json.dumps(view, allow_nan=False)


def test_a_pinned_eval_version_and_a_run_that_lacks_examples(lineage: dict[str, Any]) -> None:
    ws, runs = lineage["ws"], lineage["runs"]
    v1, v2, v3 = lineage["versions"]
    view = data_view(ws, recipe="logreg", dataset="d", eval_ref=v3.ref)
    assert view["eval"]["n"] == len(lineage["dev_ids"]) - 40 and view["eval"]["ref"] == v3.ref
    with pytest.raises(dcai.errors.InvalidInputError, match=r"has no dev predictions for 40 of"):
        data_view(ws, recipe="logreg", dataset="d", eval_ref=v2.ref)
    # v1's dev examples include the 40 removed: run 3 never scored them.
    with pytest.raises(dcai.errors.InvalidInputError, match=runs[2][:8]):
        compare_runs(ws, [runs[0], runs[2]], eval_ref=v1.ref)


def test_compare_uses_one_set_of_labels_and_counts_the_differences(
    lineage: dict[str, Any],
) -> None:
    ws, runs = lineage["ws"], lineage["runs"]
    result = compare_runs(ws, [runs[0], runs[1]])
    paired = result["pairs"][0]["paired"]
    dev = lineage["dev_ids"]
    v2_labels = lineage["versions"][1].to_pandas().set_index("example_id")["label"].astype(str)
    labels = v2_labels.reindex(dev).to_numpy()
    a = _dev_predictions(ws, runs[0])["predicted"].astype(str).reindex(dev).to_numpy() == labels
    b = _dev_predictions(ws, runs[1])["predicted"].astype(str).reindex(dev).to_numpy() == labels
    # All shared examples, the relabelled ones included (scored with the newer labels).
    assert paired["n_shared"] == len(dev)
    assert paired["n_labels_differ"] == 7
    assert paired["difference"] == pytest.approx(b.mean() - a.mean())
    low, high = _bootstrap(b.astype(float) - a.astype(float))
    assert (paired["low"], paired["high"]) == (pytest.approx(low), pytest.approx(high))
    assert runs[1][:8] in paired["labels_from"]
    # The view gives the same step for the same two runs on the same examples.
    v3 = lineage["versions"][2].ref
    pinned = compare_runs(ws, [runs[0], runs[1]], eval_ref=v3)["pairs"][0]["paired"]
    view = data_view(ws, recipe="logreg", dataset="d", eval_ref=v3)
    assert view["rows"][1]["change"] == pytest.approx(pinned["difference"])
    assert (view["rows"][1]["low"], view["rows"][1]["high"]) == (
        pytest.approx(pinned["low"]),
        pytest.approx(pinned["high"]),
    )


def test_cli_json_fields(lineage: dict[str, Any]) -> None:
    ws, runs = lineage["ws"], lineage["runs"]
    out = run_dcai(
        "runs", "data-view", "--recipe", "logreg", "--dataset", "d", "--json", workspace=ws.path
    )
    assert out.returncode == 0, out
    view = json.loads(out.stdout)
    row = view["rows"][1]
    assert {"metric", "own_metric", "change", "low", "high", "real", "dev_change", "n_eval"} <= set(
        row
    )
    assert row["dev_change"]["relabelled"] == 7
    assert view["eval"]["ref"] is None and "present in all 3 versions" in view["eval"]["examples"]
    out = run_dcai(
        "runs",
        "compare",
        runs[0],
        runs[2],
        "--eval",
        lineage["versions"][2].ref,
        "--json",
        workspace=ws.path,
    )
    assert out.returncode == 0, out
    pair = json.loads(out.stdout)["pairs"][0]
    assert pair["paired"]["n_shared"] == len(lineage["dev_ids"]) - 40
    assert pair["paired"]["n_labels_differ"] == 7
    text = run_dcai("runs", "data-view", "--recipe", "logreg", workspace=ws.path)
    assert text.returncode == 0 and "7 relabelled in dev" in text.stdout, text
    bad = run_dcai(
        "runs", "compare", runs[0], runs[2], "--eval", lineage["versions"][0].ref, workspace=ws.path
    )
    assert bad.returncode == 2 and "has no dev predictions for 40 of" in bad.stderr, bad


def test_two_scripts_outside_git_are_not_the_same_code(tmp_path: Path) -> None:
    a = {"kind": "script", "commit": None, "diff_sha256": None, "script_sha256": "1" * 64}
    b = {**a, "script_sha256": "2" * 64}
    code = _code_pair(a, b)
    assert code["same_commit"] is None and code["same_code"] is False
    assert _code_pair(a, dict(a))["same_code"] is True
    # End to end: two different scripts, run outside any git work tree.
    ws_path = tmp_path / "ws"
    dcai.Workspace(ws_path).close()
    ids = []
    for i in range(2):
        script = tmp_path / f"train{i}.py"
        script.write_text(
            "import sys, dcai\n"
            f"ws = dcai.Workspace({str(ws_path)!r})\n"
            "with ws.start_run(experiment='x', params={'C': 1}) as run:\n"
            f"    run.log_metric('accuracy', 0.{i + 5})\n"
            "print(run.id)\n"
            f"# script {i}\n"
        )
        import subprocess

        done = subprocess.run(
            [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, check=True
        )
        ids.append(done.stdout.strip().splitlines()[-1])
    out = run_dcai("runs", "compare", *ids, "--json", workspace=ws_path, cwd=tmp_path)
    assert out.returncode == 0, out
    code = json.loads(out.stdout)["pairs"][0]["code"]
    assert code["a"]["kind"] == "script", code
    assert code["same_commit"] is not True and code["same_code"] is False
