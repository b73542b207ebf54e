"""Diffs between canonical frames."""

from __future__ import annotations

import pandas as pd

from dcai.data import ColumnRoles, diff_frames

ROLES = ColumnRoles(label="y", features=("x", "z"))


def _frame(ids: list[str], xs: list[float], zs: list[str], ys: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"example_id": ids, "x": xs, "z": zs, "y": ys})


def test_each_kind_of_change_is_found() -> None:
    a = _frame(
        ["1", "2", "3", "4"],
        [1.0, 2.0, 3.0, float("nan")],
        ["p", "q", "r", "s"],
        ["a", "b", "c", "d"],
    )
    b = _frame(
        ["2", "3", "4", "5"],
        [2.0, 3.5, float("nan"), 5.0],
        ["q", "r", "s", "t"],
        ["b", "x", "d", "e"],
    )
    diff = diff_frames(a, b, ROLES, ROLES)
    assert diff.added["example_id"].tolist() == ["5"]
    assert diff.removed["example_id"].tolist() == ["1"]
    assert diff.relabeled.to_dict("records") == [
        {"example_id": "3", "old_label": "c", "new_label": "x"}
    ]
    # NaN == NaN for diff purposes: example 4 is unchanged.
    assert diff.changed.to_dict("records") == [{"example_id": "3", "columns": ["x"]}]
    assert diff.counts["moved"] == 0


def test_identical_frames_have_an_empty_diff() -> None:
    a = _frame(["1", "2"], [1.0, 2.0], ["p", "q"], ["a", "b"])
    assert diff_frames(a, a.copy(), ROLES, ROLES).is_empty


def test_moves_between_splits_and_new_columns() -> None:
    a = _frame(["1", "2"], [1.0, 2.0], ["p", "q"], ["a", "b"])
    roles_b = ColumnRoles(label="y", features=("x", "z"), split="split")
    b = a.assign(split=["train", "test"])
    diff = diff_frames(a, b, ROLES, roles_b)
    assert diff.columns_added == ["split"]
    c = a.assign(split=["test", "test"])
    moved = diff_frames(b, c, roles_b, roles_b).moved
    assert moved.to_dict("records") == [
        {"example_id": "1", "old_split": "train", "new_split": "test"}
    ]


def test_annotation_changes_are_counted() -> None:
    a = _frame(["1"], [1.0], ["p"], ["a"])
    ann_a = pd.DataFrame({"example_id": ["1", "1"], "annotator": ["u", "v"], "label": ["a", "a"]})
    ann_b = pd.DataFrame({"example_id": ["1", "1"], "annotator": ["u", "w"], "label": ["b", "a"]})
    diff = diff_frames(a, a, ROLES, ROLES, annotations_a=ann_a, annotations_b=ann_b)
    assert (diff.annotations_added, diff.annotations_removed, diff.annotations_changed) == (1, 1, 1)
