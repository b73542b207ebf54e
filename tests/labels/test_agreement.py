"""Inter-annotator agreement: every statistic against its reference implementation, the report.

References (test-only, see tests/requirements-reference.txt): scikit-learn for Cohen's kappa,
statsmodels for Fleiss' kappa, the ``krippendorff`` package (GPL-3, never imported by src/)
for Krippendorff's alpha; brute-force loops over labeler pairs for the rest.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcai.errors import InvalidInputError, SchemaError
from dcai.labels._agreement import agreement_report
from dcai.labels._agreement_by import agreement_by
from dcai.labels._agreement_kernels import (
    Design,
    Sums,
    add_agreement_blocks,
    add_alpha_blocks,
    add_fleiss_blocks,
    alpha_from,
    fleiss_from,
    item_counts,
    percent_from,
)
from dcai.labels._agreement_stats import (
    cohen_kappa,
    count_labels,
    fleiss_kappa,
    krippendorff_alpha,
    percent_agreement,
    specific_agreement,
)

krippendorff = pytest.importorskip("krippendorff")
inter_rater = pytest.importorskip("statsmodels.stats.inter_rater")
sk_metrics = pytest.importorskip("sklearn.metrics")

TOL = 1e-9
LEVELS = ("nominal", "ordinal", "interval")


def ratings(
    seed: int,
    n_items: int = 60,
    n_raters: int = 5,
    n_classes: int = 4,
    missing: float = 0.3,
    agreement: float = 0.6,
) -> np.ndarray:
    """Items × raters float ratings 0..K-1 around a hidden truth, NaN where missing."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_classes, n_items)
    noise = rng.integers(0, n_classes, (n_items, n_raters))
    data = np.where(rng.random((n_items, n_raters)) < agreement, truth[:, None], noise)
    data = data.astype(np.float64)
    data[rng.random(data.shape) < missing] = np.nan
    return data


def long_form(data: np.ndarray, names: list[str] | None = None) -> pd.DataFrame:
    names = names or [f"ann{j}" for j in range(data.shape[1])]
    rows = [
        (f"ex{i}", names[j], data[i, j])
        for i in range(data.shape[0])
        for j in range(data.shape[1])
        if not np.isnan(data[i, j])
    ]
    return pd.DataFrame(rows, columns=["example_id", "annotator", "label"])


def full_counts(data: np.ndarray, n_classes: int) -> np.ndarray:
    table = np.zeros((data.shape[0], n_classes), dtype=np.int64)
    for i, j in zip(*np.nonzero(~np.isnan(data)), strict=True):
        table[i, int(data[i, j])] += 1
    return table


def brute_pairs(data: np.ndarray) -> tuple[int, int, dict[float, tuple[int, int]]]:
    """Agreeing and all unordered label pairs per item, and per class (2·agree, assignments)."""
    agree = total = 0
    per_class: dict[float, list[int]] = {}
    for row in data:
        labels = row[~np.isnan(row)]
        if len(labels) < 2:
            continue
        for x, y in itertools.combinations(labels, 2):
            total += 1
            agree += int(x == y)
            for c in (x, y):
                per_class.setdefault(c, [0, 0])[1] += 1
            if x == y:
                per_class[x][0] += 2
    return agree, total, {c: (v[0], v[1]) for c, v in per_class.items()}


# --------------------------------------------------------------------------- statistics vs references


@pytest.mark.parametrize("seed", range(5))
def test_cohen_kappa_matches_sklearn_on_common_items(seed: int) -> None:
    data = ratings(seed, n_items=80, n_raters=2)
    a, b = data[:, 0], data[:, 1]
    both = ~np.isnan(a) & ~np.isnan(b)
    expected = sk_metrics.cohen_kappa_score(a[both], b[both])
    assert abs(cohen_kappa(a, b) - expected) < TOL
    text = np.array(["cat", "dog", "owl", "emu"], dtype=object)
    a_text = [None if np.isnan(v) else text[int(v)] for v in a]
    b_text = [None if np.isnan(v) else text[int(v)] for v in b]
    assert abs(cohen_kappa(a_text, b_text) - expected) < TOL


@pytest.mark.parametrize("seed", range(5))
def test_fleiss_kappa_matches_statsmodels(seed: int) -> None:
    data = ratings(seed, n_items=70, n_raters=6, missing=0.0)
    table = full_counts(data, 4)
    expected = inter_rater.fleiss_kappa(table, method="fleiss")
    assert abs(fleiss_kappa(table) - expected) < TOL
    assert abs(fleiss_kappa(pd.DataFrame(table, columns=list("abcd"))) - expected) < TOL


def test_fleiss_kappa_unequal_raters_refused_or_modal_subset() -> None:
    data = ratings(3, n_items=90, n_raters=5, missing=0.15)
    table = full_counts(data, 4)
    per_item = table.sum(axis=1)
    with pytest.raises(InvalidInputError, match="same number of labels") as info:
        fleiss_kappa(table)
    assert 'unequal="modal"' in str(info.value)
    assert info.value.rows
    values, freq = np.unique(per_item[per_item >= 2], return_counts=True)
    modal = values[freq == freq.max()].max()
    subset = table[per_item == modal]
    expected = inter_rater.fleiss_kappa(subset, method="fleiss")
    assert abs(fleiss_kappa(table, unequal="modal") - expected) < TOL


def test_fleiss_modal_rule_breaks_ties_towards_more_labels_and_ignores_empty_rows() -> None:
    table = np.array([[2, 0], [1, 1], [3, 0], [1, 2], [0, 0], [1, 0]])
    expected = inter_rater.fleiss_kappa(table[[2, 3]], method="fleiss")
    assert abs(fleiss_kappa(table, unequal="modal") - expected) < TOL


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("seed", range(4))
def test_krippendorff_alpha_matches_reference(level: str, seed: int) -> None:
    data = ratings(seed, n_items=50, n_raters=4, n_classes=5, missing=0.35)
    expected = krippendorff.alpha(data.T, level_of_measurement=level)
    assert abs(krippendorff_alpha(data, level=level) - expected) < TOL  # type: ignore[arg-type]


@pytest.mark.parametrize("level", ("ordinal", "interval"))
def test_krippendorff_alpha_on_real_valued_and_shifted_ratings(level: str) -> None:
    rng = np.random.default_rng(7)
    data = 2000 + np.round(rng.normal(size=(40, 3)) + rng.normal(size=(40, 1)) * 2, 1)
    data[rng.random(data.shape) < 0.2] = np.nan
    expected = krippendorff.alpha(data.T, level_of_measurement=level)
    assert abs(krippendorff_alpha(data, level=level) - expected) < TOL  # type: ignore[arg-type]


def test_krippendorff_ordinal_text_labels_follow_value_domain() -> None:
    order = ["low", "mid", "high", "top"]
    data = ratings(11, n_items=40, n_raters=3)
    text = np.array([[None if np.isnan(v) else order[int(v)] for v in row] for row in data])
    expected = krippendorff.alpha(data.T, level_of_measurement="ordinal", value_domain=[0, 1, 2, 3])
    got = krippendorff_alpha(text, level="ordinal", value_domain=order)
    assert abs(got - expected) < TOL
    frame = pd.DataFrame(text, columns=["a", "b", "c"])
    assert abs(krippendorff_alpha(frame, level="ordinal", value_domain=order) - expected) < TOL
    nominal = krippendorff.alpha(data.T, level_of_measurement="nominal")
    assert abs(krippendorff_alpha(text) - nominal) < TOL


@pytest.mark.parametrize("seed", range(4))
def test_percent_and_specific_agreement_match_brute_force(seed: int) -> None:
    data = ratings(seed, n_items=50, n_raters=4, missing=0.4)
    agree, total, per_class = brute_pairs(data)
    table = full_counts(data, 4)
    assert abs(percent_agreement(table) - agree / total) < TOL
    specific = specific_agreement(pd.DataFrame(table, columns=[0.0, 1.0, 2.0, 3.0]))
    for row in specific.itertuples():
        double_agree, assignments = per_class[row[1]]
        assert abs(row.specific_agreement - double_agree / assignments) < TOL


def test_specific_agreement_two_labelers_is_2a_over_2a_b_c() -> None:
    a = ["y", "y", "y", "n", "n", "y", "n"]
    b = ["y", "y", "n", "n", "y", "y", "n"]
    table = count_labels(np.array([a, b], dtype=object).T)
    frame = specific_agreement(table).set_index("class")
    # positive: a=3 both yes, 1 + 1 split → 6 / 8; negative: 2 both no → 4 / 6
    assert abs(frame.loc["y", "specific_agreement"] - 6 / 8) < TOL
    assert abs(frame.loc["n", "specific_agreement"] - 4 / 6) < TOL
    assert frame["n_assignments"].tolist() == [6, 8]


def test_count_labels_matches_statsmodels_aggregate_raters() -> None:
    data = ratings(5, missing=0.0)
    expected, _ = inter_rater.aggregate_raters(data.astype(int), n_cat=4)
    assert (count_labels(data).to_numpy() == expected).all()


def test_weighted_sums_equal_the_statistic_on_resampled_items() -> None:
    """A bootstrap replicate is the design's sums weighted by draw counts: check it exactly."""
    from scipy import sparse

    data = ratings(2, n_items=30, n_raters=4, missing=0.3)
    present = ~np.isnan(data)
    item, _ = np.nonzero(present)
    counts = item_counts(item, data[present].astype(int), data.shape[0], 4)
    design = Design(counts.n_items)
    add_agreement_blocks(design, counts)
    pair_c, pair_k = add_alpha_blocks(design, counts, "ordinal")
    add_fleiss_blocks(design, counts, 4)
    rows, cols, values = design.triplets()
    features = sparse.csr_matrix((values, (rows, cols)), shape=(design.n_rows, design.width))
    weights = np.random.default_rng(0).multinomial(
        counts.n_items, np.full(counts.n_items, 1 / counts.n_items)
    )
    sums = Sums((weights @ features)[None, :], design.slices)
    resampled = data[np.repeat(counts.kept, weights)]
    assert (
        abs(
            percent_from(sums)[0]
            - percent_agreement(count_labels(resampled, classes=[0.0, 1.0, 2.0, 3.0]))
        )
        < TOL
    )
    expected_alpha = krippendorff.alpha(resampled.T, level_of_measurement="ordinal")
    assert abs(alpha_from(sums, "ordinal", pair_c, pair_k)[0] - expected_alpha) < TOL
    four = resampled[(~np.isnan(resampled)).sum(axis=1) == 4]
    expected_fleiss = inter_rater.fleiss_kappa(full_counts(four, 4), method="fleiss")
    assert abs(fleiss_from(sums, 4)[0] - expected_fleiss) < TOL


# --------------------------------------------------------------------------- properties


labels_strategy = st.lists(st.sampled_from(["a", "b", "c"]), min_size=2, max_size=30)


@settings(max_examples=60, deadline=None)
@given(labels_strategy)
def test_kappa_of_a_labeler_with_itself_is_one(labels: list[str]) -> None:
    if len(set(labels)) < 2:
        with pytest.raises(InvalidInputError, match="chance agreement is 1"):
            cohen_kappa(labels, labels)
    else:
        assert cohen_kappa(labels, labels) == pytest.approx(1.0, abs=TOL)


@settings(max_examples=60, deadline=None)
@given(labels_strategy, st.randoms(use_true_random=False))
def test_kappa_is_symmetric_and_bounded(labels: list[str], random: object) -> None:
    other = list(labels)
    random.shuffle(other)  # type: ignore[attr-defined]
    try:
        forward = cohen_kappa(labels, other)
    except InvalidInputError:
        return
    assert forward == pytest.approx(cohen_kappa(other, labels), abs=TOL)
    assert -1 - TOL <= forward <= 1 + TOL


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 4), min_size=2, max_size=25),
    st.integers(2, 5),
    st.sampled_from(LEVELS),
)
def test_alpha_of_identical_labelers_is_one(values: list[int], n_raters: int, level: str) -> None:
    data = np.tile(np.array(values, dtype=float)[:, None], (1, n_raters))
    if len(set(values)) < 2:
        with pytest.raises(InvalidInputError, match="same value"):
            krippendorff_alpha(data, level=level)  # type: ignore[arg-type]
    else:
        assert krippendorff_alpha(data, level=level) == pytest.approx(1.0, abs=TOL)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 4), min_size=2, max_size=2), min_size=1, max_size=20))
def test_percent_agreement_is_a_share(rows: list[list[int]]) -> None:
    table = np.array(rows)
    if table.sum(axis=1).max() < 2:
        with pytest.raises(InvalidInputError, match="no item has two or more labels"):
            percent_agreement(table)
    else:
        assert 0.0 <= percent_agreement(table) <= 1.0


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_report_pairs_are_symmetric(seed: int) -> None:
    data = ratings(seed, n_items=25, n_raters=3, n_classes=3)
    forward = agreement_report(long_form(data, ["x", "y", "z"]), n_boot=0, min_common=1)
    # the same labelers under names that sort the other way round: every pair is (b, a) now
    renamed = {"x": "z", "y": "y", "z": "x"}
    backward = agreement_report(long_form(data, ["z", "y", "x"]), n_boot=0, min_common=1)
    assert np.allclose(forward.confusion.to_numpy(), forward.confusion.to_numpy().T)
    mirrored = {
        frozenset((row.annotator_a, row.annotator_b)): row for row in backward.pairs.itertuples()
    }
    for row in forward.pairs.itertuples():
        match = mirrored[frozenset((renamed[row.annotator_a], renamed[row.annotator_b]))]
        assert match.n_common == row.n_common
        assert match.percent_agreement == pytest.approx(row.percent_agreement, abs=TOL)
        assert np.isnan(row.cohen_kappa) == np.isnan(match.cohen_kappa)
        if not np.isnan(row.cohen_kappa):
            assert match.cohen_kappa == pytest.approx(row.cohen_kappa, abs=TOL)
        assert 0.0 <= row.percent_agreement <= 1.0


# --------------------------------------------------------------------------- undefined cases


def test_undefined_statistics_raise_with_reasons() -> None:
    with pytest.raises(InvalidInputError, match="no item is labelled by both"):
        cohen_kappa(["a", None], [None, "b"])
    with pytest.raises(InvalidInputError, match="single class 'a'"):
        cohen_kappa(["a", "a", "a"], ["a", "a", "a"])
    with pytest.raises(InvalidInputError, match="chance agreement is 1"):
        fleiss_kappa([[3, 0], [3, 0]])
    with pytest.raises(InvalidInputError, match="at least 2 labels"):
        fleiss_kappa([[1, 0], [0, 1]])
    with pytest.raises(InvalidInputError, match="no item has labels from two"):
        krippendorff_alpha([[1, None], [None, 2]])
    with pytest.raises(InvalidInputError, match="same value"):
        krippendorff_alpha([[1, 1], [1, 1], [2, None]])
    with pytest.raises(InvalidInputError, match="no item has two or more"):
        percent_agreement([[1, 0], [0, 1]])
    with pytest.raises(InvalidInputError, match="no item has two or more"):
        specific_agreement([[1, 0]])
    frame = specific_agreement(pd.DataFrame({"a": [2, 1], "b": [0, 1], "c": [0, 0]}))
    unused = frame.set_index("class").loc["c"]
    assert np.isnan(unused["specific_agreement"]) and unused["note"]


def test_report_turns_undefined_statistics_into_none_with_reason() -> None:
    same = pd.DataFrame(
        [(i, who, "cat") for i in range(12) for who in ("ann", "bo")],
        columns=["example_id", "annotator", "label"],
    )
    report = agreement_report(same, n_boot=50)
    assert report.percent_agreement.value == 1.0
    for name in ("cohen_kappa", "fleiss_kappa", "krippendorff_alpha"):
        estimate = getattr(report, name)
        assert estimate.value is None and estimate.reason and estimate.low is None
    assert "one and the same class" in report.pairs["note"].iloc[0]

    disjoint = pd.DataFrame(
        [(0, "ann", "a"), (1, "bo", "b"), (2, "ann", "b")],
        columns=["example_id", "annotator", "label"],
    )
    report = agreement_report(disjoint)
    assert report.n_items == 0 and report.pairs.empty
    for name in ("percent_agreement", "cohen_kappa", "fleiss_kappa", "krippendorff_alpha"):
        assert getattr(report, name).value is None
        assert "two or more annotators" in getattr(report, name).reason
    json.dumps(report.to_dict())


def test_pairs_with_few_common_items_are_listed_but_left_out_of_the_mean() -> None:
    data = ratings(4, n_items=40, n_raters=3, missing=0.0)
    data[5:, 2] = np.nan  # ann2 shares only 5 items with the others
    report = agreement_report(long_form(data), n_boot=0, min_common=10)
    pairs = report.pairs.set_index(["annotator_a", "annotator_b"])
    assert pairs.loc[("ann0", "ann2"), "n_common"] == 5
    assert "fewer than 10" in pairs.loc[("ann0", "ann2"), "note"]
    expected = sk_metrics.cohen_kappa_score(data[:, 0], data[:, 1])
    assert abs(report.cohen_kappa.value - expected) < TOL
    assert "1 of 3" in report.cohen_kappa.note
    none = agreement_report(long_form(data), n_boot=0, min_common=100)
    assert none.cohen_kappa.value is None and "min_common" in none.cohen_kappa.reason


# --------------------------------------------------------------------------- the report


@pytest.fixture(scope="module")
def noisy() -> np.ndarray:
    return ratings(21, n_items=120, n_raters=5, n_classes=4, missing=0.3)


@pytest.fixture(scope="module")
def noisy_report(noisy: np.ndarray) -> object:
    return agreement_report(long_form(noisy), n_boot=300, random_state=1)


def test_report_statistics_equal_the_references(noisy: np.ndarray, noisy_report: object) -> None:
    report = noisy_report
    agree, total, per_class = brute_pairs(noisy)
    assert abs(report.percent_agreement.value - agree / total) < TOL
    alpha = krippendorff.alpha(noisy.T, level_of_measurement="nominal")
    assert abs(report.krippendorff_alpha.value - alpha) < TOL
    table = full_counts(noisy, 4)
    assert abs(report.fleiss_kappa.value - fleiss_kappa(table, unequal="modal")) < TOL
    kappas = []
    for a, b in itertools.combinations(range(5), 2):
        both = ~np.isnan(noisy[:, a]) & ~np.isnan(noisy[:, b])
        kappas.append(sk_metrics.cohen_kappa_score(noisy[both, a], noisy[both, b]))
        row = report.pairs.iloc[len(kappas) - 1]
        assert (row.annotator_a, row.annotator_b) == (f"ann{a}", f"ann{b}")
        assert row.n_common == both.sum()
        assert abs(row.cohen_kappa - kappas[-1]) < TOL
    assert abs(report.cohen_kappa.value - np.mean(kappas)) < TOL
    for row in report.per_class.itertuples():
        double_agree, assignments = per_class[row[1]]
        assert abs(row.specific_agreement - double_agree / assignments) < TOL
    assert report.n_items == int(((~np.isnan(noisy)).sum(axis=1) >= 2).sum())
    assert report.n_labels == int((~np.isnan(noisy)).sum())
    assert report.n_annotators == 5


@pytest.mark.parametrize("level", ("ordinal", "interval"))
def test_report_level_changes_only_alpha(
    noisy: np.ndarray, noisy_report: object, level: str
) -> None:
    report = agreement_report(long_form(noisy), level=level, n_boot=0)  # type: ignore[arg-type]
    expected = krippendorff.alpha(noisy.T, level_of_measurement=level)
    assert abs(report.krippendorff_alpha.value - expected) < TOL
    for name in ("percent_agreement", "cohen_kappa", "fleiss_kappa"):
        assert getattr(report, name).value == pytest.approx(
            getattr(noisy_report, name).value, abs=TOL
        )


def test_report_intervals_cover_the_value_and_are_reproducible(
    noisy: np.ndarray, noisy_report: object
) -> None:
    report = noisy_report
    for name in ("percent_agreement", "cohen_kappa", "fleiss_kappa", "krippendorff_alpha"):
        estimate = getattr(report, name)
        assert estimate.low < estimate.value < estimate.high, name
        assert estimate.high - estimate.low < 0.5
    assert (report.per_class["low"] <= report.per_class["specific_agreement"]).all()
    assert (report.per_class["specific_agreement"] <= report.per_class["high"]).all()
    again = agreement_report(long_form(noisy), n_boot=300, random_state=1)
    assert again.cohen_kappa == report.cohen_kappa
    assert again.krippendorff_alpha == report.krippendorff_alpha
    other = agreement_report(long_form(noisy), n_boot=300, random_state=2)
    assert other.krippendorff_alpha.low != report.krippendorff_alpha.low
    none = agreement_report(long_form(noisy), n_boot=0)
    assert none.percent_agreement.low is None and none.percent_agreement.value is not None


def test_bootstrap_interval_is_close_to_a_naive_item_bootstrap(noisy: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    pairable = noisy[(~np.isnan(noisy)).sum(axis=1) >= 2]
    naive = [
        krippendorff.alpha(
            pairable[rng.integers(0, len(pairable), len(pairable))].T,
            level_of_measurement="nominal",
        )
        for _ in range(300)
    ]
    low, high = np.quantile(naive, [0.025, 0.975])
    report = agreement_report(long_form(noisy), n_boot=1000, random_state=3)
    assert abs(report.krippendorff_alpha.low - low) < 0.03
    assert abs(report.krippendorff_alpha.high - high) < 0.03


def test_confusion_counts_ordered_pairs_of_labels(noisy: np.ndarray, noisy_report: object) -> None:
    expected = np.zeros((4, 4), dtype=np.int64)
    for row in noisy:
        labels = row[~np.isnan(row)].astype(int)
        for i, j in itertools.permutations(range(len(labels)), 2):
            expected[labels[i], labels[j]] += 1
    assert (noisy_report.confusion.to_numpy() == expected).all()
    top = noisy_report.confused_pairs(3)
    upper = expected[np.triu_indices(4, 1)]
    assert top["n_pairs"].tolist() == sorted(upper, reverse=True)[:3]
    assert top["share"].iloc[0] == pytest.approx(top["n_pairs"].iloc[0] / upper.sum())


def test_annotators_against_the_others_majority(noisy: np.ndarray, noisy_report: object) -> None:
    table = noisy_report.annotators.set_index("annotator")
    for j in range(5):
        mine, consensus, weights = [], [], []
        for row in noisy:
            if np.isnan(row[j]):
                continue
            others = np.delete(row, j)
            others = others[~np.isnan(others)]
            if len(others) == 0:
                continue
            values, counts = np.unique(others, return_counts=True)
            top = values[counts == counts.max()]
            for value in top:  # ties split the example equally
                mine.append(row[j])
                consensus.append(value)
                weights.append(1 / len(top))
        got = table.loc[f"ann{j}"]
        assert got["n_compared"] == round(sum(weights))
        accuracy = np.average(np.array(mine) == np.array(consensus), weights=weights)
        assert abs(got["consensus_accuracy"] - accuracy) < TOL
        kappa = sk_metrics.cohen_kappa_score(mine, consensus, sample_weight=weights)
        assert abs(got["consensus_kappa"] - kappa) < TOL
        assert got["n_labels"] == (~np.isnan(noisy[:, j])).sum()


def test_disagreements_rank_the_most_disputed_examples_first() -> None:
    rows = [
        ("calm", "a", "cat"), ("calm", "b", "cat"), ("calm", "c", "cat"),
        ("split", "a", "cat"), ("split", "b", "dog"), ("split", "c", "owl"),
        ("mostly", "a", "dog"), ("mostly", "b", "dog"), ("mostly", "c", "cat"),
        ("pair", "a", "cat"), ("pair", "b", "dog"),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["example_id", "annotator", "label"])
    report = agreement_report(frame, n_boot=0, top_disagreements=5)
    got = report.disagreements
    assert got["example_id"].tolist() == ["split", "pair", "mostly"]
    assert got["label_counts"].tolist() == ["cat×1, dog×1, owl×1", "cat×1, dog×1", "dog×2, cat×1"]
    assert got["score"].iloc[0] == pytest.approx(1.0)
    assert got["n_distinct"].tolist() == [3, 2, 2]
    assert 0 < got["score"].iloc[2] < 1
    assert len(agreement_report(frame, n_boot=0, top_disagreements=1).disagreements) == 1


def test_to_dict_is_json_ready_with_the_agreed_keys(noisy_report: object) -> None:
    data = noisy_report.to_dict()
    json.dumps(data)
    for key in (
        "n_items", "n_annotators", "percent_agreement", "cohen_kappa", "fleiss_kappa",
        "krippendorff_alpha", "per_class", "pairs",
    ):  # fmt: skip
        assert key in data
    assert set(data["cohen_kappa"]) >= {"value", "low", "high"}
    assert data["per_class"][0].keys() >= {
        "class",
        "specific_agreement",
        "low",
        "high",
        "n_assignments",
    }
    assert data["pairs"][0].keys() >= {"annotator_a", "annotator_b", "n_common", "cohen_kappa"}
    assert len(data["confusion"]["counts"]) == len(data["classes"])
    assert "AgreementReport(n_items=" in repr(noisy_report)
    assert noisy_report.summary()["statistic"].tolist()[0] == "percent_agreement"


def test_missing_labels_and_extra_columns_are_ignored_and_classes_fix_the_order() -> None:
    data = ratings(8, n_items=30, n_raters=3)
    frame = long_form(data)
    frame["label"] = frame["label"].map({0.0: "a", 1.0: "b", 2.0: "c", 3.0: "d"})
    frame.loc[len(frame)] = ["ex0", "late", None]
    frame["time"] = pd.Timestamp("2026-01-01", tz="UTC")
    report = agreement_report(frame, classes=["d", "c", "b", "a", "zebra"], n_boot=0)
    assert report.per_class["class"].tolist() == ["d", "c", "b", "a", "zebra"]
    zebra = report.per_class.iloc[-1]
    assert zebra["n_assignments"] == 0 and np.isnan(zebra["specific_agreement"]) and zebra["note"]
    assert report.n_annotators == 3
    assert list(report.confusion.index) == ["d", "c", "b", "a", "zebra"]


# --------------------------------------------------------------------------- bad input


def test_report_refuses_bad_tables() -> None:
    good = pd.DataFrame(
        [(1, "ann", "a"), (1, "bo", "b"), (2, "ann", "a"), (2, "bo", "a")],
        columns=["example_id", "annotator", "label"],
    )
    with pytest.raises(SchemaError, match='column "label"'):
        agreement_report(good.drop(columns="label"))
    with pytest.raises(InvalidInputError, match="DataFrame"):
        agreement_report(good.to_numpy())  # type: ignore[arg-type]
    duplicated = pd.concat([good, good.iloc[[1]]], ignore_index=True)
    with pytest.raises(InvalidInputError, match="repeat an \\(example_id, annotator\\)") as info:
        agreement_report(duplicated)
    assert info.value.rows == [2, 5]
    with pytest.raises(InvalidInputError, match="at least two annotators; got 1 \\('ann'\\)"):
        agreement_report(good[good["annotator"] == "ann"])
    with pytest.raises(InvalidInputError, match="not among the classes: 'b'") as info:
        agreement_report(good, classes=["a"])
    assert info.value.rows == [2] and info.value.column == "label"
    with pytest.raises(InvalidInputError, match="more than once"):
        agreement_report(good, classes=["a", "b", "a"])
    with pytest.raises(InvalidInputError, match="numeric labels"):
        agreement_report(good, level="interval")
    with pytest.raises(InvalidInputError, match="numeric labels"):
        agreement_report(good.assign(label=["1", "2", "10", "2"]), level="ordinal")
    with pytest.raises(InvalidInputError, match="empty value") as info:
        agreement_report(good.assign(annotator=["ann", None, "ann", "bo"]))
    assert info.value.rows == [2]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_boot": -1}, "n_boot"),
        ({"n_boot": 1.5}, "n_boot"),
        ({"confidence": 1.0}, "confidence"),
        ({"confidence": True}, "confidence"),
        ({"level": "ratio"}, "level"),
        ({"top_disagreements": -2}, "top_disagreements"),
        ({"min_common": 0}, "min_common"),
        ({"random_state": "seed"}, "random_state"),
    ],
)
def test_report_refuses_bad_parameters(kwargs: dict[str, object], message: str) -> None:
    good = pd.DataFrame(
        [(1, "ann", "a"), (1, "bo", "b")], columns=["example_id", "annotator", "label"]
    )
    with pytest.raises(InvalidInputError, match=message):
        agreement_report(good, **kwargs)  # type: ignore[arg-type]
    if "top_disagreements" not in kwargs:
        with pytest.raises(InvalidInputError, match=message):
            agreement_by(good.assign(guideline="v1"), **kwargs)  # type: ignore[arg-type]


def test_statistics_refuse_bad_input() -> None:
    with pytest.raises(InvalidInputError, match="a has 2 labels but b has 3"):
        cohen_kappa(["a", "b"], ["a", "b", "c"])
    with pytest.raises(InvalidInputError, match="1-D"):
        cohen_kappa([["a"]], [["a"]])
    with pytest.raises(InvalidInputError, match="non-negative whole numbers") as info:
        fleiss_kappa([[1, 1], [2, -1], [0.5, 1.5]])
    assert info.value.rows == [2, 3]
    with pytest.raises(InvalidInputError, match="2-D"):
        percent_agreement([1, 2, 3])
    with pytest.raises(InvalidInputError, match="must hold numbers"):
        percent_agreement([["a", "b"]])
    with pytest.raises(InvalidInputError, match='unequal must be "raise" or "modal"'):
        fleiss_kappa([[2, 0]], unequal="drop")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="2-D"):
        krippendorff_alpha([1, 2, 3])
    with pytest.raises(InvalidInputError, match="numeric labels"):
        krippendorff_alpha([["a", "b"], ["a", "a"]], level="interval")
    with pytest.raises(InvalidInputError, match="numeric labels"):
        krippendorff_alpha([["a", "b"], ["a", "a"]], level="ordinal")
    with pytest.raises(InvalidInputError, match="numeric labels"):
        krippendorff_alpha([["10", "2"], ["2", "2"]], level="ordinal")  # text is not ordered
    with pytest.raises(InvalidInputError, match="not among the value_domain"):
        krippendorff_alpha([["a", "b"], ["a", "c"]], level="ordinal", value_domain=["a", "b"])
    with pytest.raises(InvalidInputError, match="level must be one of"):
        krippendorff_alpha([[1, 2], [1, 1]], level="ratio")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="not among the classes"):
        count_labels([["a", "b"]], classes=["a"])


# --------------------------------------------------------------------------- by guideline version


def test_agreement_by_guideline_measures_each_version_per_class() -> None:
    old = ratings(30, n_items=60, n_raters=3, agreement=0.4, missing=0.0)
    new = ratings(31, n_items=60, n_raters=3, agreement=0.9, missing=0.0)
    frame = pd.concat(
        [long_form(old).assign(guideline="v1"), long_form(new).assign(guideline="v2")],
        ignore_index=True,
    )  # the same (example, annotator) pairs appear under both versions
    solo = pd.DataFrame([("ex0", "ann0", 1.0, None)], columns=frame.columns)
    by = agreement_by(pd.concat([frame, solo], ignore_index=True), n_boot=100)
    summary = by.summary.set_index("guideline", drop=False)
    assert summary["guideline"].tolist() == ["v1", "v2", None]
    v1 = agreement_report(long_form(old), classes=[0.0, 1.0, 2.0, 3.0], n_boot=0)
    assert summary.loc["v1", "krippendorff_alpha"] == pytest.approx(
        v1.krippendorff_alpha.value, abs=TOL
    )
    assert summary.loc["v2", "krippendorff_alpha"] > summary.loc["v1", "krippendorff_alpha"]
    assert summary.iloc[2]["n_annotators"] == 1 and "at least two" in summary.iloc[2]["note"]
    assert np.isnan(summary.iloc[2]["cohen_kappa"])
    wide = by.per_class_wide()
    assert list(wide.columns) == ["v1", "v2"] and list(wide.index) == [0.0, 1.0, 2.0, 3.0]
    assert (wide["v2"] > wide["v1"]).all()
    assert set(by.reports) == {"v1", "v2"}
    json.dumps(by.to_dict())
    with pytest.raises(SchemaError, match='column "batch"'):
        agreement_by(frame, column="batch")


# --------------------------------------------------------------------------- house rules


def test_agreement_modules_stay_light_and_never_import_the_references() -> None:
    import ast
    from pathlib import Path

    import dcai.labels

    for path in Path(dcai.labels.__file__).parent.glob("_agreement*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in ("krippendorff", "statsmodels", "sklearn"), path
    code = (
        "import sys, dcai.labels._agreement, dcai.labels._agreement_by\n"
        "print(','.join(m for m in ('sklearn', 'scipy', 'krippendorff', 'statsmodels') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_pattern_draws_and_item_draws_give_the_same_bootstrap_distribution() -> None:
    """Few distinct items → multinomial over patterns; else items are drawn: same distribution."""
    from dcai.labels._agreement_bootstrap import bootstrap, pattern_keys

    data = ratings(9, n_items=3000, n_raters=3, n_classes=3, missing=0.0)
    item, _ = np.nonzero(~np.isnan(data))
    counts = item_counts(item, data[~np.isnan(data)].astype(int), len(data), 3)
    design = Design(counts.n_items)
    add_agreement_blocks(design, counts)
    keys = pattern_keys(counts.item, counts.cls, counts.cnt, counts.n_items, 4, 3)
    assert keys is not None and len(np.unique(keys)) * 4 < counts.n_items
    by_pattern = bootstrap(design, keys, percent_from, n_boot=2000, rng=np.random.default_rng(0))
    by_item = bootstrap(design, None, percent_from, n_boot=2000, rng=np.random.default_rng(1))
    spread = by_item.std()
    assert abs(by_pattern.mean() - by_item.mean()) < 0.2 * spread
    assert abs(by_pattern.std() - spread) < 0.1 * spread
    for q in (0.025, 0.975):
        assert abs(np.quantile(by_pattern, q) - np.quantile(by_item, q)) < 0.3 * spread
