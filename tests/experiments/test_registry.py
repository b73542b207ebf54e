"""The model registry: versions from runs, aliases with history, refs everywhere, cards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import dcai
from dcai.errors import InvalidInputError, UnknownRefError
from dcai.experiments.registry import parse_model_ref
from tests.conftest import run_dcai


def _frame(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    return pd.DataFrame(
        {
            "x0": x[:, 0],
            "x1": x[:, 1],
            "x2": x[:, 2],
            "label": np.where(x[:, 0] + x[:, 1] > 0, "pos", "neg"),
        }
    )


@pytest.fixture
def trained(tmp_workspace: dcai.Workspace) -> tuple[dcai.Workspace, str, str]:
    version = tmp_workspace.add_dataset("toy", _frame())
    tmp_workspace.split(version.ref, dev=0.25, test=0.0)
    first = tmp_workspace.train("toy", recipe="logreg", n_boot=0, capture_code=False)
    second = tmp_workspace.train("toy", recipe="hgb", n_boot=0, capture_code=False)
    return tmp_workspace, first.run, second.run


def test_versions_aliases_and_history(trained: tuple[dcai.Workspace, str, str]) -> None:
    ws, run1, run2 = trained
    v1 = ws.models.register(run1, name="toy-model", author="ana")
    v2 = ws.models.register(run2, name="toy-model", description="boosted", author="ana")
    assert (v1.ref, v2.ref) == ("toy-model/1", "toy-model/2")
    assert v1.features == ["x0", "x1", "x2"] and v1.classes == ["neg", "pos"]
    assert v1.dataset is not None and v1.dataset.startswith("toy@")
    ws.models.set_alias("toy-model", 1, "production", author="ana", reason="first")
    ws.models.set_alias("toy-model", 2, "production", author="bo", reason="better dev")
    assert ws.models.get("toy-model@production").version == 2
    assert ws.models.get("toy-model").version == 2 and ws.models.get("toy-model/1").version == 1
    from dcai.experiments.registry import alias_history

    moves = [(m.from_version, m.to_version, m.author) for m in alias_history(ws, "toy-model")]
    assert moves == [(None, 1, "ana"), (1, 2, "bo")]
    [summary] = ws.models.registered()
    assert summary.versions == 2 and summary.aliases == {"production": 2}


def test_refs_resolve_where_a_model_is_expected(trained: tuple[dcai.Workspace, str, str]) -> None:
    ws, run1, _ = trained
    ws.models.register(run1, name="toy-model")
    ws.models.set_alias("toy-model", 1, "production")
    frame = ws.data.version("toy").to_pandas()
    by_run = ws.load_model(run1).predict(frame[["x0", "x1", "x2"]])
    for ref in ("toy-model", "toy-model/1", "toy-model@production"):
        assert (ws.load_model(ref).predict(frame[["x0", "x1", "x2"]]) == by_run).all()


def test_production_model_is_a_baseline_of_the_next_run(
    trained: tuple[dcai.Workspace, str, str],
) -> None:
    ws, run1, _ = trained
    ws.models.register(run1, name="toy-model")
    ws.models.set_alias("toy-model", 1, "production")
    first = ws.runs.get(run1)["metrics"]["accuracy"]
    result = ws.train("toy", recipe="rf", n_boot=0, capture_code=False)
    assert result.baselines["production.accuracy"] == pytest.approx(first)
    assert any("production baseline: toy-model/1" in note for note in result.notes)


def test_bad_input(trained: tuple[dcai.Workspace, str, str]) -> None:
    ws, run1, _ = trained
    with pytest.raises(InvalidInputError, match="not allowed"):
        ws.models.register(run1, name="bad/name")
    ws.models.register(run1, name="toy-model")
    with pytest.raises(UnknownRefError, match="no version 7"):
        ws.models.set_alias("toy-model", 7, "production")
    with pytest.raises(UnknownRefError, match="no alias 'staging'"):
        ws.models.get("toy-model@staging")
    with pytest.raises(UnknownRefError, match="no model 'nope'"):
        ws.models.get("nope/1")
    with pytest.raises(InvalidInputError, match="cannot read the model reference"):
        parse_model_ref("toy-model/0")
    with ws.start_run(experiment="empty", capture_code=False) as run:
        pass
    with pytest.raises(InvalidInputError, match="stored no model"):
        ws.models.register(run.id, name="toy-model")


def test_models_cli(trained: tuple[dcai.Workspace, str, str], tmp_path: Path) -> None:
    ws, run1, run2 = trained
    path = ws.path
    ws.close()

    def call(*args: str) -> dict[str, object]:
        result = run_dcai(*args, "--json", workspace=path)
        assert result.returncode == 0, result
        payload: dict[str, object] = json.loads(result.stdout)
        return payload

    registered = call("models", "register", run1, "--name", "toy-model")
    assert {k: registered[k] for k in ("name", "version", "run")} == {
        "name": "toy-model",
        "version": 1,
        "run": run1,
    }
    assert str(registered["dataset"]).startswith("toy@")
    call("models", "register", run2, "--name", "toy-model")
    assert call("models", "alias", "toy-model", "2", "production")["version"] == 2
    listing: Any = call("models", "list")
    [model] = listing["models"]
    assert (model["name"], model["versions"], model["aliases"]) == (
        "toy-model",
        2,
        {"production": 2},
    )
    shown: Any = call("models", "show", "toy-model")
    assert [v["version"] for v in shown["versions"]] == [1, 2]
    assert call("models", "show", "toy-model@production")["version"] == 2
    missing = run_dcai("models", "alias", "toy-model", "9", "production", workspace=path)
    assert missing.returncode == 2 and "no version 9" in missing.stderr
    assert "Traceback" not in missing.stderr
    card = run_dcai("models", "card", "toy-model@production", workspace=path)
    assert card.returncode == 0, card
    assert "toy-model/2" in card.stdout and "## " in card.stdout
    html = tmp_path / "card.html"
    written = run_dcai(
        "models", "card", "toy-model/1", "--format", "html", "--out", str(html), workspace=path
    )
    assert written.returncode == 0, written
    assert html.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
