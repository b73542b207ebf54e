"""Automatic slice discovery: planted slices, false positives, brute force, properties, bad input."""

from __future__ import annotations

import itertools
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from dcai.analysis._slice_predicates import parse_slice, slice_mask
from dcai.analysis._slice_stats import PARENT_GAIN, hypergeom_sf
from dcai.analysis._slices import SLICE_COLUMNS, find_slices
from dcai.errors import FallbackWarning, InvalidInputError, SchemaError


def _frame(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Mixed columns: two numeric, two categorical, a boolean tag, a numeric with missing."""
    x3 = rng.normal(size=n)
    x3[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.uniform(0, 100, n),
            "colour": rng.choice(["red", "green", "blue", "white"], n, p=[0.1, 0.3, 0.3, 0.3]),
            "shop": pd.Categorical(rng.choice(["a", "b", "c"], n)),
            "blurry": rng.random(n) < 0.5,
            "x3": x3,
        }
    )


def _errors(mask: np.ndarray, rng: np.random.Generator, inside: float, base: float = 0.1):
    return (rng.random(len(mask)) < np.where(mask, inside, base)).astype(int)


def _top(report) -> tuple[str, list]:
    assert len(report.slices), report.notes
    row = report.slices.iloc[0]
    return row["name"], row["predicates"]


# Planted slices --------------------------------------------------------------------------


def test_a_planted_category_is_found_first() -> None:
    rng = np.random.default_rng(1)
    frame = _frame(5000, rng)
    errors = _errors((frame.colour == "red").to_numpy(), rng, 0.4)
    report = find_slices(frame, errors)
    assert _top(report) == ("colour == red", [("colour", "==", "red")])
    assert len(report.slices) == 1  # its children add nothing: the redundancy rule


def test_a_planted_numeric_bin_is_found_first() -> None:
    rng = np.random.default_rng(2)
    frame = _frame(5000, rng)
    cut = float(np.quantile(frame.x2, 0.75))
    errors = _errors((frame.x2 >= cut).to_numpy(), rng, 0.3)
    name, predicates = _top(find_slices(frame, errors))
    assert len(predicates) == 1 and predicates[0][:2] == ("x2", ">=")
    assert predicates[0][2] == pytest.approx(cut, rel=0.01)
    assert name.startswith("x2 ≥ ")


def test_a_planted_pair_is_found_first() -> None:
    rng = np.random.default_rng(3)
    frame = _frame(8000, rng)
    low, high = np.quantile(frame.x1, [0.25, 0.5])
    bad = (frame.shop == "b") & (frame.x1 >= low) & (frame.x1 < high)
    report = find_slices(frame, _errors(bad.to_numpy(), rng, 0.45))
    # Ranked by excess errors, the planted pair and its parent `shop == b` hold about the same
    # excess errors (all of the parent's are the pair's): both lead, in either order.
    assert report.slices["name"].iloc[0] in set(report.slices["name"].iloc[:2])
    pairs = report.slices[report.slices["predicates"].map(len) == 2]
    assert pairs.index[0] <= 1
    name, predicates = pairs["name"].iloc[0], pairs["predicates"].iloc[0]
    assert [(c, op) for c, op, _ in predicates] == [("x1", "between"), ("shop", "==")]
    assert predicates[1][2] == "b"
    mask = report.masks(frame)[name].to_numpy()
    assert (mask & bad.to_numpy()).sum() / (mask | bad.to_numpy()).sum() > 0.9


def test_a_planted_triple_is_found_first() -> None:
    rng = np.random.default_rng(4)
    frame = _frame(20000, rng)
    bad = (frame.colour == "green") & ~frame.blurry & (frame.x2 < np.quantile(frame.x2, 0.25))
    report = find_slices(frame, _errors(bad.to_numpy(), rng, 0.5))
    # Its parents hold about its excess errors (see the planted pair); it is among the top 4.
    triples = report.slices[report.slices["predicates"].map(len) == 3]
    assert len(triples) and triples.index[0] <= 3
    predicates = triples["predicates"].iloc[0]
    assert [(c, op, v) for c, op, v in predicates if c != "x2"] == [
        ("colour", "==", "green"),
        ("blurry", "==", False),
    ]
    assert [(c, op) for c, op, _ in predicates if c == "x2"] == [("x2", "<")]
    assert triples["name"].iloc[0].endswith("& not blurry")


def test_missing_values_are_a_slice_of_their_own() -> None:
    rng = np.random.default_rng(5)
    frame = _frame(5000, rng)
    report = find_slices(frame, _errors(frame.x3.isna().to_numpy(), rng, 0.35))
    assert _top(report) == ("x3 is missing", [("x3", "is missing", None)])


def test_a_loss_finds_the_slice_with_the_larger_mean_loss() -> None:
    rng = np.random.default_rng(6)
    frame = _frame(4000, rng)
    bad = (frame.colour == "red").to_numpy()
    loss = rng.exponential(np.where(bad, 2.0, 1.0))
    report = find_slices(frame, loss)
    assert report.test == "welch"
    assert _top(report)[0] == "colour == red"


# False positives --------------------------------------------------------------------------


def test_pure_noise_gives_no_slice_in_most_seeds() -> None:
    reported = 0
    for seed in range(12):
        rng = np.random.default_rng(100 + seed)
        frame = _frame(3000, rng)
        errors = (rng.random(3000) < 0.15).astype(int)
        report = find_slices(frame, errors)
        reported += len(report.slices) > 0
        if not len(report.slices):
            assert "significantly worse" in report.notes[-1]
    # Bonferroni keeps the chance of any report at most alpha = 0.05 per seed.
    assert reported <= 2


# Brute force ----------------------------------------------------------------------------


def _brute_force(frame, errors, vocabulary, *, min_size, alpha=0.05, weight=0.95):
    """Every conjunction on distinct columns, tested with scipy's Fisher test."""
    n, total = len(frame), int(errors.sum())
    masks = {str(p): slice_mask(frame, [p]) for preds in vocabulary.values() for p in preds}
    cands = {}
    for level in (1, 2, 3):
        for cols in itertools.combinations(vocabulary, level):
            for preds in itertools.product(*(vocabulary[c] for c in cols)):
                mask = np.logical_and.reduce([masks[str(p)] for p in preds])
                if mask.sum() >= min_size:
                    cands[tuple(map(str, preds))] = (int(mask.sum()), int(errors[mask].sum()))
    m = len(cands)

    def fisher(e, s, big_e, big_n):
        table = [[e, s - e], [big_e - e, big_n - s - big_e + e]]
        return stats.fisher_exact(table, alternative="greater").pvalue

    kept = []
    for preds, (s, e) in cands.items():
        p = fisher(e, s, total, n)
        if p * m > alpha:
            continue
        ok = True
        for drop in range(len(preds) if len(preds) > 1 else 0):
            ps, pe = cands[preds[:drop] + preds[drop + 1 :]]
            ok &= ps > s and fisher(e, s, pe, ps) * m <= alpha
            ok &= e / s >= (1 + PARENT_GAIN) * pe / ps
        if ok:
            score = weight * (e / s / (total / n) - 1) - (1 - weight) * (n / s - 1)
            excess = s * (e / s - (total - e) / (n - s))
            kept.append((score, preds, p, excess))

    # A broader slice is left out when a narrower kept one holds all its extra errors: the
    # rest of it is not significantly worse than the data outside it.
    def explained(preds):
        ps, pe = cands[preds]
        for other in kept:
            inner = other[1]
            if len(inner) > len(preds) and set(preds) <= set(inner):
                ds, de = cands[inner]
                if fisher(pe - de, ps - ds, total - de, n - ds) * m > alpha:
                    return True
        return False

    kept = [k for k in kept if not explained(k[1])]
    # Ranked by excess errors, then p-value, then fewer predicates (as find_slices does).
    kept.sort(key=lambda t: (-t[3], t[2], len(t[1])))
    return m, kept


def test_the_search_agrees_with_brute_force() -> None:
    rng = np.random.default_rng(7)
    n = 1200
    frame = pd.DataFrame(
        {
            "a": rng.choice(["p", "q", "r"], n),
            "b": rng.choice(["u", "v"], n),
            "c": rng.random(n) < 0.4,
            "x": np.tile(np.arange(100), n // 100),
        }
    )
    bad = ((frame.a == "p") & (frame.x >= 75)).to_numpy()
    errors = _errors(bad, rng, 0.5, base=0.15)
    vocabulary = {
        "a": [("a", "==", v) for v in ("p", "q", "r")],
        "b": [("b", "==", v) for v in ("u", "v")],
        "c": [("c", "==", True), ("c", "==", False)],
        "x": [
            ("x", "<", 25),
            ("x", "between", [25, 50]),
            ("x", "between", [50, 75]),
            ("x", ">=", 75),
        ],
    }
    m, kept = _brute_force(frame, errors, vocabulary, min_size=30)
    report = find_slices(frame, errors, min_size=30, error_weight=0.95)
    assert report.n_candidates == m
    assert len(report.slices) == min(len(kept), 10)
    top = report.slices.iloc[0]
    score, preds, p, excess = kept[0]
    assert sorted(map(str, top["predicates"])) == sorted(map(str, preds))
    assert top["p_value"] == pytest.approx(p, rel=1e-6)
    assert top["score"] == pytest.approx(score)
    assert top["excess_errors"] == pytest.approx(excess)
    assert [sorted(map(str, q)) for q in report.slices["predicates"]] == [
        sorted(map(str, k[1])) for k in kept[:10]
    ]


def test_fisher_tail_matches_scipy() -> None:
    rng = np.random.default_rng(8)
    n = rng.integers(40, 3000, 300)
    good = (n * rng.random(300)).round()
    draws = (n * rng.random(300)).round()
    x = np.ceil(draws * good / n + rng.random(300) * 3 * np.sqrt(draws + 1))
    expected = stats.hypergeom.sf(x - 1, n, good, draws)
    assert np.allclose(hypergeom_sf(x, n, good, draws), expected, rtol=1e-9, atol=1e-300)


# Properties -----------------------------------------------------------------------------


@st.composite
def _data(draw: st.DrawFn) -> tuple[pd.DataFrame, np.ndarray]:
    n = draw(st.integers(60, 300))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    frame = _frame(n, rng)
    frame["count"] = rng.integers(0, 3, n)
    strength = draw(st.floats(0.1, 0.9))
    bad = (frame.x1 > 0).to_numpy() & (frame.colour != "green").to_numpy()
    return frame, _errors(bad, rng, strength, base=0.1)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_data(), st.integers(1, 3))
def test_reported_figures_recompute_from_the_masks(data, max_predicates) -> None:
    frame, errors = data
    report = find_slices(
        frame, errors, min_size=10, alpha=0.5, max_predicates=max_predicates, top_k=50
    )
    masks = report.masks(frame)
    assert list(masks.columns) == list(report.slices["name"])
    assert report.overall_error_rate == pytest.approx(errors.mean())
    for row in report.slices.itertuples():
        mask = masks[row.name].to_numpy()
        assert mask.sum() == row.size >= 10
        assert errors[mask].mean() == pytest.approx(row.error_rate)
        assert errors[~mask].mean() == pytest.approx(row.error_rate_outside)
        assert row.p_adjusted == pytest.approx(min(1.0, row.p_value * report.n_candidates))
        assert row.p_adjusted <= 0.5
        assert len(row.predicates) <= max_predicates
        assert len({c for c, _, _ in row.predicates}) == len(row.predicates)
        excess = mask.sum() * (errors[mask].mean() - errors[~mask].mean())
        assert row.excess_errors == pytest.approx(excess)
    ranked = list(report.slices["excess_errors"])
    assert ranked == sorted(ranked, reverse=True)
    json.dumps(report.to_dict(), allow_nan=False)


# Reports, masks and hand-written slices ---------------------------------------------------


def test_the_report_is_json_ready_and_applies_to_other_versions() -> None:
    rng = np.random.default_rng(9)
    frame = _frame(3000, rng)
    report = find_slices(frame, _errors((frame.colour == "red").to_numpy(), rng, 0.4))
    assert list(report.slices.columns) == list(SLICE_COLUMNS)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["slices"][0]["predicates"] == [["colour", "==", "red"]]
    assert data["n_candidates"] == report.n_candidates > 0
    # The stored predicates select the same rows after a JSON round trip, on new rows too.
    newer = _frame(500, np.random.default_rng(10))
    expected = (newer.colour == "red").to_numpy()
    assert np.array_equal(slice_mask(newer, data["slices"][0]["predicates"]), expected)
    assert np.array_equal(report.masks(newer).iloc[:, 0].to_numpy(), expected)
    assert "1 slice(s)" in repr(report)


def test_parse_slice_reads_the_small_grammar() -> None:
    assert parse_slice("colour == 'red' and x1 >= 0.5") == [
        ("colour", "==", "red"),
        ("x1", ">=", 0.5),
    ]
    assert parse_slice("0.5 ≤ x1 < 1.2 & not blurry & x3.isna()") == [
        ("x1", "between", [0.5, 1.2]),
        ("blurry", "==", False),
        ("x3", "is missing", None),
    ]
    assert parse_slice("1 < x1 <= 2") == [("x1", ">", 1), ("x1", "<=", 2)]
    assert parse_slice("(x1 < 0 and blurry) and -2 < x2") == [
        ("x1", "<", 0),
        ("blurry", "==", True),
        ("x2", ">", -2),
    ]
    assert parse_slice("3 > x2 and shop in ['a', 'b'] and `my col` != 'a & b'") == [
        ("x2", "<", 3),
        ("shop", "in", ["a", "b"]),
        ("my col", "!=", "a & b"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "colour == 'red' or x1 > 0",
        "x1 + 1 > 2",
        "__import__('os').system('true')",
        "colour == red",
        "x1 >",
        "",
        "x1 == None",
    ],
)
def test_parse_slice_refuses_anything_else(text: str) -> None:
    with pytest.raises(InvalidInputError, match=r"cannot read|non-empty"):
        parse_slice(text)


def test_slice_mask_matches_pandas_query_and_treats_missing_as_false() -> None:
    frame = _frame(400, np.random.default_rng(11))
    text = "colour == 'red' and x3 >= 0 and not blurry"
    assert np.array_equal(slice_mask(frame, text), frame.eval(text).to_numpy(dtype=bool))
    assert not slice_mask(frame, [("x3", "<", 1e9)])[frame.x3.isna()].any()
    assert slice_mask(frame, []).all()
    with pytest.raises(SchemaError, match='column "nope"'):
        slice_mask(frame, [("nope", "==", 1)])
    with pytest.raises(InvalidInputError, match="needs numbers"):
        slice_mask(frame, [("colour", "<", 3)])
    with pytest.raises(InvalidInputError, match="unknown predicate operator"):
        slice_mask(frame, [("x1", "~", 3)])


# Bad input --------------------------------------------------------------------------------


def test_bad_errors_are_refused_with_rows() -> None:
    frame = _frame(100, np.random.default_rng(12))
    with pytest.raises(InvalidInputError, match="errors has 99 values but the frame has 100"):
        find_slices(frame, np.zeros(99))
    bad = np.zeros(100)
    bad[[3, 7]] = np.nan
    with pytest.raises(InvalidInputError, match=r"2 missing values \(rows 4, 8\)"):
        find_slices(frame, bad)
    with pytest.raises(InvalidInputError, match="negative"):
        find_slices(frame, -np.ones(100))
    with pytest.raises(InvalidInputError, match="numbers or booleans"):
        find_slices(frame, np.array(["x"] * 100))
    with pytest.raises(InvalidInputError, match="DataFrame"):
        find_slices(frame.to_numpy(), np.zeros(100))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("max_predicates", 0),
        ("min_size", 0),
        ("n_bins", 1),
        ("top_k", 0),
        ("max_candidates", 0),
        ("alpha", 0.0),
        ("alpha", 1.0),
        ("error_weight", 0.0),
        ("max_predicates", 2.5),
        ("min_size", True),
    ],
)
def test_bad_options_are_refused(option: str, value: object) -> None:
    frame = _frame(100, np.random.default_rng(13))
    with pytest.raises(InvalidInputError, match=option):
        find_slices(frame, np.zeros(100), **{option: value})  # type: ignore[arg-type]


def test_unusable_columns_are_skipped_with_a_note_or_refused() -> None:
    rng = np.random.default_rng(14)
    frame = _frame(2000, rng)
    frame["constant"] = 1
    frame["ids"] = [f"id{i}" for i in range(2000)]
    errors = _errors((frame.colour == "red").to_numpy(), rng, 0.4)
    report = find_slices(frame, errors)
    assert 'column "constant" skipped: has a single value.' in report.notes
    assert any(note.startswith('column "ids" skipped') for note in report.notes)
    assert "constant" not in report.columns
    with pytest.raises(InvalidInputError, match="no usable column"):
        find_slices(frame, errors, columns=["constant", "ids"])
    with pytest.raises(SchemaError, match='column "nope"'):
        find_slices(frame, errors, columns=["x1", "nope"])
    twice = pd.concat([frame[["x1"]], frame[["x1"]]], axis=1)
    with pytest.raises(SchemaError, match="repeated column names"):
        find_slices(twice, errors)


def test_no_errors_gives_an_empty_report_with_a_note() -> None:
    frame = _frame(500, np.random.default_rng(15))
    report = find_slices(frame, np.zeros(500))
    assert report.slices.empty and list(report.slices.columns) == list(SLICE_COLUMNS)
    assert "every error is 0" in report.notes[-1]
    assert report.masks(frame).shape == (500, 0)
    json.dumps(report.to_dict(), allow_nan=False)


def test_too_many_candidates_fall_back_to_fewer_predicates() -> None:
    rng = np.random.default_rng(16)
    frame = _frame(1000, rng)
    errors = _errors((frame.colour == "red").to_numpy(), rng, 0.5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = find_slices(frame, errors, min_size=30, max_candidates=600)
    assert report.max_predicates < 3
    assert any(issubclass(w.category, FallbackWarning) for w in caught)
    assert any("max_candidates" in note for note in report.notes)
    with pytest.raises(InvalidInputError, match="max_candidates"):
        find_slices(frame, errors, max_candidates=5)


def test_the_sparse_count_agrees_with_the_dense_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from dcai.analysis import _slice_search

    rng = np.random.default_rng(17)
    frame = _frame(600, rng)
    errors = _errors((frame.colour == "red").to_numpy(), rng, 0.4)
    loss = rng.exponential(1.0, 600)
    dense = [find_slices(frame, e, min_size=10, alpha=0.9, top_k=40) for e in (errors, loss)]
    monkeypatch.setattr(_slice_search, "_dense_limit", lambda n_rows: 0)
    sparse = [find_slices(frame, e, min_size=10, alpha=0.9, top_k=40) for e in (errors, loss)]
    for a, b in zip(dense, sparse, strict=True):
        assert a.n_candidates == b.n_candidates
        pd.testing.assert_frame_equal(a.slices, b.slices)


def test_a_parent_explained_by_its_child_is_left_out_but_one_with_its_own_errors_stays() -> None:
    """Ranked by excess errors, ``a == p`` would lead with the errors of ``a == p & x >= 75``;
    it is left out when its other rows are ordinary, and kept when they are bad too."""
    rng = np.random.default_rng(11)
    n = 20_000
    frame = pd.DataFrame(
        {"a": rng.choice(["p", "q", "r", "s"], n), "x": np.tile(np.arange(100), n // 100)}
    )
    child = ((frame.a == "p") & (frame.x >= 75)).to_numpy()
    parent = (frame.a == "p").to_numpy()
    only_child = _errors(child, rng, 0.6)
    report = find_slices(frame, only_child)
    names = list(report.slices["name"])
    assert names == ["a == p & x ≥ 75"]  # not `a == p`, nor `x ≥ 75`
    assert any("left out" in note for note in report.notes)
    both = np.where(parent & ~child, (rng.random(n) < 0.3).astype(int), only_child)
    names = list(find_slices(frame, both).slices["name"])
    assert "a == p" in names and any(name.startswith("a == p & x") for name in names)
