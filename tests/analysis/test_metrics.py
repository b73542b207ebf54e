"""Classification metrics: point estimates against scikit-learn, intervals, skew, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import rankdata
from sklearn import metrics as skm

from dcai.analysis._metrics import (
    MetricsReport,
    classification_metrics,
    metric_by_group,
)
from dcai.errors import InvalidInputError

TOL = 1e-12


def _value(report: MetricsReport, name: str) -> float:
    value = report.metric(name).value
    assert value is not None
    return value


def _data(
    rng: np.random.Generator, n: int, classes: list[object], *, ties: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, probabilities that favour the true class, and the argmax predictions."""
    k = len(classes)
    codes = rng.integers(0, k, n)
    if ties:  # few distinct rows: many tied scores in every column
        raw = rng.integers(1, 4, size=(n, k)).astype(float)
        raw[np.arange(n), codes] += rng.integers(0, 3, n)
    else:
        raw = np.exp(rng.normal(size=(n, k)))
        raw[np.arange(n), codes] *= 3.0
    probs = raw / raw.sum(axis=1, keepdims=True)
    labels = np.array(classes)
    return labels[codes], probs, labels[probs.argmax(axis=1)]


def _check_against_sklearn(
    report: MetricsReport,
    y: np.ndarray,
    pred: np.ndarray,
    probs: np.ndarray | None,
    classes: list[object],
    weight: np.ndarray | None = None,
) -> None:
    present = [c for c in classes if np.any(y == c)]
    kw = {"sample_weight": weight}
    assert _value(report, "accuracy") == pytest.approx(skm.accuracy_score(y, pred, **kw), abs=TOL)
    assert _value(report, "balanced_accuracy") == pytest.approx(
        skm.balanced_accuracy_score(y, pred, **kw), abs=TOL
    )
    p, r, f, s = skm.precision_recall_fscore_support(y, pred, labels=classes, zero_division=0, **kw)
    frame = report.per_class
    has = np.isin(np.asarray(classes), present)
    np.testing.assert_allclose(frame["precision"][has], p[has], atol=TOL)
    np.testing.assert_allclose(frame["recall"][has], r[has], atol=TOL)
    np.testing.assert_allclose(frame["f1"][has], f[has], atol=TOL)
    if weight is None:
        np.testing.assert_array_equal(frame["support"], s)
    for average in ("macro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(
            y, pred, labels=present, average=average, zero_division=0, **kw
        )
        assert _value(report, f"{average}_precision") == pytest.approx(p, abs=TOL)
        assert _value(report, f"{average}_recall") == pytest.approx(r, abs=TOL)
        assert _value(report, f"{average}_f1") == pytest.approx(f, abs=TOL)
    np.testing.assert_allclose(
        report.confusion.to_numpy(), skm.confusion_matrix(y, pred, labels=classes, **kw), atol=TOL
    )
    if probs is None:
        return
    for j, c in enumerate(classes):
        truth = (y == c).astype(int)
        if 0 < truth.sum() < len(y):
            assert frame["roc_auc"][j] == pytest.approx(
                skm.roc_auc_score(truth, probs[:, j], **kw), abs=TOL
            )
            assert frame["pr_auc"][j] == pytest.approx(
                skm.average_precision_score(truth, probs[:, j], **kw), abs=TOL
            )
    if len(classes) > 2 and len(present) == len(classes):
        expected = skm.roc_auc_score(y, probs, multi_class="ovr", labels=classes, **kw)
        assert _value(report, "roc_auc") == pytest.approx(expected, abs=TOL)
        onehot = (y[:, None] == np.asarray(classes)[None, :]).astype(int)
        expected = skm.average_precision_score(onehot, probs, average="macro", **kw)
        assert _value(report, "pr_auc") == pytest.approx(expected, abs=TOL)


# --------------------------------------------------------------------------- against sklearn


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("classes", [[0, 1, 2, 3], ["ant", "bee", "cat"]])
def test_point_estimates_equal_sklearn(classes: list[object], ties: bool) -> None:
    rng = np.random.default_rng(1)
    y, probs, pred = _data(rng, 400, classes, ties=ties)
    report = classification_metrics(y, pred, pred_probs=probs, n_boot=0)
    assert report.classes == classes
    _check_against_sklearn(report, y, pred, probs, classes)


def test_point_estimates_equal_sklearn_with_sample_weight() -> None:
    rng = np.random.default_rng(2)
    classes: list[object] = ["a", "b", "c"]
    y, probs, pred = _data(rng, 300, classes, ties=True)
    weight = rng.uniform(0.1, 3.0, len(y))
    report = classification_metrics(y, pred, pred_probs=probs, sample_weight=weight, n_boot=50)
    _check_against_sklearn(report, y, pred, probs, classes, weight)


def test_predictions_default_to_the_argmax_of_pred_probs() -> None:
    rng = np.random.default_rng(3)
    y, probs, pred = _data(rng, 200, ["x", "y", "z"])
    from_probs = classification_metrics(y, pred_probs=probs, n_boot=0)
    given_pred = classification_metrics(y, pred, pred_probs=probs, n_boot=0)
    pd.testing.assert_frame_equal(from_probs.overall, given_pred.overall)


def test_binary_case_uses_pos_label() -> None:
    rng = np.random.default_rng(4)
    y, probs, pred = _data(rng, 300, ["neg", "pos"])
    report = classification_metrics(y, pred, pred_probs=probs, n_boot=0)
    _check_against_sklearn(report, y, pred, probs, ["neg", "pos"])
    assert report.pos_label == "pos"
    for pos, column in (("pos", 1), ("neg", 0)):
        report = classification_metrics(y, pred, pred_probs=probs, pos_label=pos, n_boot=0)
        kw = {"pos_label": pos, "zero_division": 0}
        assert _value(report, "precision") == pytest.approx(skm.precision_score(y, pred, **kw))
        assert _value(report, "recall") == pytest.approx(skm.recall_score(y, pred, **kw))
        assert _value(report, "f1") == pytest.approx(skm.f1_score(y, pred, **kw), abs=TOL)
        truth = (y == pos).astype(int)
        expected = skm.roc_auc_score(truth, probs[:, column])
        assert _value(report, "roc_auc") == pytest.approx(expected, abs=TOL)
        expected = skm.average_precision_score(truth, probs[:, column])
        assert _value(report, "pr_auc") == pytest.approx(expected, abs=TOL)
    # a 1-D pred_probs is the probability of classes[1]
    one_d = classification_metrics(y, pred, pred_probs=probs[:, 1], n_boot=0)
    assert _value(one_d, "roc_auc") == pytest.approx(skm.roc_auc_score(y == "pos", probs[:, 1]))


def test_pred_probs_dataframe_columns_are_matched_by_class() -> None:
    rng = np.random.default_rng(5)
    y, probs, pred = _data(rng, 150, ["a", "b", "c"])
    frame = pd.DataFrame(probs, columns=["a", "b", "c"])[["c", "a", "b"]]
    from_frame = classification_metrics(y, pred, pred_probs=frame, n_boot=0)
    from_array = classification_metrics(y, pred, pred_probs=probs, n_boot=0)
    pd.testing.assert_frame_equal(from_frame.per_class, from_array.per_class)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_class_absent_from_y_true_is_left_out_of_macro_averages() -> None:
    y = np.array(["a", "a", "b", "b", "b", "a"])
    pred = np.array(["a", "c", "b", "b", "a", "a"])
    report = classification_metrics(y, pred, n_boot=0)
    _check_against_sklearn(report, y, pred, None, ["a", "b", "c"])
    c = report.metric("recall", "c")
    assert c.value is None
    assert c.reason is not None and "no examples in y_true" in c.reason
    assert report.metric("precision", "c").value == 0.0  # its one prediction is wrong
    assert report.metric("f1", "c").value == 0.0


# --------------------------------------------------------------------------- intervals


def test_intervals_match_a_brute_force_bootstrap() -> None:
    """Multinomial cell draws and binned AUC replicates give the intervals of resampling rows."""
    rng = np.random.default_rng(6)
    y, probs, pred = _data(rng, 1500, [0, 1, 2])  # > 500 distinct scores: binned AUC
    report = classification_metrics(y, pred, pred_probs=probs, n_boot=1000, random_state=1)
    accuracy, macro_f1, auc = [], [], []
    for _ in range(300):
        i = rng.integers(0, len(y), len(y))
        cells = np.bincount(y[i] * 3 + pred[i], minlength=9).reshape(3, 3)
        tp, support, predicted = np.diag(cells), cells.sum(axis=1), cells.sum(axis=0)
        accuracy.append(tp.sum() / len(y))
        macro_f1.append(np.mean(2 * tp / (support + predicted)))
        ranks, positive = rankdata(probs[i, 0]), y[i] == 0  # Mann-Whitney U / (P N)
        n_pos, n_neg = positive.sum(), (~positive).sum()
        auc.append((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    for name, replicates, estimate in (
        ("accuracy", accuracy, report.metric("accuracy")),
        ("macro_f1", macro_f1, report.metric("macro_f1")),
        ("roc_auc[0]", auc, report.metric("roc_auc", 0)),
    ):
        low, high = np.quantile(replicates, [0.025, 0.975])
        assert estimate.low == pytest.approx(low, abs=0.008), name
        assert estimate.high == pytest.approx(high, abs=0.008), name


def test_accuracy_intervals_cover_the_true_rate() -> None:
    """200 data sets of 300 examples with accuracy 0.8: the 95 % intervals cover it ~95 %."""
    rng = np.random.default_rng(7)
    covered = 0
    for _ in range(200):
        y = rng.integers(0, 3, 300)
        pred = np.where(rng.random(300) < 0.8, y, (y + rng.integers(1, 3, 300)) % 3)
        estimate = classification_metrics(y, pred, n_boot=1000, random_state=rng).metric("accuracy")
        assert estimate.low is not None and estimate.high is not None
        covered += estimate.low <= 0.8 <= estimate.high
    assert 0.90 <= covered / 200 <= 0.99


def test_group_intervals_cover_the_true_rate() -> None:
    """The same simulation as 200 groups of one call: each group is resampled on its own."""
    rng = np.random.default_rng(8)
    groups = np.repeat(np.arange(200), 300)
    y = rng.integers(0, 3, len(groups))
    pred = np.where(rng.random(len(y)) < 0.8, y, (y + 1) % 3)
    table = metric_by_group(y, pred, groups, metric="error_rate", n_boot=1000, random_state=1)
    covered = ((table["low"] <= 0.2) & (table["high"] >= 0.2)).mean()
    assert 0.90 <= covered <= 0.99


def test_same_seed_same_intervals_and_no_bootstrap_gives_no_interval() -> None:
    rng = np.random.default_rng(9)
    y, probs, pred = _data(rng, 200, [0, 1, 2])
    first = classification_metrics(y, pred, pred_probs=probs, n_boot=100, random_state=3)
    again = classification_metrics(y, pred, pred_probs=probs, n_boot=100, random_state=3)
    pd.testing.assert_frame_equal(first.overall, again.overall)
    bare = classification_metrics(y, pred, n_boot=0)
    assert bare.overall["low"].isna().all()
    assert bare.metric("accuracy").low is None


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=60),
    st.integers(0, 2**16),
)
def test_intervals_are_ordered_and_contain_accuracy(
    pairs: list[tuple[int, int]], seed: int
) -> None:
    y = np.array([t for t, _ in pairs])
    pred = np.array([p for _, p in pairs])
    report = classification_metrics(y, pred, n_boot=200, random_state=seed)
    for table, prefix in ((report.overall, ""), (report.per_class, "f1_")):
        low = table[f"{prefix}low"].to_numpy(dtype=float)
        high = table[f"{prefix}high"].to_numpy(dtype=float)
        ok = ~np.isnan(low)
        assert np.all(low[ok] <= high[ok] + 1e-12)
        assert np.all((low[ok] >= -1e-12) & (high[ok] <= 1 + 1e-12))
    accuracy = report.metric("accuracy")
    assert accuracy.low is not None and accuracy.high is not None and accuracy.value is not None
    assert accuracy.low - 1e-12 <= accuracy.value <= accuracy.high + 1e-12
    json.dumps(report.to_dict(), allow_nan=False)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("abc")), min_size=1, max_size=40))
def test_renaming_classes_changes_no_overall_number(pairs: list[tuple[str, str]]) -> None:
    y = np.array([t for t, _ in pairs], dtype=object)
    pred = np.array([p for _, p in pairs], dtype=object)
    rename = {"a": 10, "b": 20, "c": 30}  # order kept: the same positive class
    first = classification_metrics(y, pred, n_boot=0)
    second = classification_metrics([rename[v] for v in y], [rename[v] for v in pred], n_boot=0)
    pd.testing.assert_series_equal(first.overall["value"], second.overall["value"])


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 2), st.sampled_from(["g", "h", "i"])),
        min_size=1,
        max_size=50,
    )
)
def test_group_values_equal_the_metrics_of_each_subset(
    rows: list[tuple[int, int, str]],
) -> None:
    y = np.array([r[0] for r in rows])
    pred = np.array([r[1] for r in rows])
    groups = np.array([r[2] for r in rows], dtype=object)
    names = {"accuracy": "accuracy", "recall": "macro_recall", "f1": "macro_f1"}
    tables = {
        metric: metric_by_group(y, pred, groups, metric=metric, n_boot=20).set_index("group")
        for metric in (*names, "error_rate")
    }
    for group in tables["accuracy"].index:
        subset = groups == group
        report = classification_metrics(y[subset], pred[subset], classes=[0, 1, 2], n_boot=0)
        expected = {metric: _value(report, name) for metric, name in names.items()}
        expected["error_rate"] = 1 - expected["accuracy"]
        for metric, table in tables.items():
            row = table.loc[group]
            assert row["value"] == pytest.approx(expected[metric], abs=TOL), metric
            assert row["n"] == subset.sum()
            assert row["low"] <= row["high"]


# --------------------------------------------------------------------------- groups


def test_metric_by_group_with_overlapping_masks_and_an_empty_slice() -> None:
    y = np.array([0, 0, 1, 1, 2, 2, 0, 1])
    pred = np.array([0, 1, 1, 1, 2, 0, 0, 1])
    masks = pd.DataFrame(
        {
            "first_half": np.arange(8) < 4,
            "class_0": y == 0,
            "nothing": np.zeros(8, dtype=bool),
        }
    )
    table = metric_by_group(y, pred, masks, metric="accuracy", n_boot=100)
    assert list(table.columns) == ["group", "n", "value", "low", "high", "reason"]
    assert list(table["group"]) == ["first_half", "class_0", "nothing"]
    assert list(table["n"]) == [4, 3, 0]
    assert table["value"].tolist()[:2] == [0.75, pytest.approx(2 / 3)]
    assert np.isnan(table["value"][2]) and table["reason"][2] == "no examples in this group"


def test_metric_by_group_keeps_missing_group_values_as_a_group() -> None:
    groups = pd.Series(["x", None, "x", None, "y"])
    table = metric_by_group([1, 1, 0, 0, 1], [1, 0, 0, 0, 1], groups, n_boot=0)
    assert table["group"].tolist()[:2] == ["x", "y"]
    assert pd.isna(table["group"][2]) and table["n"][2] == 2


# --------------------------------------------------------------------------- skew and undefined


def test_skewed_data_warn_and_lead_with_the_rare_class() -> None:
    rng = np.random.default_rng(10)
    y = np.array(["common"] * 950 + ["rare"] * 50)
    pred = np.where(rng.random(1000) < 0.97, y, np.where(y == "rare", "common", "rare"))
    pred[950:990] = "common"  # the model misses most of the rare class
    report = classification_metrics(y, pred, n_boot=200)
    assert report.skewed
    assert any("dominated" in w and "'common'" in w for w in report.warnings)
    assert any("Rare classes: 'rare'" in w and "recall" in w for w in report.warnings)
    assert [e.title for e in report.lead] == ["recall['rare']", "f1['rare']", "macro_f1"]
    assert report.lead[0].value == pytest.approx(report.metric("recall", "rare").value)


def test_balanced_data_do_not_warn_and_lead_with_accuracy() -> None:
    rng = np.random.default_rng(11)
    y, probs, pred = _data(rng, 600, ["a", "b", "c"])
    report = classification_metrics(y, pred, pred_probs=probs, n_boot=100)
    assert not report.skewed
    assert report.warnings == []
    assert [e.name for e in report.lead] == ["accuracy"]


def test_a_class_never_predicted_is_named() -> None:
    report = classification_metrics(["a", "b", "b", "a"], ["a", "a", "a", "a"], n_boot=0)
    assert any("'b'" in w and "never predicted" in w for w in report.warnings)
    assert report.metric("precision", "b").value == 0.0


def test_undefined_values_are_nan_with_reasons_never_errors() -> None:
    # a single class in y_true: AUCs undefined, a listed class without examples
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2]])
    report = classification_metrics(["a", "a", "a"], pred_probs=probs, classes=["a", "b"])
    roc = report.metric("roc_auc")
    assert roc.value is None and roc.reason is not None and "single class" in roc.reason
    b = report.per_class.set_index("class").loc["b"]
    assert np.isnan(b["recall"]) and np.isnan(b["roc_auc"]) and "no examples" in b["reason"]
    assert report.metric("recall", "b").reason is not None
    assert "every example" in report.per_class.set_index("class").loc["a", "reason"]
    assert report.skewed and len(report.warnings) == 1  # no rare class to name
    assert [e.title for e in report.lead] == ["macro_f1"]
    # without pred_probs the AUC rows say what they need
    bare = classification_metrics(["a", "b"], ["a", "b"], n_boot=10)
    assert bare.metric("pr_auc").reason == "needs pred_probs"
    payload = bare.to_dict()
    json.dumps(payload, allow_nan=False)
    assert payload["overall"][-1]["value"] is None


def test_to_dict_is_plain_json() -> None:
    report = classification_metrics(np.array([1, 2, 2]), np.array([1, 2, 1]), n_boot=20)
    payload = report.to_dict()
    assert payload["classes"] == [1, 2]
    assert payload["confusion"]["counts"] == [[1, 0], [1, 1]]
    assert set(payload["per_class"][0]) >= {"class", "support", "recall", "recall_low", "reason"}
    json.dumps(payload, allow_nan=False)
    assert "MetricsReport(n=3" in repr(report)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y_true": ["a", "b"], "y_pred": ["a"]}, "y_pred has 1 values but y_true has 2"),
        ({"y_true": [], "y_pred": []}, "y_true is empty"),
        ({"y_true": ["a", "b"]}, "give y_pred or pred_probs"),
        ({"y_true": ["a", None], "y_pred": ["a", "a"]}, "missing value"),
        (
            {"y_true": ["a", "b"], "y_pred": ["a", "z"], "classes": ["a", "b"]},
            "not among the classes: 'z'",
        ),
        ({"y_true": ["a", "b"], "pred_probs": [[0.5, 0.6], [0.5, 0.5]]}, "do not sum to 1"),
        ({"y_true": ["a", "b"], "pred_probs": [[0.2, 0.3, 0.5]] * 2}, "3 columns but there are 2"),
        ({"y_true": ["a", "b"], "pred_probs": [[1.2, -0.2]] * 2}, "out-of-[0, 1]"),
        ({"y_true": ["a", "b"], "pred_probs": [[0.5, 0.5]]}, "1 rows but y_true has 2"),
        (
            {"y_true": ["a", "b"], "pred_probs": pd.DataFrame({"a": [1.0, 0.0]})},
            "no column for class",
        ),
        ({"y_true": ["a", "b"], "y_pred": ["a", "b"], "n_boot": -1}, "n_boot"),
        ({"y_true": ["a", "b"], "y_pred": ["a", "b"], "confidence": 95}, "confidence"),
        ({"y_true": ["a", "b"], "y_pred": ["a", "b"], "pos_label": "z"}, "pos_label"),
        ({"y_true": ["a", "b"], "y_pred": ["a", "b"], "sample_weight": [1.0]}, "sample_weight"),
        (
            {"y_true": ["a", "b"], "y_pred": ["a", "b"], "classes": ["a", "a", "b"]},
            "more than once",
        ),
        ({"y_true": "ab", "y_pred": ["a", "b"]}, "1-D sequence"),
    ],
)
def test_bad_input_says_what_and_what_to_do(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=None) as info:
        classification_metrics(**kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)
    assert info.value.hint


def test_bad_rows_are_reported() -> None:
    probs = np.array([[0.5, 0.5], [0.7, 0.7], [0.1, 0.9], [0.0, 0.5]])
    with pytest.raises(InvalidInputError) as info:
        classification_metrics(["a", "b", "a", "b"], pred_probs=probs)
    assert info.value.rows == [2, 4]


@pytest.mark.parametrize(
    ("groups", "kwargs", "message"),
    [
        (["x"], {}, "groups has 1 values but y_true has 2"),
        (pd.DataFrame({"s": [1, 0]}), {}, "must be boolean"),
        (pd.DataFrame({"s": [True]}), {}, "groups has 1 rows"),
        (["x", "y"], {"metric": "auc"}, "metric must be one of"),
    ],
)
def test_metric_by_group_bad_input(groups: object, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        metric_by_group(["a", "b"], ["a", "b"], groups, **kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)


def test_unknown_metric_names_are_refused() -> None:
    report = classification_metrics(["a", "b"], ["a", "b"], n_boot=0)
    with pytest.raises(InvalidInputError, match="no overall metric"):
        report.metric("recal")
    with pytest.raises(InvalidInputError, match="not one of the classes"):
        report.metric("recall", "zebra")
