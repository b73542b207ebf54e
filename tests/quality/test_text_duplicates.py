"""Near-duplicates of text are confirmed on the text itself; duplicate groups across splits leak."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dcai.data._content import row_hashes
from dcai.errors import InvalidInputError
from dcai.quality._duplicates import find_duplicates, split_leakage, text_similarity
from dcai.quality._features import feature_matrix
from tests.data.test_role_inference import comment_frame

LONG = (
    "I have been listening to this band since the first album and this song is still "
    "the best thing they ever recorded, the guitar solo at the end gives me chills"
)
FILLER = [
    f"comment number {i} about topic {i % 7} with words {i * 3} and {i * 5}" for i in range(60)
]


def _tfidf(texts: list[str]) -> np.ndarray:
    return feature_matrix(pd.DataFrame({"t": texts}), text=("t",))


def _group_of(result: pd.DataFrame, rows: list[int]) -> list[int]:
    return result.loc[rows, "duplicate_group"].tolist()


def test_emoji_only_texts_pair_only_with_identical_ones() -> None:
    texts = [*FILLER, ":)", ":3", "❤️", "❤️", "😂", "<3"]
    X = _tfidf(texts)
    assert not X[60:].any()  # what a word vectoriser sees of them: nothing
    result = find_duplicates(X, texts=texts)
    groups = _group_of(result, [60, 61, 62, 63, 64, 65])
    assert groups[2] == groups[3] >= 0
    assert groups[0] == groups[1] == groups[4] == groups[5] == -1
    assert result.loc[63, "duplicate_score"] == 0.0 and result.loc[63, "is_duplicate_issue"]
    # As the audit calls it today (hashes of the inputs, no texts): no all-zero group either.
    hashes = row_hashes(pd.DataFrame({"t": texts}))
    by_hash = find_duplicates(X, row_hashes=hashes)
    groups = _group_of(by_hash, [60, 61, 62, 63, 64, 65])
    assert groups[2] == groups[3] >= 0 and groups.count(-1) == 4


def test_case_whitespace_and_punctuation_variants_are_duplicates() -> None:
    texts = [*FILLER, "Check out my new channel please", "check out  my new channel, PLEASE!!!"]
    texts += ["lol", "LOL", "lol!", "wow"]
    result = find_duplicates(_tfidf(texts), texts=texts)
    assert result.loc[60, "duplicate_group"] == result.loc[61, "duplicate_group"] >= 0
    assert result.loc[61, "duplicate_score"] == pytest.approx(0.01)  # issue score 0.99, not 1
    assert result.loc[62, "duplicate_group"] == result.loc[63, "duplicate_group"] >= 0
    assert result.loc[63, "duplicate_score"] == 0.0  # short, identical once case-folded
    assert result.loc[[64, 65], "duplicate_group"].eq(-1).all()  # short and not identical


def test_one_word_changed_in_a_long_text_is_a_near_duplicate_below_one() -> None:
    changed = LONG.replace("chills", "goosebumps")
    shuffled = " ".join(reversed(LONG.split()))  # same words, so the same TF-IDF vector
    texts = [*FILLER, LONG, changed, shuffled]
    result = find_duplicates(_tfidf(texts), texts=texts)
    assert result.loc[60, "duplicate_group"] == result.loc[61, "duplicate_group"] >= 0
    assert 0.01 < result.loc[61, "duplicate_score"] < 0.2
    assert result.loc[62, "duplicate_group"] == -1
    assert not result.loc[62, "is_exact_duplicate"]
    assert 0.8 <= text_similarity(LONG, changed) < 0.99


def test_all_zero_vectors_never_pair() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5))
    X[[3, 8, 20]] = 0.0
    result = find_duplicates(X)
    assert result["duplicate_group"].eq(-1).all()
    assert not result["is_exact_duplicate"].any()


def test_text_threshold_and_bad_texts_are_checked() -> None:
    X = np.eye(3)
    with pytest.raises(InvalidInputError, match="texts has 2 values"):
        find_duplicates(X, texts=["a", "b"])
    with pytest.raises(InvalidInputError, match="text_threshold"):
        find_duplicates(X, texts=["a", "b", "c"], text_threshold=1.5)


def test_comment_like_data_flags_only_text_confirmed_copies() -> None:
    frame = comment_frame(600)
    texts = frame["CONTENT"]
    X = _tfidf(texts.tolist())
    hashes = row_hashes(frame[["CONTENT"]])
    result = find_duplicates(X, labels=frame["CLASS"], row_hashes=hashes, texts=texts)
    flagged = np.flatnonzero(result["is_duplicate_issue"])
    assert flagged.size > 0
    kept = result["duplicate_group"].map(
        result.reset_index().groupby("duplicate_group")["index"].min()
    )
    sure = flagged[(1 - result["duplicate_score"].to_numpy()[flagged]) >= 0.999]
    # At --min-score 0.999 every dropped copy has the kept copy's text (up to case/spacing).
    for row in sure:
        assert text_similarity(texts[row], texts[int(kept[row])]) == 1.0
    short = texts.isin([":)", ":3", "❤️", "<3", "!!!", "😂😂", "lol", "wow"])
    for _, members in texts[short & (result["duplicate_group"] >= 0)].groupby(
        result["duplicate_group"]
    ):
        assert members.nunique() == 1


def test_split_leakage_counts_groups_spanning_splits() -> None:
    groups = pd.DataFrame({"duplicate_group": [0, 0, 1, 1, 1, 2, 2, -1, -1]})
    split = ["train", "test", "train", "dev", "test", "train", "train", "dev", "test"]
    leaks = split_leakage(groups, split)
    assert leaks["duplicate_group"].tolist() == [0, 1]
    assert leaks["examples"].tolist() == [2, 3]
    assert leaks["splits"].tolist() == ["test+train", "dev+test+train"]
    assert len(split_leakage([0, 0, -1], ["train", "train", "test"])) == 0
