"""ws.rules.analyze and the rules-file loader, on a real workspace (and `dcai rules analyze`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dcai
from dcai.errors import InvalidInputError, SchemaError
from dcai.rules._loader import load_rules
from tests.conftest import run_dcai
from tests.e2e.test_cli_bad_input import assert_rejected, ok

RULES = """
from dcai.rules import keywords, rule

offers = keywords("text", ["free", "prize", "win"], label="spam")

@rule(label="ham")
def question(row):
    return row.text.endswith("?")

@rule
def shouting(row):
    return "spam" if row.text.isupper() else None
"""


def _messages(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    spam = ["WIN A FREE PRIZE", "free entry, win now", "claim your prize", "txt to win"]
    ham = ["lunch at noon?", "see you soon", "are you coming?", "thanks, got it"]
    label = rng.choice(["spam", "ham"], size=n, p=[0.3, 0.7])
    text = [f"{i}: {rng.choice(spam if y == 'spam' else ham)}" for i, y in enumerate(label)]
    return pd.DataFrame({"msg_id": [f"m{i}" for i in range(n)], "text": text, "label": label})


@pytest.fixture()
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    with dcai.Workspace(path) as ws:
        ws.data.add("sms", _messages(), label="label", id="msg_id", text=["text"])
        ws.data.split("sms", dev=0.2, test=0.2, seed=0)
    return path


def _rules_file(tmp_path: Path, text: str = RULES, name: str = "sms_rules.py") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_loader_reads_rules_in_order_and_refuses_bad_files(tmp_path: Path) -> None:
    names = [r.name for r in load_rules(_rules_file(tmp_path))]
    assert names == ["keywords_text_free_prize_win", "question", "shouting"]
    with pytest.raises(InvalidInputError, match="Python file"):
        load_rules(tmp_path / "rules.txt")
    with pytest.raises(InvalidInputError, match="no such file"):
        load_rules(tmp_path / "missing.py")
    with pytest.raises(InvalidInputError, match="line 2: "):
        load_rules(_rules_file(tmp_path, "x = 1\ndef broken(:\n", "syntax.py"))
    with pytest.raises(InvalidInputError, match=r"line 2: ZeroDivisionError while loading"):
        load_rules(_rules_file(tmp_path, "x = 1\ny = 1 / 0\n", "raises.py"))
    with pytest.raises(InvalidInputError, match="defines no rules"):
        load_rules(_rules_file(tmp_path, "def plain(row):\n    return None\n", "none.py"))


def test_analyze_measures_rules_against_the_version_labels(workspace: Path, tmp_path: Path) -> None:
    with dcai.Workspace(workspace) as ws:
        report = ws.rules.analyze("sms", _rules_file(tmp_path))
        frame = ws.data.version("sms").to_pandas()
    table = report.table.set_index("rule")
    assert report.classes == ["ham", "spam"] and report.rows == 400
    assert report.evaluated_on == "test split"
    # every keyword vote is right in this data; "question" only fires on ham
    offers = table.loc["keywords_text_free_prize_win"]
    spam = frame["label"] == "spam"
    assert offers["votes"] == int(
        frame["text"].str.contains(r"\b(?:free|prize|win)\b", case=False).sum()
    )
    assert offers["accuracy"] == 1.0 and offers["labeled"] == offers["votes"]
    assert 0.9 < offers["estimated_accuracy"] <= 1.0  # the model's guess, without the labels
    assert table.loc["question", "polarity"] == ["ham"]
    assert 0 < report.coverage <= 1
    assert report.label_model_accuracy is not None and report.majority_accuracy is not None
    assert report.label_model_accuracy >= report.majority_accuracy - 0.02
    assert int(spam.sum()) > 0
    payload = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert payload["rules"][0]["rule"] == "keywords_text_free_prize_win"


def test_rules_never_see_the_label_and_must_vote_its_type(workspace: Path, tmp_path: Path) -> None:
    peek = "from dcai.rules import rule\n@rule\ndef peek(row):\n    return row.label\n"
    with dcai.Workspace(workspace) as ws, pytest.warns(Warning, match="no column 'label'"):
        report = ws.rules.analyze("sms", _rules_file(tmp_path, peek, "peek.py"))
    assert report.table.loc[0, "votes"] == 0
    assert np.isnan(report.table.loc[0, "estimated_accuracy"])  # no votes: no estimate
    assert report.failures["peek"]["rows"] == 400
    wrong = "from dcai.rules import rule\n@rule\ndef typo(row):\n    return 'spma'\n"
    with dcai.Workspace(workspace) as ws, pytest.raises(InvalidInputError, match="'spma'"):
        ws.rules.analyze("sms", _rules_file(tmp_path, wrong, "typo.py"))
    with dcai.Workspace(workspace) as ws, pytest.raises(SchemaError, match="column 'body'"):
        ws.rules.analyze(
            "sms",
            _rules_file(
                tmp_path,
                "from dcai.rules import regex\nr = regex('body', 'x', label='ham')\n",
                "b.py",
            ),
        )


def test_cli_rules_analyze(workspace: Path, tmp_path: Path) -> None:
    rules = _rules_file(tmp_path)
    shown = ok(run_dcai("rules", "analyze", "sms", "--rules", str(rules), workspace=workspace))
    assert "keywords_text_free_prize_win" in shown.stdout and "label model" in shown.stdout
    dev = ok(
        run_dcai(
            "rules",
            "analyze",
            "sms",
            "--rules",
            str(rules),
            "--split",
            "dev",
            "--json",
            workspace=workspace,
        )
    )
    payload = json.loads(dev.stdout)
    assert payload["evaluated_on"] == "dev split" and payload["rows"] == 80
    assert_rejected(
        run_dcai(
            "rules", "analyze", "sms", "--rules", str(tmp_path / "nope.py"), workspace=workspace
        ),
        "nope.py",
        "no such file",
    )
    syntax = _rules_file(tmp_path, "def broken(:\n", "broken.py")
    assert_rejected(
        run_dcai("rules", "analyze", "sms", "--rules", str(syntax), workspace=workspace),
        "broken.py",
        "line 1",
    )
