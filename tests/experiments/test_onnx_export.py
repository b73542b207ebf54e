"""``dcai models export --format onnx``: converted, verified, written only when it agrees."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dcai
from dcai.errors import InvalidInputError
from tests.conftest import run_dcai

pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")

from dcai.experiments.onnx_export import MISSING_CATEGORY, export_onnx  # noqa: E402

WORDS = ["good", "bad", "film", "movie", "great", "awful", "plot", "actor", "café", "naïve"]


def _frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    colour = rng.choice(["red", "blue", "green"], size=n).astype(object)
    colour[rng.random(n) < 0.1] = None
    x1 = x[:, 1].copy()
    x1[rng.random(n) < 0.1] = np.nan
    score = x[:, 0] + (colour == "red") + 0.5 * np.nan_to_num(x1)
    return pd.DataFrame(
        {
            "x0": x[:, 0],
            "x1": x1,
            "colour": colour,
            "label": np.where(score > 0.3, "pos", "neg"),
        }
    )


def _onnx_predict(path: Path, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Feed the columns as the docs say: floats with NaN, strings with the placeholder."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {}
    for item in session.get_inputs():
        column = X[item.name]
        if item.type == "tensor(float)":
            feeds[item.name] = column.to_numpy(dtype=np.float32, na_value=np.nan).reshape(-1, 1)
        else:
            values = [MISSING_CATEGORY if pd.isna(v) else str(v) for v in column]
            feeds[item.name] = np.array(values, dtype=object).reshape(-1, 1)
    label, probs = session.run(["label", "probabilities"], feeds)
    return np.asarray(label).ravel(), np.asarray(probs)


@pytest.fixture
def table(tmp_workspace: dcai.Workspace) -> dcai.Workspace:
    version = tmp_workspace.add_dataset("toy", _frame(), label="label")
    tmp_workspace.split(version.ref, dev=0.25, test=0.0)
    return tmp_workspace


@pytest.mark.parametrize("recipe", ["logreg", "hgb", "rf"])
def test_tabular_recipes_export_and_agree(
    table: dcai.Workspace, recipe: str, tmp_path: Path
) -> None:
    ws = table
    run = ws.train("toy", recipe=recipe, n_boot=0, capture_code=False).run
    version = ws.models.register(run, name=f"toy-{recipe}")
    out = tmp_path / "m.onnx"
    if recipe == "hgb":
        # ONNX trees compute in float32 while scikit-learn's boosting compares float64
        # thresholds: when a dev row sits near a threshold the check must refuse, unwritten.
        try:
            result = export_onnx(ws, version.ref, out)
        except InvalidInputError as exc:
            assert "disagrees with the model" in str(exc) and not out.exists()
            return
    else:
        result = export_onnx(ws, version.ref, out)
    assert result.path.is_file() and result.labels_agree
    assert result.rows_source == "dev" and result.rows_checked == 100
    assert result.max_probability_difference <= 1e-4
    assert [i["name"] for i in result.inputs] == ["x0", "x1", "colour"]
    assert [i["type"] for i in result.inputs] == ["float", "float", "string"]
    # Held-out rows the export check never saw, with missing values and an unseen category.
    held_out = _frame(n=200, seed=7)[["x0", "x1", "colour"]]
    held_out.loc[held_out.index[:5], "colour"] = "purple"
    model = ws.load_model(version.ref)
    label, probs = _onnx_predict(result.path, held_out)
    assert (label == model.predict(held_out)).all()
    assert np.abs(probs - model.predict_proba(held_out)).max() <= 1e-4


def test_tfidf_text_model_is_refused(tmp_workspace: dcai.Workspace, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 200
    texts = [" ".join(rng.choice(WORDS, size=rng.integers(2, 9))) for _ in range(n)]
    frame = pd.DataFrame(
        {"review": texts, "label": ["pos" if "good" in t else "neg" for t in texts]}
    )
    version = tmp_workspace.add_dataset("reviews", frame, label="label", text=["review"])
    tmp_workspace.split(version.ref, dev=0.25, test=0.0)
    run = tmp_workspace.train("reviews", recipe="tfidf-logreg", n_boot=0, capture_code=False)
    registered = tmp_workspace.models.register(run.run, name="reviews")
    out = tmp_path / "text.onnx"
    with pytest.raises(InvalidInputError, match="TF-IDF") as info:
        export_onnx(tmp_workspace, registered.ref, out)
    assert "\n" not in str(info.value).split(" Hint")[0]
    assert not out.exists()


def test_cli_export_json_force_and_formats(table: dcai.Workspace, tmp_path: Path) -> None:
    ws = table
    run = ws.train("toy", recipe="logreg", n_boot=0, capture_code=False).run
    ws.models.register(run, name="toy")
    ws.models.set_alias("toy", 1, "production")
    out = tmp_path / "toy.onnx"
    args = ("models", "export", "toy@production", "--format", "onnx", "--out", str(out))
    done = run_dcai(*args, "--json", workspace=tmp_path / "ws")
    assert done.returncode == 0, done
    payload = json.loads(done.stdout)
    assert payload["ref"] == "toy/1" and payload["format"] == "onnx"
    assert payload["path"] == str(out.resolve()) and out.is_file()
    assert payload["labels_agree"] is True and payload["rows_checked"] == 100
    assert payload["max_probability_difference"] <= 1e-4
    assert [i["name"] for i in payload["inputs"]] == ["x0", "x1", "colour"]

    again = run_dcai(*args, workspace=tmp_path / "ws")
    assert again.returncode == 2
    assert again.stderr.count("error:") == 1
    forced = run_dcai(*args, "--force", workspace=tmp_path / "ws")
    assert forced.returncode == 0, forced

    pmml = run_dcai(
        "models",
        "export",
        "toy",
        "--format",
        "pmml",
        "--out",
        str(tmp_path / "m.pmml"),
        workspace=tmp_path / "ws",
    )
    assert pmml.returncode == 2
    assert pmml.stderr.count("error:") == 1 and "only onnx" in pmml.stderr
    assert not (tmp_path / "m.pmml").exists()
