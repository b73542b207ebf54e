"""Every named recipe trains through the real CLI on a data set that suits it, whatever dtype
pandas gives its text columns (object in pandas 2, ``str`` in pandas 3, ``string``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dcai.experiments.recipes import build_recipe
from tests.conftest import run_dcai

SPAM = ["win", "free", "money", "click", "subscribe", "prize", "cheap", "offer", "link", "now"]
HAM = ["great", "song", "love", "this", "video", "thanks", "memories", "voice", "beautiful", "so"]
FILLER = ["the", "a", "and", "my", "you", "it", "is", "to", "for", "of"]


def comments(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Short user comments labelled spam (1) / ham (0), with an id, an author and a date."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = int(rng.integers(0, 2))
        words = list(rng.choice(SPAM if label else HAM, size=4)) + list(rng.choice(FILLER, size=4))
        rng.shuffle(words)
        rows.append(
            {
                "comment_id": f"z{i:05d}abcdefghijklmnopqrstuvwxyz0123456789",
                "author": f"user {i % 37}",
                "date": f"2015-0{1 + i % 9}-1{i % 10}T10:00:00",
                "content": " ".join(words),
                "label": label,
            }
        )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("dtype", ["object", "str", "string"])
def test_tfidf_recipe_finds_text_whatever_its_dtype(dtype: str) -> None:
    frame = comments(60)
    X = frame[["content"]].astype(dtype)
    model = build_recipe("tfidf-logreg", X).fit(X, frame["label"])
    assert model.score(X, frame["label"]) > 0.9
    # Declared roles win over dtypes: a text column given by role is used even when numeric
    # columns are present.
    X2 = frame[["content"]].astype(dtype).assign(n=np.arange(len(frame)))
    model = build_recipe("tfidf-logreg", X2, text_columns=["content"]).fit(X2, frame["label"])
    assert model.score(X2, frame["label"]) > 0.9


def _train(ws: Path, ref: str, recipe: str) -> dict[str, object]:
    result = run_dcai(
        "train", ref, "--recipe", recipe, "--n-boot", "50", "--json", workspace=ws, timeout=300
    )
    assert result.returncode == 0, result
    assert "Traceback" not in result.stderr
    payload: dict[str, object] = json.loads(result.stdout)
    return payload


def test_every_named_recipe_trains_through_the_cli(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert run_dcai("init", workspace=ws).returncode == 0
    text_csv = tmp_path / "comments.csv"
    comments().to_csv(text_csv, index=False)
    added = run_dcai(
        "data",
        "add",
        "comments",
        str(text_csv),
        "--id",
        "comment_id",
        "--text",
        "content",
        "--meta",
        "author",
        "--meta",
        "date",
        workspace=ws,
    )
    assert added.returncode == 0, added
    assert run_dcai("data", "split", "comments", workspace=ws).returncode == 0

    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 3))
    table = pd.DataFrame(
        {
            "x0": x[:, 0],
            "x1": x[:, 1],
            "x2": x[:, 2],
            "site": rng.choice(["a", "b", "c"], 400),
            "label": np.where(x[:, 0] + x[:, 1] > 0, "pos", "neg"),
        }
    )
    table_csv = tmp_path / "table.csv"
    table.to_csv(table_csv, index=False)
    assert run_dcai("data", "add", "table", str(table_csv), workspace=ws).returncode == 0
    assert run_dcai("data", "split", "table", workspace=ws).returncode == 0

    for ref, recipe in [
        ("comments", "tfidf-logreg"),
        ("comments", "logreg"),
        ("table", "logreg"),
        ("table", "hgb"),
        ("table", "rf"),
    ]:
        payload = _train(ws, ref, recipe)
        metrics = payload["metrics"]
        assert isinstance(metrics, dict)
        assert metrics["accuracy"] > 0.8, (ref, recipe, metrics)
