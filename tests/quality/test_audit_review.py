"""Audit a version, review its issues, commit the clean child: the workflow through the Python API."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dcai
from dcai.errors import InvalidInputError, UnknownRefError
from dcai.quality.audit import ISSUE_COLUMNS


def _blobs_frame(n: int = 240, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Three well-separated classes in 4-D, 12 planted label flips, 2 exact copies of a row."""
    rng = np.random.default_rng(seed)
    centers = np.array([[0, 0, 0, 0], [6, 6, 0, 0], [0, 6, 6, 6]], dtype=float)
    y = rng.integers(0, 3, n)
    X = centers[y] + rng.normal(scale=0.7, size=(n, 4))
    names = np.array(["ant", "bee", "cow"])
    labels = names[y].copy()
    flips = rng.choice(n, 12, replace=False)
    labels[flips] = names[(y[flips] + 1) % 3]
    frame = pd.DataFrame(X.round(3), columns=["a", "b", "c", "d"])
    frame["animal"] = labels
    frame["row"] = [f"r{i:03d}" for i in range(n)]
    return frame, flips


@pytest.fixture
def audited(tmp_workspace: dcai.Workspace) -> tuple[dcai.Workspace, object, np.ndarray]:
    frame, flips = _blobs_frame()
    tmp_workspace.add_dataset("animals", frame, label="animal", id="row")
    audit = tmp_workspace.audit("animals", cv=3)
    return tmp_workspace, audit, flips


def test_audit_is_stored_with_its_version(audited: tuple) -> None:
    ws, audit, flips = audited
    assert audit.created
    assert audit.version_ref == ws.data.version("animals").ref
    scores = audit.scores
    assert len(scores) == 240 and scores["example_id"].is_unique
    assert {"label_quality", "is_label_issue", "outlier_score", "duplicate_group"} <= set(scores)
    issues = audit.issues
    assert tuple(issues.columns) == ISSUE_COLUMNS
    assert issues["score"].between(0, 1).all()
    label_issues = set(issues.loc[issues.type == "label", "example_id"])
    planted = {f"r{i:03d}" for i in flips}
    assert len(label_issues & planted) >= 10
    assert len(label_issues - planted) <= 5
    probs = audit.pred_probs
    assert list(probs.columns) == ["example_id", "ant", "bee", "cow"]
    summary = audit.summary
    assert summary["issues_by_type"]["label"] == len(label_issues)
    assert 6 <= summary["label_noise"]["n_issues"] <= 20
    # Same data and parameters: the same audit, stored once.
    again = ws.audit("animals", cv=3)
    assert again.id == audit.id and not again.created
    assert [a.id for a in ws.quality.audits("animals")] == [audit.id]


def test_review_accept_suggestions_commits_a_clean_child(audited: tuple) -> None:
    ws, audit, _flips = audited
    review = ws.review("animals")
    assert review.audit.id == audit.id
    accepted = review.accept_suggested(min_score=0.5, reviewer="ana")
    assert accepted > 0
    review.keep(["r000"], reviewer="bo", note="checked by hand")
    child = review.apply(message="fix animals")
    assert child.created and child.operation == "review"
    assert child.parent_ids == (audit.version_id,)
    params = child.params
    assert params["audit"] == audit.short_id and params["reviewers"] == ["ana", "bo"]
    assert params["counts"] == {"relabel": accepted, "keep": 1, "remove": 0}
    assert len(params["decisions"]) == accepted + 1
    diff = ws.data.diff(audit.version_ref, child.ref)
    assert diff.counts["relabeled"] == accepted
    assert diff.counts["removed"] == 0 and diff.counts["added"] == 0
    # The audit is now stale: no more decisions on it.
    with pytest.raises(InvalidInputError, match="stale"):
        review.keep(["r001"])
    assert review.status().stale


def test_remove_and_relabel_by_hand(audited: tuple) -> None:
    ws, audit, _ = audited
    review = ws.review(audit.short_id)
    review.relabel("r005", "cow")
    review.remove(["r006", "r007"])
    child = review.apply()
    frame = child.to_pandas().set_index("example_id")
    assert frame.loc["r005", "animal"] == "cow"
    assert "r006" not in frame.index and child.rows == 238
    diff = ws.data.diff(audit.version_ref, child.ref)
    assert diff.counts["removed"] == 2


def test_bad_decisions_are_refused(audited: tuple) -> None:
    ws, audit, _ = audited
    review = ws.review(audit.id)
    with pytest.raises(InvalidInputError, match="not in animals@"):
        review.keep(["nope", "r001"])
    assert review.decisions().empty  # nothing half-recorded
    with pytest.raises(InvalidInputError, match="not one of the data set's classes"):
        review.relabel("r001", "dgo")
    with pytest.raises(InvalidInputError, match="no decisions"):
        review.apply()
    with pytest.raises(InvalidInputError, match="unknown issue type"):
        review.queue(type="typo")
    with pytest.raises(UnknownRefError):
        ws.review("ffffffff")
    review.relabel("r001", "newt", allow_new_class=True)
    assert review.decisions().loc[0, "label"] == "newt"


def test_integer_labels_keep_their_type(tmp_workspace: dcai.Workspace) -> None:
    frame, _ = _blobs_frame()
    frame["animal"] = frame["animal"].map({"ant": 0, "bee": 1, "cow": 2})
    tmp_workspace.add_dataset("nums", frame, label="animal", id="row")
    review = tmp_workspace.review(tmp_workspace.audit("nums", cv=3).id)
    review.relabel("r002", "2")
    child = review.apply()
    values = child.to_pandas().set_index("example_id")["animal"]
    assert values.dtype.kind == "i" and values["r002"] == 2


def test_users_own_probabilities(tmp_workspace: dcai.Workspace) -> None:
    frame, _flips = _blobs_frame()
    version = tmp_workspace.add_dataset("animals", frame, label="animal", id="row")
    names = np.array(["ant", "bee", "cow"])
    labels = frame["animal"].to_numpy()
    probs = np.full((len(frame), 3), 0.05)
    probs[np.arange(len(frame)), np.searchsorted(names, labels)] = 0.9
    given = pd.DataFrame(probs, columns=names)
    given.insert(0, "example_id", version.to_pandas()["example_id"])
    audit = tmp_workspace.audit("animals", pred_probs=given.sample(frac=1, random_state=0))
    assert audit.params["probabilities"] == "given"
    with pytest.raises(InvalidInputError, match="no column for class"):
        tmp_workspace.audit("animals", pred_probs=given.drop(columns="cow"))


def test_gc_keeps_what_audits_reference(audited: tuple) -> None:
    ws, audit, _ = audited
    report = ws.gc(grace_seconds=0)
    assert report.removed == 0
    assert len(audit.scores) == 240 and len(audit.pred_probs) == 240


def test_concurrent_identical_audits_store_one(tmp_workspace: dcai.Workspace) -> None:
    import subprocess
    import sys

    frame, _ = _blobs_frame(seed=3)
    tmp_workspace.add_dataset("animals", frame, label="animal", id="row")
    code = (
        "import dcai, sys\n"
        "ws = dcai.Workspace(sys.argv[1], create=False)\n"
        "print(ws.audit('animals', cv=3).id)\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_workspace.path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    ids = {out.strip() for out, _ in outputs}
    assert len(ids) == 1
    assert len(tmp_workspace.quality.audits("animals")) == 1
