"""dcai train: recipes, evaluation on dev, baselines, safe model artifacts, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dcai
from dcai.errors import CorruptObjectError, InvalidInputError
from dcai.experiments.model_files import MODEL_ARTIFACT
from dcai.experiments.train import load_model
from tests.conftest import run_dcai


def _frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    return pd.DataFrame(
        {
            "x0": x[:, 0],
            "x1": x[:, 1],
            "x2": x[:, 2],
            "site": rng.choice(["a", "b"], n),
            "label": np.where(x[:, 0] + x[:, 1] > 0, "pos", "neg"),
        }
    )


@pytest.fixture
def split_ws(tmp_workspace: dcai.Workspace) -> dcai.Workspace:
    version = tmp_workspace.add_dataset("toy", _frame(), meta=["site"])
    tmp_workspace.split(version.ref, dev=0.2, test=0.2)
    return tmp_workspace


@pytest.mark.parametrize("recipe", ["logreg", "hgb", "rf", "sklearn.tree:DecisionTreeClassifier"])
def test_recipes_train_evaluate_and_store_a_loadable_model(
    split_ws: dcai.Workspace, recipe: str
) -> None:
    result = split_ws.train("toy", recipe=recipe, test=True, n_boot=50, capture_code=False)
    assert result.metrics["accuracy"] is not None and result.metrics["accuracy"] > 0.8
    assert result.metrics["test.accuracy"] is not None
    assert result.baselines["majority.accuracy"] < result.metrics["accuracy"]
    detail = split_ws.runs.get(result.run)
    assert detail["status"] == "FINISHED" and detail["params"]["recipe"] == recipe
    names = {a["name"] for a in detail["artifacts"]}
    assert {"metrics.json", "predictions.parquet", MODEL_ARTIFACT} <= names
    model = load_model(split_ws, result.run)
    frame = split_ws.data.version("toy").to_pandas()
    dev = frame[frame["split"] == "dev"]
    accuracy = (model.predict(dev[["x0", "x1", "x2"]]) == dev["label"]).mean()
    assert accuracy == pytest.approx(result.metrics["accuracy"])


def test_a_tampered_model_is_refused(split_ws: dcai.Workspace) -> None:
    result = split_ws.train("toy", n_boot=0, capture_code=False)
    path = Path(split_ws.objects._location(result.model_artifact))
    path.chmod(0o644)
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(CorruptObjectError, match="damaged or was replaced"):
        load_model(split_ws, result.run)


def test_bad_input(split_ws: dcai.Workspace, tmp_workspace: dcai.Workspace) -> None:
    with pytest.raises(InvalidInputError, match="unknown recipe 'zzz'"):
        split_ws.train("toy", recipe="zzz", capture_code=False)
    with pytest.raises(InvalidInputError, match=r"does not accept 'nope'.*Valid parameters: .*C"):
        split_ws.train("toy", params={"nope": 1}, capture_code=False)
    with pytest.raises(InvalidInputError, match="cannot load the recipe"):
        split_ws.train("toy", recipe="no_such_module:make", capture_code=False)
    with pytest.raises(InvalidInputError, match="overfit check failed"):
        split_ws.train(
            "toy", recipe="sklearn.dummy:DummyClassifier", overfit_check=True, capture_code=False
        )
    failed = split_ws.runs(where="status = 'FAILED'")
    assert len(failed) == 1
    tmp_workspace.add_dataset("plain", _frame(50))
    with pytest.raises(InvalidInputError, match=r"no train/dev split.*dcai data split plain"):
        tmp_workspace.train("plain", capture_code=False)


def test_train_cli_json(tmp_path: Path) -> None:
    _frame(200).to_csv(tmp_path / "t.csv", index=False)
    ws = tmp_path / "ws"
    assert run_dcai("init", workspace=ws).returncode == 0
    assert run_dcai("data", "add", "t", str(tmp_path / "t.csv"), workspace=ws).returncode == 0
    assert run_dcai("data", "split", "t", workspace=ws).returncode == 0
    out = run_dcai("train", "t", "--recipe", "logreg", "--param", "C=0.5", "--json", workspace=ws)
    assert out.returncode == 0, out
    data = json.loads(out.stdout)
    assert set(data) >= {"run", "metrics", "model_artifact"} and len(data["model_artifact"]) == 64
    shown = json.loads(run_dcai("runs", "show", data["run"], "--json", workspace=ws).stdout)
    assert (
        shown["params"]["C"] == "0.5"
        and shown["metrics"]["accuracy"] == data["metrics"]["accuracy"]
    )
    bad = run_dcai("train", "t", "--param", "nope=1", workspace=ws)
    assert bad.returncode == 2 and "Valid parameters" in bad.stderr
