"""Statistics and edge cases of dcai.monitor.drift (seeded, deterministic)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from scipy import stats
from scipy.spatial.distance import jensenshannon

from dcai.errors import InvalidInputError, SchemaError
from dcai.monitor import DriftDetector, drift_report
from dcai.monitor import _drift_stats as st

FAST = {"n_bootstrap": 50, "bootstrap_cap": 200}


def _frame(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1, n),
            "k": rng.integers(0, 50, n),  # ints: numeric, with ties
            "c": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]),
        }
    )


# ------------------------------------------------------------------ agreement with scipy
@settings(max_examples=120, deadline=None)
@given(
    n1=hs.integers(1, 400),
    n2=hs.integers(1, 400),
    shift=hs.floats(-1, 1),
    ties=hs.booleans(),
    seed=hs.integers(0, 2**16),
    block=hs.sampled_from([1, 2, 7, 64, 1 << 16]),
)
def test_ks_and_wasserstein_agree_with_scipy(
    n1: int, n2: int, shift: float, ties: bool, seed: int, block: int
) -> None:
    # block: the current sample is walked in blocks; ties across block edges included
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n1), rng.normal(shift, 1, size=n2)
    if ties:
        a, b = np.round(a, 1), np.round(b, 1)
    d, w = st.ks_and_wasserstein(st.SortedReference.build(np.sort(a)), np.sort(b), block=block)
    ref = stats.ks_2samp(a, b)
    assert d == pytest.approx(ref.statistic, abs=1e-12)
    assert st.ks_pvalue(d, n1, n2) == pytest.approx(ref.pvalue, abs=1e-9)
    assert w == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(("n1", "n2"), [(20_000, 3_000), (9_000, 10_000), (50_000, 60_000)])
def test_ks_pvalue_agrees_in_both_regimes(n1: int, n2: int) -> None:
    rng = np.random.default_rng(n1)
    a, b = rng.normal(size=n1), rng.normal(0.03, 1, size=n2)
    d, _ = st.ks_and_wasserstein(st.SortedReference.build(np.sort(a)), np.sort(b))
    assert st.ks_pvalue(d, n1, n2) == pytest.approx(stats.ks_2samp(a, b).pvalue, abs=1e-9)


def test_ks_pvalue_between_the_far_tail_and_the_smirnov_cut_off() -> None:
    # n d^2 >= 2.2 at an effective size >= 10,000: SciPy sums the Smirnov series (slow); dcai
    # takes one minus the Pelz-Good CDF, documented within 5e-8 of it.
    n = 20_000  # effective size 10,000
    for z in np.linspace(1.49, 5.2, 25):
        d = float(z / math.sqrt(n / 2))
        p = st.ks_pvalue(d, n, n)
        assert p == pytest.approx(float(stats.kstwo.sf(d, n // 2)), abs=5e-8)
        assert p > 0


def test_detector_rows_agree_with_scipy() -> None:
    rng = np.random.default_rng(1)
    ref, cur = _frame(rng, 3000), _frame(rng, 2000, shift=0.2)
    cur.loc[:50, "c"] = "z"  # unseen category
    table = DriftDetector(**FAST).fit(ref).check(cur).set_index("column")
    ks = stats.ks_2samp(ref["x"], cur["x"])
    assert table.loc["x", "p_value"] == pytest.approx(ks.pvalue, abs=1e-9)
    w = stats.wasserstein_distance(ref["x"], cur["x"]) / ref["x"].std(ddof=0)
    assert table.loc["x", "effect"] == pytest.approx(w, rel=1e-9)
    assert table.loc["x", "effect_low"] <= w <= table.loc["x", "effect_high"]
    keys = ["a", "b", "c", "z"]
    r = ref["c"].value_counts().reindex(keys, fill_value=0).to_numpy()
    c = cur["c"].value_counts().reindex(keys, fill_value=0).to_numpy()
    assert table.loc["c", "p_value"] == pytest.approx(
        stats.chi2_contingency(np.vstack([r, c])).pvalue, abs=1e-12
    )
    assert table.loc["c", "effect"] == pytest.approx(jensenshannon(r, c, base=2), abs=1e-12)
    assert "unseen" in table.loc["c", "note"] and "'z'" in table.loc["c", "note"]
    assert table.loc["k", "kind"] == "numeric" and "ties" in table.loc["k", "note"]


def test_rare_categories_are_pooled_and_said() -> None:
    ref = pd.DataFrame({"c": ["a"] * 500 + ["b"] * 500 + ["r1", "r2", "r3"]})
    cur = pd.DataFrame({"c": ["a"] * 300 + ["b"] * 320 + ["r1"]})
    row = DriftDetector(**FAST).fit(ref).check(cur).iloc[0]
    # r1, r2, r3 pooled (expected < 5); the pool is still rare, so it joins the smallest, "a"
    table = np.array([[503, 500], [301, 320]])
    assert row["p_value"] == pytest.approx(stats.chi2_contingency(table).pvalue, abs=1e-12)
    assert "3 rare categories" in row["note"] and "joined 'a'" in row["note"]


def test_bh_matches_scipy() -> None:
    p = np.random.default_rng(0).uniform(size=30) ** 3
    assert np.allclose(st.adjust_pvalues(p, "bh"), stats.false_discovery_control(p))
    assert np.allclose(st.adjust_pvalues(p, "bonferroni"), np.minimum(p * 30, 1))


# ------------------------------------------------------------------ error rates and power
def test_false_alarm_rate_without_drift() -> None:
    alarms = 0
    reps = 120
    for seed in range(reps):
        rng = np.random.default_rng(seed)
        cols = {f"x{i}": rng.normal(size=300) for i in range(7)}
        cols |= {f"c{i}": rng.choice(list("abcd"), 300) for i in range(3)}
        ref = pd.DataFrame(cols)
        cur = pd.DataFrame(
            {
                k: (rng.normal(size=200) if k[0] == "x" else rng.choice(list("abcd"), 200))
                for k in cols
            }
        )
        det = DriftDetector(min_effect=0.0, n_bootstrap=10, bootstrap_cap=50)
        alarms += bool(det.fit(ref, keep_sample=0).check(cur)["drift"].any())
    # alpha = 0.05 family-wise under the global null; binomial 3-sigma margin
    assert alarms / reps <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / reps)


def test_planted_shifts_are_found() -> None:
    rng = np.random.default_rng(3)
    ref = pd.DataFrame(
        {"x": rng.normal(size=10_000), "c": rng.choice(["a", "b"], 10_000, p=[0.5, 0.5])}
    )
    cur = pd.DataFrame(
        {"x": rng.normal(0.5, 1, 10_000), "c": rng.choice(["a", "b"], 10_000, p=[0.75, 0.25])}
    )
    table = DriftDetector(**FAST).fit(ref).check(cur)
    assert table["drift"].all()
    assert table.attrs["dataset_drift"]


def test_practical_minimum_stops_trivial_shift_at_1m_rows() -> None:
    rng = np.random.default_rng(4)
    ref = pd.DataFrame({"x": rng.normal(size=1_000_000)})
    cur = pd.DataFrame({"x": rng.normal(0.01, 1, size=1_000_000)})
    det = DriftDetector(**FAST).fit(ref, keep_sample=0)
    row = det.check(cur).iloc[0]
    assert row["p_adjusted"] < 0.05  # significant ...
    assert row["effect"] < 0.1 and not row["drift"]  # ... but trivial
    assert "quantiles" in row["note"]  # reference above max_exact: quantile grid
    exact = stats.ks_2samp(ref["x"], cur["x"]).statistic
    assert abs(row["statistic"] - exact) <= 1 / (2 * 10_000) + 1e-12


# ------------------------------------------------------------------ edge cases
def test_nan_inf_all_nan_and_constant_columns() -> None:
    rng = np.random.default_rng(5)
    ref = pd.DataFrame(
        {"x": rng.normal(size=500), "empty": np.nan, "const": 1.0, "o": [None] * 500}
    )
    ref.loc[:9, "x"] = np.nan
    ref.loc[10:12, "x"] = np.inf
    cur = pd.DataFrame({"x": rng.normal(size=400), "empty": np.nan, "const": 1.0, "o": ["a"] * 400})
    cur.loc[:39, "x"] = np.nan
    table = DriftDetector(**FAST).fit(ref).check(cur).set_index("column")
    assert table.loc["x", "n_reference"] == 487 and table.loc["x", "n_current"] == 360
    assert table.loc["x", "missing_reference"] == pytest.approx(0.02)
    assert table.loc["x", "missing_current"] == pytest.approx(0.1)
    assert "3 infinite in the reference" in table.loc["x", "note"]
    assert table.loc["empty", "method"] == "none" and "not tested" in table.loc["empty", "note"]
    assert not table.loc["empty", "drift"]
    assert math.isnan(table.loc["const", "effect"]) and "constant" in table.loc["const", "note"]
    assert "not tested" in table.loc["o", "note"]


def test_refusals() -> None:
    ref = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]})
    det = DriftDetector().fit(ref)
    with pytest.raises(SchemaError, match='"c"'):
        det.check(pd.DataFrame({"x": [1.0]}))
    with pytest.raises(SchemaError, match="changed kind") as info:
        det.check(pd.DataFrame({"x": ["a"], "c": ["a"]}))
    assert info.value.column == "x"
    with pytest.raises(InvalidInputError, match="no rows"):
        det.check(ref.iloc[:0])
    mixed = pd.DataFrame({"m": ["a", 1, 2.5]})
    with pytest.raises(SchemaError, match="mixes value types") as info:
        DriftDetector().fit(mixed)
    assert info.value.column == "m"
    row = DriftDetector(categorical=["m"], **FAST).fit(mixed).check(mixed).iloc[0]
    assert row["kind"] == "categorical"
    with pytest.raises(InvalidInputError, match="correction"):
        DriftDetector(correction="holm")  # type: ignore[arg-type]


def test_declared_integer_categorical() -> None:
    rng = np.random.default_rng(6)
    ref = pd.DataFrame({"k": rng.integers(0, 3, 1000)})
    cur = pd.DataFrame({"k": np.r_[rng.integers(0, 3, 999).astype(float), np.nan]})
    row = DriftDetector(categorical=["k"], **FAST).fit(ref).check(cur).iloc[0]
    assert row["kind"] == "categorical" and row["method"] == "chi2"
    assert "unseen" not in row["note"]  # 1.0 in a float column is category "1"


# ------------------------------------------------------------------ persistence
def test_save_load_round_trip_and_tamper(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    ref, cur = _frame(rng, 2000), _frame(rng, 1500, shift=0.3)
    det = DriftDetector(max_exact=1000, n_quantiles=500, **FAST).fit(ref)
    det.save(tmp_path / "d")
    loaded = DriftDetector.load(tmp_path / "d")
    pd.testing.assert_frame_equal(det.check(cur), loaded.check(cur))

    meta = tmp_path / "d" / "detector.json"
    doc = json.loads(meta.read_text())
    doc["columns"][0]["n"] += 1
    meta.write_text(json.dumps(doc))
    with pytest.raises(InvalidInputError, match="checksum"):
        DriftDetector.load(tmp_path / "d")

    det.save(tmp_path / "e")
    arrays = tmp_path / "e" / "numeric.npz"
    data = dict(np.load(arrays))
    data["c0"] = data["c0"] + 1e-9
    np.savez(arrays, **data)
    with pytest.raises(InvalidInputError, match="corrupt"):
        DriftDetector.load(tmp_path / "e")
    arrays.write_bytes(b"garbage")
    with pytest.raises(InvalidInputError, match="cannot read"):
        DriftDetector.load(tmp_path / "e")


# ------------------------------------------------------------------ evidently, report, domain
def test_evidently_mode() -> None:
    rng = np.random.default_rng(8)
    small = pd.DataFrame(
        {
            "x": rng.normal(size=500),
            "b": rng.choice(["y", "n"], 500),
            "c": rng.choice(list("abc"), 500),
            "few": rng.integers(0, 4, 500),
        }
    )
    table = DriftDetector(mode="evidently").fit(small).check(small.iloc[:300]).set_index("column")
    assert table["method"].to_dict() == {"x": "ks", "b": "z", "c": "chi2_gof", "few": "chi2_gof"}
    big = pd.DataFrame({"x": rng.normal(size=5000), "c": rng.choice(list("abc"), 5000)})
    shifted = big.assign(x=big["x"] + 0.5)
    table = DriftDetector(mode="evidently").fit(big).check(shifted).set_index("column")
    assert table.loc["x", "method"] == "wasserstein" and table.loc["x", "drift"]
    assert table.loc["c", "method"] == "jensenshannon" and not table.loc["c", "drift"]
    assert table.attrs["dataset_drift"]  # 1 of 2 columns: >= 50 %


def test_drift_report_is_strict_json() -> None:
    ref = pd.DataFrame({"x": np.arange(100.0), "e": np.nan})
    out = drift_report(ref, pd.DataFrame({"x": np.arange(100.0) + 60, "e": np.nan}), **FAST)
    text = json.dumps(out, allow_nan=False)
    assert set(out) == {"columns", "drift"} and out["drift"] is True
    assert set(out["columns"][0]) == {
        "column",
        "method",
        "p_value",
        "p_adjusted",
        "effect",
        "drift",
    }
    assert json.loads(text)["columns"][1]["p_value"] is None


def test_domain_classifier() -> None:
    rng = np.random.default_rng(9)
    ref = pd.DataFrame(
        {"x": rng.normal(size=800), "y": rng.normal(size=800), "c": rng.choice(list("ab"), 800)}
    )
    cur = (
        ref.sample(frac=1.0, random_state=0).reset_index(drop=True).assign(y=lambda f: f["y"] + 1.5)
    )
    det = DriftDetector(**FAST).fit(ref)
    out = det.check_multivariate(cur)
    assert out["auc_low"] > 0.7 and out["top_features"][0]["feature"] == "y"
    fresh = pd.DataFrame(
        {"x": rng.normal(size=800), "y": rng.normal(size=800), "c": rng.choice(list("ab"), 800)}
    )
    same = det.check_multivariate(fresh)
    assert same["auc_low"] < 0.5 < same["auc_high"] + 0.02
