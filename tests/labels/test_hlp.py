"""Human-level performance: leave-one-labeler-out agreement with bootstrap intervals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dcai.errors import InvalidInputError
from dcai.labels._hlp import TABLE_COLUMNS, HLPReport, human_level_performance
from tests.labels.test_consensus import simulate_crowd, symmetric

# e1: a=x b=x c=y   e2: a=y b=y c=y   e3: a=x b=y   e4: a=x (single label: skipped)
# Overall counts: x 4, y 6, so a tie among the others goes to y.
TINY = pd.DataFrame(
    {
        "example_id": ["e1", "e1", "e1", "e2", "e2", "e2", "e3", "e3", "e4"],
        "annotator": ["a", "b", "c", "a", "b", "c", "a", "b", "a"],
        "label": ["x", "x", "y", "y", "y", "y", "x", "y", "x"],
    }
)
# Leave one out (labeler: given vs the others' majority):
#   e1  a: x vs {x, y} tie -> y  (miss)   b: x vs {x, y} tie -> y (miss)   c: y vs {x, x} -> x (miss)
#   e2  a, b, c: y vs {y, y} -> y (3 hits)
#   e3  a: x vs {y} -> y (miss)           b: y vs {x} -> x (miss)
# 8 comparisons, 3 hits. Reference/given pairs: (y,x) (y,x) (x,y) (y,y)x3 (y,x) (x,y).
# Class x: TP 0, given 3, reference 2 -> F1 0.  Class y: TP 3, given 5, reference 6 -> F1 6/11.


def test_matches_the_hand_computed_value() -> None:
    report = human_level_performance(TINY, n_boot=200)
    assert isinstance(report, HLPReport)
    assert report.accuracy == pytest.approx(3 / 8)
    assert report.f1 == pytest.approx((0.0 + 6 / 11) / 2)
    assert (report.n_comparisons, report.n_items, report.n_items_skipped) == (8, 3, 1)
    per_class = report.scope("class").set_index("group")
    assert per_class.loc["x", ["accuracy", "f1", "n", "n_items"]].tolist() == [0.0, 0.0, 2, 2]
    assert per_class.loc["y", "accuracy"] == pytest.approx(3 / 6)
    assert per_class.loc["y", "f1"] == pytest.approx(6 / 11)
    assert per_class.loc["y", "n_items"] == 3
    labelers = report.scope("labeler").set_index("group")
    assert labelers["accuracy"].to_dict() == pytest.approx({"a": 1 / 3, "b": 1 / 3, "c": 0.5})
    assert labelers["n"].to_dict() == {"a": 3, "b": 3, "c": 2}


def test_per_metadata_group() -> None:
    metadata = pd.DataFrame(
        {"example_id": ["e1", "e2", "e3", "e4"], "site": ["north", "south", "north", None]}
    )
    report = human_level_performance(TINY, metadata=metadata, by="site", n_boot=100)
    groups = report.scope("metadata").set_index("group")
    assert groups.index.tolist() == ["north", "south"]
    # north: e1 (0 of 3) and e3 (0 of 2); south: e2 (3 of 3)
    assert groups.loc["north", ["accuracy", "n", "n_items"]].tolist() == [0.0, 5, 2]
    assert groups.loc["south", ["accuracy", "n", "n_items"]].tolist() == [1.0, 3, 1]
    assert report.by == "site"


def test_metadata_ids_may_be_integers_when_annotations_hold_strings() -> None:
    ann = TINY.assign(example_id=TINY["example_id"].str[1:])  # "1", "2", ...
    metadata = pd.DataFrame({"example_id": [1, 2, 3, 4], "site": ["n", "s", "n", "s"]})
    report = human_level_performance(ann, metadata=metadata, by="site", n_boot=0)
    assert report.scope("metadata")["n"].tolist() == [5, 3]


def test_intervals_bracket_the_estimate_and_are_reproducible() -> None:
    confusions = np.stack([symmetric(3, acc) for acc in (0.9, 0.8, 0.7, 0.6)])
    ann, _ = simulate_crowd(confusions, 400, per_item=(1, 3), seed=11)
    first = human_level_performance(ann, n_boot=300, random_state=5)
    again = human_level_performance(ann, n_boot=300, random_state=5)
    pd.testing.assert_frame_equal(first.to_frame(), again.to_frame())
    table = first.to_frame()
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert (table["low"] <= table["accuracy"] + 1e-12).all()
    assert (table["accuracy"] <= table["high"] + 1e-12).all()
    assert (table["f1_low"] <= table["f1"] + 1e-12).all()
    low, high = first.interval
    assert 0 < high - low < 0.2
    narrow = human_level_performance(ann, n_boot=300, confidence=0.5, random_state=5)
    assert narrow.interval[1] - narrow.interval[0] < high - low
    none = human_level_performance(ann, n_boot=0)
    assert none.to_frame()[["low", "high", "f1_low", "f1_high"]].isna().all().all()


@pytest.mark.parametrize("consensus", ["majority", "dawid_skene"])
def test_labeler_scores_follow_their_true_skill(consensus: str) -> None:
    accuracies = (0.95, 0.8, 0.65, 0.5)
    confusions = np.stack([symmetric(4, acc) for acc in accuracies])
    ann, _ = simulate_crowd(confusions, 1500, per_item=(2, 4), seed=12)
    report = human_level_performance(ann, consensus=consensus, n_boot=50)  # type: ignore[arg-type]
    labelers = report.scope("labeler").set_index("group")["accuracy"]
    assert labelers.loc[["a0", "a1", "a2", "a3"]].is_monotonic_decreasing
    assert report.consensus == consensus


def test_dawid_skene_reference_beats_majority_with_a_bad_labeler() -> None:
    # The others' Dawid–Skene consensus discounts the adversarial labeler, so good labelers
    # are scored against a better reference than the others' majority.
    k = 3
    bad = np.zeros((k, k))
    bad[np.arange(k), (np.arange(k) + 1) % k] = 0.8
    bad[np.arange(k), np.arange(k)] = 0.2
    confusions = np.stack([symmetric(k, 0.9), symmetric(k, 0.85), bad, bad])
    ann, _ = simulate_crowd(confusions, 800, per_item=(4, 4), seed=13)
    majority = human_level_performance(ann, n_boot=0).scope("labeler").set_index("group")
    ds = human_level_performance(ann, consensus="dawid_skene", n_boot=0)
    ds_labelers = ds.scope("labeler").set_index("group")
    assert ds_labelers.loc["a0", "accuracy"] > majority.loc["a0", "accuracy"] + 0.05


def test_to_dict_is_json_ready() -> None:
    report = human_level_performance(TINY, n_boot=20)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["accuracy"] == pytest.approx(3 / 8)
    assert data["n_items_skipped"] == 1
    assert {row["scope"] for row in data["rows"]} == {"overall", "class", "labeler"}
    assert all(set(row) == set(TABLE_COLUMNS) for row in data["rows"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"consensus": "vote"}, "consensus must be one of"),
        ({"n_boot": -1}, "n_boot must be"),
        ({"confidence": 1.0}, "confidence must be in"),
        ({"by": "site"}, "metadata and by go together"),
        ({"metadata": pd.DataFrame({"example_id": ["e1"]}), "by": "site"}, "no such column"),
        (
            {"metadata": pd.DataFrame({"example_id": ["e1"], "site": ["n"]}), "by": "site"},
            r"no row for 3 annotated example\(s\) \('e2', 'e3', 'e4'\)",
        ),
        (
            {
                "metadata": pd.DataFrame({"example_id": ["e1", "e1"], "site": ["n", "s"]}),
                "by": "site",
            },
            "repeated example ids",
        ),
    ],
)
def test_bad_options_are_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        human_level_performance(TINY, **kwargs)  # type: ignore[arg-type]


def test_needs_an_example_with_two_labels() -> None:
    single = pd.DataFrame({"example_id": [1, 2], "annotator": ["a", "b"], "label": ["x", "y"]})
    with pytest.raises(InvalidInputError, match="no example has two or more labels"):
        human_level_performance(single)


def test_bad_annotations_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="more than once"):
        human_level_performance(pd.concat([TINY, TINY.iloc[:1]]))
