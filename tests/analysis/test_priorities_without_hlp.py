"""Error analysis without HLP: the rest of the data is the baseline; slices ranked by excess."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from dcai.analysis import find_slices
from dcai.analysis._priorities import (
    REST_OF_DATA,
    issue_rate_p,
    newcombe_difference,
    priority_table,
    wilson_interval,
)


def _planted(seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """2,000 examples; a region of 300 with accuracy ≈ 0.59 and 36 % flagged labels."""
    rng = np.random.default_rng(seed)
    n = 2000
    region = np.zeros(n, dtype=bool)
    region[:300] = True
    y = rng.choice(["a", "b"], size=n)
    wrong = rng.random(n) < np.where(region, 0.41, 0.09)
    pred = np.where(wrong, np.where(y == "a", "b", "a"), y)
    issues = rng.random(n) < np.where(region, 0.36, 0.05)
    other = np.zeros(n, dtype=bool)
    other[1000:1300] = True  # an ordinary slice
    return y, pred, {"region": region, "other": other}, issues


def test_a_bad_region_is_held_against_the_rest_of_the_data() -> None:
    y, pred, masks, issues = _planted()
    table = priority_table(y, pred, masks, label_issues=issues, n_boot=0).set_index("name")
    region = table.loc["region"]
    hit = y == pred
    inside, outside = hit[masks["region"]], hit[~masks["region"]]
    assert region["baseline_source"] == REST_OF_DATA
    assert region["baseline"] == pytest.approx(outside.mean())
    assert region["gap"] == pytest.approx(outside.mean() - inside.mean())
    assert region["potential_gain"] == pytest.approx(region["gap"] * 300 / 2000)
    low, high = confint_proportions_2indep(
        outside.sum(), len(outside), inside.sum(), len(inside), method="newcomb"
    )
    assert (region["gap_low"], region["gap_high"]) == (pytest.approx(low), pytest.approx(high))
    assert region["gap_low"] > 0
    assert region["action"] == "fix labels" and "rest of the data" in region["reason"]
    # The ordinary slice is not significantly below the rest: left, saying so.
    assert table.loc["other", "action"] == "leave it"
    assert "not significantly below the rest" in table.loc["other", "reason"]
    assert table.index[1] == "region"  # first after "all", by potential gain


def test_flagged_labels_alone_justify_fixing_them() -> None:
    rng = np.random.default_rng(1)
    n = 2000
    y = rng.choice(["a", "b"], size=n)
    pred = y.copy()  # the model is as good everywhere
    wrong = rng.random(n) < 0.1
    pred[wrong] = np.where(y[wrong] == "a", "b", "a")
    slice_ = np.zeros(n, dtype=bool)
    slice_[:200] = True
    issues = rng.random(n) < np.where(slice_, 0.30, 0.04)
    table = priority_table(y, pred, {"s": slice_}, label_issues=issues, n_boot=0)
    row = table.set_index("name").loc["s"]
    assert row["action"] == "fix labels"
    assert row["baseline"] is None or np.isnan(row["baseline"])
    x, k = int(issues[slice_].sum()), int(issues.sum())
    fisher = stats.fisher_exact(
        [[x, 200 - x], [k - x, n - 200 - (k - x)]], alternative="greater"
    ).pvalue
    assert row["label_issue_p"] == pytest.approx(min(1.0, fisher), rel=1e-6)
    assert row["label_issue_rate_rest"] == pytest.approx(issues[~slice_].mean())


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 400), st.integers(0, 400), st.integers(1, 400), st.integers(0, 400))
def test_newcombe_and_wilson_match_statsmodels(n1: int, x1: int, n2: int, x2: int) -> None:
    x1, x2 = min(x1, n1), min(x2, n2)
    lo, hi = wilson_interval(x1, n1)
    ref = proportion_confint(x1, n1, method="wilson")
    assert (lo, hi) == (pytest.approx(ref[0], abs=1e-9), pytest.approx(ref[1], abs=1e-9))
    d, low, high = newcombe_difference(x1, n1, x2, n2)
    ref2 = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff")
    assert d == pytest.approx(x1 / n1 - x2 / n2)
    assert (low, high) == (pytest.approx(ref2[0], abs=1e-9), pytest.approx(ref2[1], abs=1e-9))


@settings(max_examples=40, deadline=None)
@given(st.integers(20, 300), st.integers(0, 300), st.integers(0, 300))
def test_issue_test_is_fishers(n: int, size: int, flagged: int) -> None:
    size, flagged = min(size, n), min(flagged, n)
    x = min(size, flagged) // 2 + 1 if min(size, flagged) else 0
    x = min(x, size, flagged)
    table = [[x, size - x], [flagged - x, n - size - flagged + x]]
    if min(min(row) for row in table) < 0:
        return
    expected = stats.fisher_exact(table, alternative="greater").pvalue
    assert issue_rate_p(x, size, flagged, n) == pytest.approx(expected, rel=1e-6, abs=1e-12)


def test_a_big_significant_slice_outranks_small_ones() -> None:
    rng = np.random.default_rng(2)
    n = 5000
    big = np.zeros(n, dtype=bool)
    big[:712] = True
    tiny = np.array(["none"] * n, dtype=object)
    for i, start in enumerate((1000, 1030, 1060)):
        tiny[start : start + 30] = f"t{i}"
    frame = pd.DataFrame({"big": big, "tiny": tiny, "x": rng.normal(size=n)})
    rate = np.where(big, 0.35, np.where(tiny != "none", 0.85, 0.08))
    errors = rng.random(n) < rate
    report = find_slices(frame, errors, min_size=30)
    slices = report.slices
    assert slices["name"].iloc[0] == "big"
    assert slices["p_adjusted"].iloc[0] < 1e-20
    assert slices["name"].str.startswith("tiny == t").any()  # the small ones are still reported
    # Ranked by excess errors = size × (error rate − error rate outside), recomputed here.
    for row in slices.itertuples():
        mask = report.masks(frame)[row.name].to_numpy()
        excess = mask.sum() * (errors[mask].mean() - errors[~mask].mean())
        assert row.excess_errors == pytest.approx(excess)
    assert list(slices["excess_errors"]) == sorted(slices["excess_errors"], reverse=True)
    # By lift (the old ranking) a 30-row slice would have led.
    assert slices["lift"].idxmax() != 0
