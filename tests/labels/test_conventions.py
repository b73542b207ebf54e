"""Label conventions: grouping, named conventions, proposed rules, idempotent application."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dcai.errors import InvalidInputError
from dcai.labels._conventions import (
    CONVENTIONS,
    ConventionRules,
    apply_conventions,
    find_label_conventions,
    load_transcripts,
)

SEED = ["Um, today's weather", "Um... today's weather", "Today's weather"]


def _group_of(report, text: str) -> int:
    rows = report.assignments[report.assignments["text"] == text]
    return int(rows["group"].iloc[0])


def test_seed_example_is_one_group_naming_fillers_and_ellipsis() -> None:
    report = find_label_conventions(SEED, annotators=["ana", "ben", "chen"])
    assert len(report.groups) == 1
    assert report.assignments["group"].tolist() == [0, 0, 0]
    named = report.groups.loc[0, "conventions"]
    assert "filler_words" in named and "ellipsis" in named
    assert named == ("ellipsis", "filler_words")
    assert report.rules.filler_words is True
    assert set(apply_conventions(SEED, report.rules)) == {"Today's weather"}
    assert report.groups.loc[0, "canonical"] == "Today's weather"


def test_case_variants_group_and_take_the_majority_form() -> None:
    texts = ["Cat", "cat", "cat", "Dog", "Dog", "dog"]
    report = find_label_conventions(texts)
    assert report.groups["conventions"].tolist() == [("case",), ("case",)]
    assert report.rules.case == "majority"
    assert apply_conventions(texts, report.rules) == ["cat", "cat", "cat", "Dog", "Dog", "Dog"]
    assert apply_conventions(texts, ConventionRules(case="lower")) == [t.lower() for t in texts]


@pytest.mark.parametrize(
    ("texts", "convention"),
    [
        (["cat ", "cat", " cat", "cat  food", "cat food"], "whitespace"),
        (["café", unicodedata.normalize("NFD", "café")], "unicode_form"),
        (["cat", "ｃａｔ"], "unicode_form"),
        (["today's", "today’s"], "quotes"),
        (["wait... what", "wait… what"], "ellipsis"),
        (["The end.", "The end"], "trailing_punctuation"),
        (["um hello", "hello"], "filler_words"),
        (["cats", "cat", "cat"], "spelling"),
    ],
)
def test_each_convention_is_detected_and_named(texts: list[str], convention: str) -> None:
    report = find_label_conventions(texts)
    assert report.assignments["group"].nunique() <= 2
    group = _group_of(report, texts[0])
    assert convention in report.groups.loc[group, "conventions"]
    row = report.conventions.set_index("convention").loc[convention]
    assert row["n_groups"] >= 1 and row["n_texts"] >= 2 and row["examples"]
    applied = apply_conventions(texts, report.rules)
    members = [a for a, g in zip(applied, report.assignments["group"], strict=True) if g == group]
    assert len(set(members)) == 1, members


def test_usage_says_which_annotator_writes_which_variant() -> None:
    texts = ["wait... what", "so... yes", "wait… what", "so… yes", "wait what", "so yes"]
    report = find_label_conventions(texts, annotators=["ana", "ana", "ben", "ben", "chen", "chen"])
    table = report.by_annotator("ellipsis")
    assert (
        table.loc["ana", "..."] == 2
        and table.loc["ben", "…"] == 2
        and table.loc["chen", "none"] == 2
    )
    assert table.loc["ana", "…"] == 0
    assert report.conventions.set_index("convention").loc["ellipsis", "variants"] == {
        "...": 2,
        "…": 2,
        "none": 2,
    }
    with pytest.raises(InvalidInputError, match="unknown convention"):
        report.by_annotator("typos")


def test_report_frames_have_fixed_columns() -> None:
    report = find_label_conventions(SEED, example_ids=[1, 2, 3])
    assert list(report.groups.columns) == [
        "group",
        "canonical",
        "key",
        "n_texts",
        "n_variants",
        "conventions",
    ]
    assert list(report.variants.columns) == ["group", "text", "count", "annotators"]
    assert report.conventions["convention"].tolist() == list(CONVENTIONS)
    assert list(report.usage.columns) == ["convention", "annotator", "variant", "count"]
    assert report.assignments["example_id"].tolist() == [1, 2, 3]
    assert report.usage["annotator"].isna().all()


def test_fillers_are_overridable_and_you_know_needs_punctuation() -> None:
    assert apply_conventions(
        ["Do you know him", "Well, you know, it rained"],
        ConventionRules(filler_words=True, whitespace=True),
    ) == ["Do you know him", "Well it rained"]
    rules = ConventionRules(filler_words=True, fillers=("like",))
    assert apply_conventions(["it was, like, huge", "um, it was huge"], rules) == [
        "it was huge",
        "um, it was huge",
    ]
    report = find_label_conventions(["so like huge", "so huge"], fillers=("like",))
    assert len(report.groups) == 1


def test_filler_removal_keeps_sentence_case_and_punctuation() -> None:
    rules = ConventionRules(filler_words=True)
    assert apply_conventions(
        ["Um... today's weather", "It's, um, cold", "That's all, uh.", "Uh, um, yes"], rules
    ) == ["Today's weather", "It's cold", "That's all.", "Yes"]


def test_spelling_merges_rare_variants_of_short_labels_only() -> None:
    report = find_label_conventions(["kitten"] * 4 + ["kiten", "cat", "car", "mild", "wild"])
    assert report.rules.spelling == {"kiten": "kitten"}
    assert _group_of(report, "cat") != _group_of(report, "car")  # too short to be a typo
    assert _group_of(report, "mild") != _group_of(report, "wild")  # equally common: two classes
    long = ["the cats sat on the mat today", "the cat sat on the mat today"]
    assert len(find_label_conventions(long * 2, max_label_words=3).groups) == 2
    assert find_label_conventions(["cat", "cats", "bats"]).rules.spelling == {"cats": "cat"}


def test_rules_round_trip_through_json_and_validate() -> None:
    rules = ConventionRules(
        unicode_form=True,
        quotes="curly",
        ellipsis="...",
        filler_words=True,
        spelling={"Cats": "cat"},
        trailing_punctuation="period",
        case="majority",
    )
    assert rules.spelling == {"cats": "cat"}
    assert ConventionRules.from_json(rules.to_json()) == rules
    assert ConventionRules.from_dict(rules.to_dict()) == rules
    assert hash(ConventionRules.from_json(rules.to_json())) == hash(rules)
    assert ConventionRules.from_dict({}) == ConventionRules()
    with pytest.raises(InvalidInputError, match=r"'ellipsis'.*Use one of"):
        ConventionRules.from_dict({"ellipsis": "dots"})
    with pytest.raises(InvalidInputError, match="unknown convention rule"):
        ConventionRules.from_dict({"elipsis": "…"})
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        ConventionRules.from_json("{")
    with pytest.raises(InvalidInputError, match="themselves mapped"):
        ConventionRules(spelling={"cats": "cat", "cat": "kitten"})
    with pytest.raises(InvalidInputError, match="true or false"):
        ConventionRules.from_dict({"whitespace": "yes"})


def test_bad_inputs_are_refused_naming_the_rows() -> None:
    with pytest.raises(InvalidInputError, match=r"not text.*rows 2, 3"):
        find_label_conventions(["a", None, 3])
    with pytest.raises(InvalidInputError, match="empty"):
        find_label_conventions([])
    with pytest.raises(InvalidInputError, match="annotators has 1 values for 2 texts"):
        find_label_conventions(["a", "b"], annotators=["x"])
    with pytest.raises(InvalidInputError, match="one string"):
        find_label_conventions("cat")
    with pytest.raises(InvalidInputError, match="not ConventionRules"):
        apply_conventions(["a"], {"case": "lower"})  # type: ignore[arg-type]


def test_bundled_transcripts_show_each_annotators_habit() -> None:
    frame = load_transcripts()
    assert list(frame.columns) == ["example_id", "annotator", "label"]
    assert len(frame) == 90 and frame.groupby("example_id").size().eq(3).all()
    report = find_label_conventions(frame["label"], annotators=frame["annotator"])
    ellipsis = report.by_annotator("ellipsis")
    assert ellipsis.loc["ana", "..."] > 0 and ellipsis.loc["ana", "…"] == 0
    assert ellipsis.loc["ben", "…"] > 0 and ellipsis.loc["ben", "..."] == 0
    fillers = report.by_annotator("filler_words")
    assert fillers.loc["chen", "fillers"] == 0 and fillers.loc["ana", "fillers"] > 0
    assert report.rules.filler_words and report.rules.ellipsis == "…"
    # real disagreements about words stay apart: 30 utterances, 3 with a differing word
    assert len(report.groups) == 33
    once = apply_conventions(frame["label"], report.rules)
    assert apply_conventions(once, report.rules) == once


# --------------------------------------------------------------------------- properties
PIECES = [
    "cat",
    "Cat",
    "CAT",
    "ｃａｔ",
    "café",
    unicodedata.normalize("NFD", "café"),
    "it's",
    "it’s",
    "um",
    "Uh",
    "you know",
    "do",
    "the",
    ",",
    ".",
    "...",
    "…",
    "?",
    "!",
    ";",
    "'",
    '"',
    "“",
    "”",
    " ",
    "  ",
    "\t",
    "\u00a0",
    "-",
    "(",
    ")",
    "cats",
    "dog",
]


@st.composite
def _rules(draw: st.DrawFn) -> ConventionRules:
    return ConventionRules(
        unicode_form=draw(st.booleans()),
        whitespace=draw(st.booleans()),
        quotes=draw(st.sampled_from(["straight", "curly", None])),
        ellipsis=draw(st.sampled_from(["…", "...", "remove", None])),
        filler_words=draw(st.booleans()),
        spelling=draw(st.sampled_from([{}, {"cats": "cat"}, {"dog": "it's"}])),
        trailing_punctuation=draw(st.sampled_from(["remove", "period", None])),
        case=draw(st.sampled_from(["majority", "lower", None])),
    )


_texts = st.lists(
    st.lists(st.sampled_from(PIECES), min_size=0, max_size=8).map(
        lambda p: " ".join(p) if p else ""
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=_texts, rules=_rules())
def test_applying_rules_twice_changes_nothing(texts: list[str], rules: ConventionRules) -> None:
    once = apply_conventions(texts, rules)
    assert apply_conventions(once, rules) == once


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=_texts)
def test_proposed_rules_are_idempotent(texts: list[str]) -> None:
    rules = find_label_conventions(texts).rules
    once = apply_conventions(texts, rules)
    assert apply_conventions(once, rules) == once


WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "it's", "don't"]


@st.composite
def _utterance(draw: st.DrawFn) -> tuple[tuple[str, ...], str]:
    words = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=6))
    out = []
    for word in words:
        if draw(st.booleans()):
            out.append(draw(st.sampled_from(["um", "Uh,", "hmm...", ", you know,"])))
        style = draw(st.sampled_from([str, str.capitalize, str.upper]))
        word = style(word)
        if draw(st.booleans()):
            word = word.replace("'", "’")
        out.append(word + draw(st.sampled_from(["", ",", "...", "…", " "])))
    text = (
        draw(st.sampled_from(["", " ", "\t"]))
        + " ".join(out)
        + draw(st.sampled_from(["", ".", "?", " "]))
    )
    if draw(st.booleans()):
        text = unicodedata.normalize("NFD", text)
    return tuple(w.replace("’", "'") for w in words), text


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_utterance(), min_size=2, max_size=10))
def test_normalisation_never_merges_texts_that_differ_in_real_words(
    utterances: list[tuple[tuple[str, ...], str]],
) -> None:
    words = [w for w, _ in utterances]
    texts = [t for _, t in utterances]
    report = find_label_conventions(texts)
    groups = report.assignments["group"].tolist()
    applied = apply_conventions(texts, report.rules)
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            assert (groups[i] == groups[j]) == (words[i] == words[j]), (texts[i], texts[j])
            if words[i] != words[j]:
                assert applied[i] != applied[j]
