"""Review decisions on unchanged examples carry over to audits of later versions; content beside
an issue; a ``--min-score`` suggestion that accepts something."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dcai
from dcai.quality.audit import carried_from, content_text, suggest_min_score

NAMES = np.array(["ant", "bee", "cow"])


def _blobs(n: int = 240, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Three separated classes in 4-D with 12 planted label flips (given = true + 1)."""
    rng = np.random.default_rng(seed)
    centers = np.array([[0, 0, 0, 0], [6, 6, 0, 0], [0, 6, 6, 6]], dtype=float)
    y = rng.integers(0, 3, n)
    X = centers[y] + rng.normal(scale=0.7, size=(n, 4))
    labels = NAMES[y].copy()
    flips = rng.choice(n, 12, replace=False)
    labels[flips] = NAMES[(y[flips] + 1) % 3]
    frame = pd.DataFrame(X.round(3), columns=["a", "b", "c", "d"])
    frame["animal"] = labels
    frame["row"] = [f"r{i:03d}" for i in range(n)]
    return frame, y


def _label_issue_ids(audit: dcai.quality.audit.Audit) -> list[str]:
    issues = audit.issues
    return [str(i) for i in issues.loc[issues["type"] == "label", "example_id"]]


def test_keeps_survive_a_tag_and_not_a_change(tmp_workspace: dcai.Workspace) -> None:
    ws = tmp_workspace
    frame, truth = _blobs()
    ws.add_dataset("animals", frame, label="animal", id="row")
    first = ws.audit("animals", cv=3)
    kept = _label_issue_ids(first)[:3]
    assert len(kept) == 3
    ws.review(first.id).keep(kept, reviewer="ana", note="checked")

    # A tag makes a new version: the first audit goes stale, the new one carries the keeps.
    ws.data.tag("animals", "seen", example_ids=kept)
    second = ws.audit("animals", cv=3)
    assert second.created and second.summary["carried_decisions"] == 3
    review = ws.review(second.id)
    assert set(kept) <= set(_label_issue_ids(second))  # flagged again ...
    assert not set(kept) & set(review.queue(status="open")["example_id"])  # ... but not pending
    decisions = review.decisions().set_index("example_id")
    assert sorted(decisions.index) == sorted(kept)
    assert set(decisions["action"]) == {"keep"} and set(decisions["reviewer"]) == {"ana"}
    assert set(decisions["carried_from"]) == {first.short_id}
    assert all(note.endswith("checked") for note in decisions["note"])
    status = review.status()
    assert status.carried == {first.short_id: 3} and status.to_dict()["carried"] == 3
    assert status.decided["keep"] == 3

    # Change one of them (a new label, in a new version): it is pending again.
    changed = kept[0]
    row = int(changed[1:])
    wrong = str(NAMES[(truth[row] + 2) % 3])  # still not its true class
    review.relabel(changed, wrong, reviewer="bo")
    third_version = review.apply(message="relabel one")
    assert third_version.created
    third = ws.audit("animals", cv=3)
    assert changed in _label_issue_ids(third)
    later = ws.review(third.id)
    pending = set(later.queue(status="open")["example_id"])
    assert changed in pending
    carried = later.decisions().set_index("example_id")
    assert changed not in carried.index
    # The two unchanged keeps still carry, naming the audit the decision was taken on.
    assert sorted(carried.index) == sorted(kept[1:])
    assert set(carried["carried_from"]) == {first.short_id}


def test_pending_relabels_carry_but_removed_examples_do_not(
    tmp_workspace: dcai.Workspace,
) -> None:
    ws = tmp_workspace
    frame, _ = _blobs(seed=1)
    ws.add_dataset("animals", frame, label="animal", id="row")
    first = ws.audit("animals", cv=3)
    review = ws.review(first.id)
    other = "cow" if frame.loc[10, "animal"] != "cow" else "ant"
    review.relabel("r010", other)
    review.relabel("r013", frame.loc[13, "animal"])  # its own label: nothing to carry
    review.remove(["r011"])
    ws.data.tag("animals", "late", example_ids=["r012"])
    second = ws.audit("animals", cv=3)
    decisions = ws.review(second.id).decisions().set_index("example_id")
    assert decisions.loc["r010", "action"] == "relabel" and decisions.loc["r010", "label"] == other
    assert decisions.loc["r011", "action"] == "remove"
    assert "r013" not in decisions.index
    # Applying the new review applies them; the next audit has nothing left to carry.
    applied = ws.review(second.id).apply()
    assert "r011" not in set(applied.to_pandas()["example_id"])
    third = ws.audit("animals", cv=3)
    assert ws.review(third.id).decisions().empty
    assert third.summary["carried_decisions"] == 0


def test_content_beside_table_issues(tmp_workspace: dcai.Workspace) -> None:
    frame, _ = _blobs(seed=2)
    frame.loc[5, ["a", "b", "c", "d"]] = [40.0, -35.0, 0.0, 0.0]  # a far outlier on a and b
    tmp_workspace.add_dataset("animals", frame, label="animal", id="row")
    audit = tmp_workspace.audit("animals", cv=3)
    shown = audit.issue_content()
    assert len(shown) == len(audit.issues)
    for content in shown["content"]:
        assert isinstance(content, dict) and 1 <= len(content) <= 3
        assert set(content) <= {"a", "b", "c", "d"}
    outlier = shown[(shown["type"] == "outlier") & (shown["example_id"] == "r005")]
    assert len(outlier) == 1
    assert list(outlier["content"].iloc[0])[:2] in (["a", "b"], ["b", "a"])
    assert outlier["content"].iloc[0]["a"] == 40.0
    queue = tmp_workspace.review(audit.id).queue(content=True, limit=5)
    assert "content" in queue.columns and len(queue) == 5


def test_content_text() -> None:
    assert content_text({"x": 0.123456, "s": "a\nb", "m": None}) == "x=0.1235, s=a b, m=∅"
    assert content_text("  a  long\ttext ") == "a long text"
    assert content_text(None) == ""


@pytest.mark.parametrize(
    ("scores", "k", "expected"),
    [
        ([0.874, 0.8, 0.2], 1, 0.85),
        ([0.874, 0.8, 0.2], 2, 0.8),
        ([0.874, 0.8, 0.2], 10, 0.2),
        ([0.03], 10, 0.03),
        ([0.004], 10, 0.0),
    ],
)
def test_suggested_min_score_accepts_something(
    scores: list[float], k: int, expected: float
) -> None:
    issues = pd.DataFrame(
        {"type": "label", "score": scores, "suggested_label": ["x"] * len(scores)}
    )
    value = suggest_min_score(issues, k=k)
    assert value == pytest.approx(expected)
    assert value is not None and value <= max(scores)
    assert (issues["score"] >= value).sum() >= min(k, len(scores))


def test_no_suggestion_without_label_issues() -> None:
    issues = pd.DataFrame({"type": ["outlier"], "score": [0.9], "suggested_label": [None]})
    assert suggest_min_score(issues) is None


def test_carried_from_note() -> None:
    assert carried_from("[carried from audit abc1234 of ds@0011223]") == "abc1234"
    assert carried_from("") is None and carried_from(None) is None
