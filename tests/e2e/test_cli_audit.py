"""Audit and review through the real CLI: JSON contracts, bulk decisions, apply, diff, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from tests.conftest import run_dcai


def _write_blobs(path: Path, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    n = 300
    centers = np.array([[0, 0, 0], [5, 5, 0], [0, 5, 5]], dtype=float)
    y = rng.integers(0, 3, n)
    X = centers[y] + rng.normal(scale=0.6, size=(n, 3))
    names = np.array(["ant", "bee", "cow"])
    labels = names[y].copy()
    flips = rng.choice(n, 15, replace=False)
    labels[flips] = names[(y[flips] + 1) % 3]
    frame = pd.DataFrame(X.round(3), columns=["x", "y", "z"])
    frame["id"] = [f"e{i:03d}" for i in range(n)]
    frame["animal"] = labels
    frame.to_csv(path, index=False)
    return [f"e{i:03d}" for i in flips]


def test_audit_review_apply_diff(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    data = tmp_path / "animals.csv"
    planted = set(_write_blobs(data))
    assert run_dcai("init", workspace=ws).returncode == 0
    added = run_dcai(
        "data", "add", "animals", str(data), "--label", "animal", "--id", "id", workspace=ws
    )
    assert added.returncode == 0, added

    audit = run_dcai("audit", "animals", "--cv", "3", "--json", workspace=ws)
    assert audit.returncode == 0, audit
    report = json.loads(audit.stdout)
    assert {"audit", "ref", "summary", "issues"} <= set(report)
    for issue in report["issues"]:
        assert {"example_id", "type", "score", "suggested_label", "given_label"} <= set(issue)
        assert 0.0 <= issue["score"] <= 1.0
    label_issues = [i for i in report["issues"] if i["type"] == "label"]
    found = {i["example_id"] for i in label_issues} & planted
    assert len(found) >= 12
    assert all(i["suggested_label"] != i["given_label"] for i in label_issues)

    human = run_dcai("audit", "animals", "--cv", "3", workspace=ws)
    assert human.returncode == 0 and "Issues by type and class" in human.stdout
    assert "already audited" in human.stdout

    listed = json.loads(run_dcai("audits", "--json", workspace=ws).stdout)
    assert [a["audit"] for a in listed] == [report["audit"]]

    queue = json.loads(
        run_dcai(
            "review", "list", report["audit"], "--type", "label", "--json", workspace=ws
        ).stdout
    )
    assert len(queue["issues"]) == len(label_issues)

    bulk = run_dcai(
        "review",
        "decide",
        "animals",
        "--accept-suggested",
        "--min-score",
        "0.5",
        "--json",
        workspace=ws,
    )
    assert bulk.returncode == 0, bulk
    recorded = json.loads(bulk.stdout)["recorded"]
    assert recorded > 0
    keep = run_dcai(
        "review", "decide", report["audit"], "e000", "--keep", "--note", "fine", workspace=ws
    )
    assert keep.returncode == 0, keep

    applied = run_dcai("review", "apply", report["audit"], "-m", "clean", "--json", workspace=ws)
    assert applied.returncode == 0, applied
    child = json.loads(applied.stdout)
    assert child["new"] is True and child["parent"] == report["ref"]

    diff = json.loads(
        run_dcai("data", "diff", report["ref"], child["ref"], "--json", workspace=ws).stdout
    )
    assert diff["counts"]["relabeled"] == recorded

    log = json.loads(run_dcai("data", "log", "animals", "--json", workspace=ws).stdout)
    assert log[0]["operation"] == "review"
    assert log[0]["params"]["audit"] == report["audit"]
    assert len(log[0]["params"]["decisions"]) == recorded + 1

    # The audit is stale now: a new decision is refused, naming what to do.
    stale = run_dcai("review", "decide", report["audit"], "e001", "--keep", workspace=ws)
    assert (
        stale.returncode == 2 and "stale" in stale.stderr and "dcai audit animals" in stale.stderr
    )


def test_review_bad_input(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    data = tmp_path / "animals.csv"
    _write_blobs(data, seed=1)
    run_dcai("init", workspace=ws)
    run_dcai("data", "add", "animals", str(data), "--label", "animal", "--id", "id", workspace=ws)

    never = run_dcai("review", "list", "animals", workspace=ws)
    assert never.returncode == 2 and "has not been audited" in never.stderr

    report = json.loads(run_dcai("audit", "animals", "--cv", "3", "--json", workspace=ws).stdout)
    audit_id = report["audit"]
    unknown = run_dcai("review", "decide", audit_id, "nope", "--keep", workspace=ws)
    assert unknown.returncode == 2 and "'nope'" in unknown.stderr
    typo = run_dcai("review", "decide", audit_id, "e001", "--relabel", "dgo", workspace=ws)
    assert typo.returncode == 2 and "--new-class" in typo.stderr
    two = run_dcai("review", "decide", audit_id, "e001", "--keep", "--remove", workspace=ws)
    assert two.returncode == 2 and "exactly one" in two.stderr
    nothing = run_dcai("review", "decide", audit_id, "--keep", workspace=ws)
    assert nothing.returncode == 2 and "--all" in nothing.stderr
    empty = run_dcai("review", "apply", audit_id, workspace=ws)
    assert empty.returncode == 2 and "no decisions" in empty.stderr
    missing = run_dcai("audit", "nosuch", workspace=ws)
    assert missing.returncode == 2 and "no dataset named" in missing.stderr
