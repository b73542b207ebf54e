"""dcai.rules: rules, the label matrix, rule analysis and the label model (seeded)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from dcai.errors import DcaiWarning, InvalidInputError, SchemaError
from dcai.rules import (
    LabelMatrix,
    LabelModel,
    Row,
    analyze,
    apply,
    keywords,
    majority_vote,
    model_confident,
    query,
    regex,
    rule,
    threshold,
    vote_counts,
)

TEXTS = pd.DataFrame(
    {
        "text": [
            "WIN a free prize now",
            "are we still on for lunch?",
            "txt FREE to 8007",
            "ok see you",
            "Freedom of speech?",
            None,
        ],
        "length": [20, 26, 16, 10, 18, 0],
    },
    index=[f"m{i}" for i in range(6)],
)


@rule
def spammy(row: Row) -> str | None:
    return "spam" if row.text and "prize" in row.text.lower() else None


@rule(name="question", label="ham")
def ends_with_question(row: Row) -> bool:
    return bool(row.text) and row.text.endswith("?")


def _generated(
    seed: int, n: int, accuracies: np.ndarray, coverage: np.ndarray, k: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    L = np.full((n, accuracies.size), -1, np.int32)
    for j, (a, c) in enumerate(zip(accuracies, coverage, strict=True)):
        votes = rng.random(n) < c
        wrong = (y + rng.integers(1, k, n)) % k
        L[votes, j] = np.where(rng.random(n) < a, y, wrong)[votes]
    return L, y


def _accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    voted = pred >= 0
    return float((pred[voted] == y[voted]).mean())


def _covered_accuracy(scores: np.ndarray, L: np.ndarray, y: np.ndarray) -> float:
    """Accuracy over rows with a vote, a tie counted as a fair draw (as the benchmark does)."""
    covered = (L >= 0).any(axis=1)
    s, t = scores[covered], y[covered]
    top = np.isclose(s, s.max(axis=1, keepdims=True))
    return float(np.mean(top[np.arange(t.size), t] / top.sum(axis=1)))


# ------------------------------------------------------------------------------- rules
def test_rule_decorator_bare_and_with_arguments() -> None:
    assert spammy.name == "spammy" and spammy.label is None
    assert ends_with_question.name == "question" and ends_with_question.label == "ham"
    assert ends_with_question(Row(text="lunch?")) == "ham"
    assert ends_with_question(Row(text="lunch.")) is None
    with pytest.raises(AttributeError, match="no column 'body'"):
        _ = Row(text="x").body


def test_declared_label_is_enforced() -> None:
    @rule(label="ham")
    def wrong(row: Row) -> str:
        return "spam"

    with pytest.raises(InvalidInputError, match="returned 'spam' but declares label 'ham'"):
        apply([wrong], TEXTS)


def test_apply_builds_the_matrix_with_row_and_column_rules() -> None:
    L = apply([spammy, ends_with_question, keywords("text", ["free", "txt"], label="spam")], TEXTS)
    assert L.classes == ("ham", "spam")
    assert L.rules == ("spammy", "question", "keywords_text_free_txt")
    assert list(L.index) == list(TEXTS.index)
    # whole words, case-insensitive: "Freedom" is not "free"; the missing text abstains
    assert L.codes.tolist() == [
        [1, -1, 1],
        [-1, 0, -1],
        [-1, -1, 1],
        [-1, -1, -1],
        [-1, 0, -1],
        [-1, -1, -1],
    ]
    frame = L.to_frame()
    assert frame.loc["m0", "spammy"] == "spam" and pd.isna(frame.loc["m3", "spammy"])


def test_helpers_regex_query_threshold_and_model() -> None:
    rules = [
        regex("text", r"\d{4}", label="spam", name="number"),
        query("length > 19", label="ham", name="long"),
        threshold("length", "<=", 10, label="ham", name="short"),
    ]
    L = apply(rules, TEXTS)
    assert L.codes[:, 0].tolist() == [-1, -1, 1, -1, -1, -1]
    assert L.codes[:, 1].tolist() == [0, 0, -1, -1, -1, -1]
    assert L.codes[:, 2].tolist() == [-1, -1, -1, 0, -1, 0]

    def proba(frame: pd.DataFrame) -> np.ndarray:
        p = np.clip(frame["length"].to_numpy() / 30, 0, 1)
        return np.column_stack([p, 1 - p])

    confident = model_confident(proba, ["ham", "spam"], min_confidence=0.8, columns=["length"])
    votes = apply([confident], TEXTS, classes=["ham", "spam"]).codes[:, 0].tolist()
    assert votes == [-1, 0, -1, -1, -1, 1]  # 26/30 >= 0.8 ham; 0/30 -> spam with 1.0


def test_query_text_is_parsed_not_run() -> None:
    with pytest.raises(InvalidInputError, match="unsupported"):
        query("length.__class__", label="ham")


def test_a_rule_that_raises_abstains_there_and_is_named() -> None:
    @rule
    def fragile(row: Row) -> str | None:
        return "spam" if row.text.lower().startswith("win") else None  # None text raises

    with pytest.warns(
        DcaiWarning, match=r"rule 'fragile' raised on 1 of 6 rows, first at row 'm5'"
    ):
        L = apply([fragile, spammy], TEXTS, classes=["ham", "spam"])
    assert L.codes[:, 0].tolist() == [1, -1, -1, -1, -1, -1]
    assert L.failures["fragile"].rows == 1 and "AttributeError" in L.failures["fragile"].error
    assert "spammy" not in L.failures


def test_labels_outside_the_set_are_refused_with_rule_and_row() -> None:
    @rule
    def typo(row: Row) -> str | None:
        return "spma" if row.length == 16 else None

    with pytest.raises(InvalidInputError, match=r"rule 'typo' voted 'spma' at row 'm2'"):
        apply([typo, spammy], TEXTS, classes=["ham", "spam"])

    @rule
    def number(row: Row) -> int | None:
        return 1 if row.length > 19 else None

    with pytest.raises(InvalidInputError, match="several types"):
        apply([number, spammy], TEXTS)


def test_bad_rule_sets_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="no rules"):
        apply([], TEXTS)
    with pytest.raises(InvalidInputError, match="unique; repeated: 'spammy'"):
        apply([spammy, spammy], TEXTS)
    with pytest.raises(SchemaError, match="reads column 'body'"):
        apply([keywords("body", ["x"], label="spam")], TEXTS)
    with pytest.raises(InvalidInputError, match="unknown comparison"):
        threshold("length", "=>", 3, label="ham")


# ------------------------------------------------------------------------------ analyze
def test_analyze_counts_coverage_overlap_conflict_and_accuracy() -> None:
    L = np.array([[0, 0, -1], [0, 1, 1], [-1, 1, -1], [1, -1, 1], [-1, -1, -1]])
    y = [0, 1, 1, None, 0]
    table = analyze(L, y).set_index("rule")
    assert table["coverage"].tolist() == [0.6, 0.6, 0.4]
    assert table["overlap"].tolist() == [0.6, 0.4, 0.4]
    # rule_0 conflicts on row 1 (1 and 1 against its 0); rule_2 on row 3? no other vote there
    assert table["conflict"].tolist() == [0.2, 0.2, 0.2]
    assert table["labeled"].tolist() == [2, 3, 1]
    assert table["correct"].tolist() == [1, 3, 1]
    row = table.loc["rule_1"]
    assert row["accuracy"] == 1.0 and 0.4 < row["accuracy_low"] < 1.0 == row["accuracy_high"]
    assert np.isnan(table.loc["rule_0", "accuracy"]) is np.False_


def test_analyze_takes_labels_through_the_label_set() -> None:
    L = apply([spammy, ends_with_question], TEXTS)
    table = analyze(L, ["spam", "ham", None, None, "spam", None]).set_index("rule")
    assert table.loc["spammy", "accuracy"] == 1.0
    assert table.loc["question", "correct"] == 1 and table.loc["question", "labeled"] == 2
    with pytest.raises(InvalidInputError, match="not one of the labels"):
        analyze(L, ["spam", "maybe", None, None, None, None])


# --------------------------------------------------------------------------- label model
def test_majority_vote_and_ties() -> None:
    L = np.array([[0, 0, 1], [0, 1, -1], [-1, -1, -1], [2, 2, 1]])
    assert majority_vote(L).tolist() == [0, -1, -1, 2]
    assert majority_vote(L, tie_break="random", seed=1)[1] in (0, 1)
    assert vote_counts(L).tolist() == [[2, 1, 0], [1, 1, 0], [0, 0, 0], [0, 1, 2]]


def test_label_model_learns_accurate_rules_beat_a_weak_majority() -> None:
    # three rules at 0.6 outvote two at 0.95 under majority vote; the model learns whom to trust
    accuracies = np.array([0.95, 0.95, 0.6, 0.6, 0.6])
    L, y = _generated(0, 20_000, accuracies, np.full(5, 0.7))
    model = LabelModel().fit(L)
    assert model.accuracies_ is not None
    assert np.allclose(model.accuracies_, accuracies, atol=0.03)
    assert (
        _covered_accuracy(model.predict_proba(L), L, y)
        > _covered_accuracy(vote_counts(L), L, y) + 0.03
    )
    proba = model.predict_proba(L)
    assert proba.shape == (20_000, 2) and np.allclose(proba.sum(axis=1), 1)


def test_label_model_uses_silence_of_one_sided_rules() -> None:
    rng = np.random.default_rng(3)
    n = 30_000
    y = (rng.random(n) < 0.2).astype(int)
    L = np.full((n, 6), -1, np.int32)
    for j in range(6):
        own = j % 2
        L[(y == own) & (rng.random(n) < 0.5), j] = own
        L[(y != own) & (rng.random(n) < 0.05), j] = own
    model = LabelModel().fit(L)
    assert model.class_balance_ is not None and abs(model.class_balance_[1] - 0.2) < 0.02
    mine = _covered_accuracy(model.predict_proba(L), L, y)
    assert mine >= _covered_accuracy(vote_counts(L), L, y) + 0.01


@settings(max_examples=25, deadline=None)
@given(
    seed=hs.integers(0, 2**16),
    m=hs.integers(3, 8),
    k=hs.integers(2, 4),
)
def test_label_model_is_no_worse_than_majority_on_independent_rules(
    seed: int, m: int, k: int
) -> None:
    rng = np.random.default_rng(seed)
    accuracies = rng.uniform(1.0 / k + 0.15, 0.95, m)
    L, y = _generated(seed, 5_000, accuracies, rng.uniform(0.3, 0.8, m), k)
    model = LabelModel(n_classes=k).fit(L)
    mine = _covered_accuracy(model.predict_proba(L), L, y)
    assert mine >= _covered_accuracy(vote_counts(L, k), L, y) - 0.005


def test_near_duplicate_rules_count_once() -> None:
    # four near-copies of a weak rule outvote three good ones under majority vote
    L, y = _generated(9, 20_000, np.array([0.62, 0.8, 0.8, 0.8]), np.array([0.5, 0.4, 0.4, 0.4]))
    rng = np.random.default_rng(9)
    copies = np.repeat(L[:, [0]], 4, axis=1)
    keep = rng.random(copies.shape) < 0.95
    own = np.full(copies.shape, -1, np.int32)
    L = np.hstack([L, np.where(keep, copies, own)])
    model = LabelModel().fit(L)
    assert model.duplicate_groups_ == [[0, 4, 5, 6, 7]]
    assert model.evidence_weights_ is not None and model.evidence_weights_[0] == 0.2
    mine = _covered_accuracy(model.predict_proba(L), L, y)
    assert mine > _covered_accuracy(vote_counts(L), L, y) + 0.05
    plain = LabelModel(merge_duplicates=False).fit(L)
    assert plain.duplicate_groups_ == [] and _covered_accuracy(plain.predict_proba(L), L, y) < mine
    # rules that vote one class always agree where they meet: never taken for copies
    one_sided = np.where(L[:, :4] == 1, 1, -1)
    assert LabelModel().fit(one_sided).duplicate_groups_ == []


def test_dev_labels_are_used_and_can_select_majority_vote() -> None:
    L, y = _generated(5, 5_000, np.array([0.9, 0.85, 0.6, 0.6, 0.6]), np.full(5, 0.6))
    dev = np.where(np.arange(5_000) < 300, y, -1)
    model = LabelModel().fit(L, y=[int(v) if v >= 0 else None for v in dev])
    assert model.selection_["labelled"] == 300
    assert model.method_ in ("em", "majority")
    if model.selection_["majority"] > model.selection_["em"]:
        assert model.method_ == "majority"
    # held-out rows keep their accuracy
    rest = slice(300, None)
    mine = _covered_accuracy(model.predict_proba(L)[rest], L[rest], y[rest])
    assert mine >= _covered_accuracy(vote_counts(L)[rest], L[rest], y[rest])


def test_label_model_on_a_label_matrix_and_bad_input() -> None:
    L = apply([spammy, ends_with_question, keywords("text", ["free"], label="spam")], TEXTS)
    model = LabelModel().fit(L)
    pred = model.predict(L)
    assert pred[3] == -1 and pred[5] == -1  # no vote
    assert isinstance(L, LabelMatrix) and pred[0] == L.classes.index("spam")
    with pytest.raises(InvalidInputError, match="not fitted"):
        LabelModel().predict(L)
    with pytest.raises(InvalidInputError, match="fitted on 3"):
        model.predict(np.zeros((2, 2), dtype=int))
    with pytest.raises(InvalidInputError, match="integers"):
        LabelModel().fit(np.array([[0.5, 1.0]]))
    with pytest.raises(InvalidInputError, match="class_balance"):
        LabelModel(class_balance=[0.5, 0.6]).fit(np.array([[0, 1], [1, 1]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LabelModel().fit(np.array([[0, -1], [-1, -1]]))  # nearly empty: no warning, no crash
