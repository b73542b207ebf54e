"""End to end: what a first user sees on real data.

The content beside each issue (text, or the features that drive the flag), a ``next:`` hint
whose ``--min-score`` accepts something, and keep decisions that survive a new version.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from tests.conftest import run_dcai
from tests.e2e.test_cli_bad_input import base_frame, ok, ok_json

TOPICS = {
    "sport": "match goal team score league coach player season striker referee",
    "food": "recipe oven flour sugar butter bake dinner spice garlic sauce",
    "tech": "laptop software update battery screen chip cloud server code keyboard",
}


def _texts(path: Path, n: int = 120, seed: int = 0) -> pd.DataFrame:
    """Short posts about three topics, 8 labels flipped, one very long post."""
    rng = np.random.default_rng(seed)
    names = list(TOPICS)
    topic = rng.integers(0, 3, n)
    posts = [
        " ".join(rng.choice(TOPICS[names[t]].split(), size=8)) + f" post {i}"
        for i, t in enumerate(topic)
    ]
    posts[0] = posts[0] + " and then" + " again" * 80 + " the end"
    labels = [names[t] for t in topic]
    for i in rng.choice(np.arange(1, n), 8, replace=False):
        labels[i] = names[(topic[i] + 1) % 3]
    frame = pd.DataFrame({"pid": [f"p{i:03d}" for i in range(n)], "post": posts, "topic": labels})
    frame.to_csv(path, index=False)
    return frame


def _add_and_audit(ws: Path, name: str, csv: Path, *args: str) -> dict[str, object]:
    ok(run_dcai("init", workspace=ws))
    ok(run_dcai("data", "add", name, str(csv), *args, workspace=ws))
    report: dict[str, object] = ok_json(
        run_dcai("audit", name, "--cv", "3", "--json", workspace=ws)
    )
    return report


def test_text_issues_show_their_text(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    frame = _texts(tmp_path / "posts.csv")
    text_by_id = dict(zip(frame["pid"], frame["post"], strict=True))
    report = _add_and_audit(
        ws, "posts", tmp_path / "posts.csv", "--id", "pid", "--label", "topic", "--text", "post"
    )
    listed = ok_json(run_dcai("review", "list", str(report["audit"]), "--json", workspace=ws))
    assert listed["issues"]
    for issue in listed["issues"]:
        assert issue["content"] == text_by_id[issue["example_id"]]  # the full text
    # The table shows the text beside the id, cut to the terminal with an ellipsis.
    table = ok(run_dcai("review", "list", str(report["audit"]), "--limit", "0", workspace=ws))
    first = next(i for i in listed["issues"] if i["example_id"] != "p000")
    assert text_by_id[first["example_id"]][:20] in table.stdout
    if any(i["example_id"] == "p000" for i in listed["issues"]):
        line = next(x for x in table.stdout.splitlines() if "p000" in x)
        assert "…" in line and "the end" not in line
    assert all(len(x) <= 200 for x in table.stdout.splitlines())
    human = ok(run_dcai("audit", "posts", "--cv", "3", workspace=ws))
    top = next(i for i in listed["issues"] if i["type"] == "label")
    assert "content" in human.stdout
    assert text_by_id[top["example_id"]][:20] in human.stdout


def test_table_issues_show_driving_features(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    base_frame().to_csv(tmp_path / "base.csv", index=False)
    report = _add_and_audit(ws, "ds", tmp_path / "base.csv", "--id", "uid")
    listed = ok_json(
        run_dcai("review", "list", str(report["audit"]), "--limit", "0", "--json", workspace=ws)
    )
    assert listed["issues"]
    features = {"x1", "x2", "colour", "grp"}
    for issue in listed["issues"]:
        content = issue["content"]
        assert isinstance(content, dict) and content and set(content) <= features
    table = ok(run_dcai("review", "list", str(report["audit"]), workspace=ws))
    assert re.search(r"(x1|x2|colour|grp)=", table.stdout)


def _overlapping(path: Path) -> None:
    """Two heavily overlapping classes: label issues, but the detector is never very sure."""
    rng = np.random.default_rng(0)
    n = 80
    y = rng.integers(0, 2, n)
    X = np.c_[y * 1.5, np.zeros(n)] + rng.normal(size=(n, 2))
    frame = pd.DataFrame(X.round(3), columns=["x", "y"])
    frame["label"] = np.array(["a", "b"])[y]
    frame["uid"] = [f"u{i:02d}" for i in range(n)]
    frame.to_csv(path, index=False)


def test_next_hint_min_score_accepts_something(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    _overlapping(tmp_path / "blur.csv")
    report = _add_and_audit(ws, "blur", tmp_path / "blur.csv", "--id", "uid", "--label", "label")
    issues = [i for i in report["issues"] if i["type"] == "label"]  # type: ignore[attr-defined]
    assert issues and max(i["score"] for i in issues) < 0.9  # a fixed 0.9 would accept nothing
    human = ok(run_dcai("audit", "blur", "--cv", "3", workspace=ws))
    hint = " ".join(human.stdout.split())
    match = re.search(r"--accept-suggested --min-score ([0-9.]+)", hint)
    assert match, hint
    min_score = float(match.group(1))
    assert min_score <= max(i["score"] for i in issues)
    decided = ok_json(
        run_dcai(
            "review",
            "decide",
            str(report["audit"]),
            "--accept-suggested",
            "--min-score",
            match.group(1),
            "--json",
            workspace=ws,
        )
    )
    assert decided["recorded"] >= 1


def test_keeps_carry_to_the_next_audit(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    _texts(tmp_path / "posts.csv", seed=1)
    report = _add_and_audit(
        ws, "posts", tmp_path / "posts.csv", "--id", "pid", "--label", "topic", "--text", "post"
    )
    labelled = [i["example_id"] for i in report["issues"] if i["type"] == "label"]  # type: ignore[attr-defined]
    kept = labelled[:3]
    assert len(kept) == 3
    ok(run_dcai("review", "decide", str(report["audit"]), *kept, "--keep", workspace=ws))
    ok(run_dcai("data", "tag", "posts", "seen", "--ids", ",".join(kept), workspace=ws))
    second = ok_json(run_dcai("audit", "posts", "--cv", "3", "--json", workspace=ws))
    assert second["summary"]["carried_decisions"] == 3
    pending = ok_json(
        run_dcai("review", "list", second["audit"], "--limit", "0", "--json", workspace=ws)
    )
    assert not {i["example_id"] for i in pending["issues"]} & set(kept)
    assert pending["carried"] == 3
    decided = ok_json(
        run_dcai("review", "list", second["audit"], "--status", "decided", "--json", workspace=ws)
    )
    assert {i["example_id"] for i in decided["issues"]} == set(kept)
    assert {i["carried_from"] for i in decided["issues"]} == {report["audit"]}
    status = ok(run_dcai("review", "status", second["audit"], workspace=ws))
    assert f"carried 3 decision(s) on unchanged examples from audit {report['audit']}" in " ".join(
        status.stdout.split()
    )
    state = ok_json(run_dcai("review", "status", second["audit"], "--json", workspace=ws))
    assert state["carried"] == 3 and state["open_examples"] == state["examples_with_issues"] - 3
    table = ok(run_dcai("review", "list", second["audit"], "--status", "decided", workspace=ws))
    assert f"(carried from {report['audit']})" in table.stdout
    assert json.dumps(decided)  # strict JSON
