"""Classification metrics with bootstrap intervals, and a warning when the classes are skewed.

:func:`classification_metrics` scores predictions against the true labels — accuracy, balanced
accuracy, per-class precision / recall / F1 with their macro and weighted averages, the
confusion matrix and, given ``pred_probs``, ROC-AUC and PR-AUC — each with a percentile
bootstrap interval over examples. When one class holds most of the data it says that accuracy
mostly measures that class, and leads with the rare classes' recall and F1.
:func:`metric_by_group` gives one metric per slice (a column's values or boolean masks).

Every count metric is a function of per-class totals (true positives, support, predictions), so
a bootstrap replicate needs only the total of each confusion cell. Drawing examples with
replacement makes those totals multinomial with the cells' shares: a replicate costs O(cells),
not O(examples). ROC-AUC and average precision are functions of the positive and negative totals
at each distinct score and are resampled the same way. Inputs are checked and encoded in
:mod:`dcai.analysis._metrics_input`; the statistics and the bootstrap live in
:mod:`dcai.analysis._metrics_resample`. This module assembles the report and its tables.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dcai.analysis._metrics_input import (
    PROBABILITY_SUM_TOLERANCE,
    _check_options,
    _classes,
    _encode,
    _json,
    _labels,
    _memberships,
    _probabilities,
    _rng,
    _same_length,
    _weights,
)
from dcai.analysis._metrics_resample import (
    _AVERAGED,
    _PER_CLASS,
    _auc_per_class,
    _count_replicates,
    _group_statistic,
    _group_totals,
    _interval,
    _nanmean,
    _rates,
    _resample_groups,
)
from dcai.errors import InvalidInputError

__all__ = [
    "GROUP_METRICS",
    "PROBABILITY_SUM_TOLERANCE",
    "RARE_CLASS_RATIO",
    "SKEW_MAJORITY_SHARE",
    "MetricEstimate",
    "MetricsReport",
    "classification_metrics",
    "metric_by_group",
]

#: The data are *skewed* when the largest class holds at least this share of the examples
#: (of the weight, with ``sample_weight``): always predicting it would then score ≥ 0.8 accuracy.
SKEW_MAJORITY_SHARE = 0.8
#: A class is *rare* when its share is below the majority share divided by this (below 16–20 %
#: on skewed data): the 15 % minority of an 85/15 task counts, which a fixed 10 % cut would miss.
RARE_CLASS_RATIO = 5.0
#: Metrics :func:`metric_by_group` computes per group.
GROUP_METRICS = ("accuracy", "error_rate", "recall", "f1")
#: Rare classes named in a warning and put in the lead.
_MAX_NAMED = 10


@dataclass(frozen=True)
class MetricEstimate:
    """One metric with its percentile bootstrap interval.

    ``label`` is the class of a per-class metric (None for an overall one). ``value`` is None
    when the metric is undefined on these data and ``reason`` says why; ``low``/``high`` are
    None without a bootstrap (``n_boot=0``) or when no replicate is defined.
    """

    name: str
    value: float | None
    low: float | None = None
    high: float | None = None
    label: Hashable | None = None
    reason: str | None = None

    @property
    def title(self) -> str:
        """``"macro_f1"`` or, for a class, ``"recall['rare']"``."""
        return self.name if self.label is None else f"{self.name}[{self.label!r}]"

    def to_dict(self) -> dict[str, Any]:
        """``{"name", "label", "value", "low", "high", "reason"}``."""
        return {
            "name": self.name,
            "label": _json(self.label),
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "reason": self.reason,
        }


@dataclass(frozen=True, eq=False, repr=False)
class MetricsReport:
    """Metrics of one set of predictions; built by :func:`classification_metrics`.

    Attributes
    ----------
    overall
        ``metric, value, low, high, reason``: accuracy, balanced_accuracy, macro_/weighted_
        precision, recall and f1, (two classes only) precision, recall and f1 of ``pos_label``,
        roc_auc and pr_auc. Undefined values are NaN with a ``reason``.
    per_class
        ``class, support`` (examples), then ``precision``, ``recall``, ``f1``, ``roc_auc``,
        ``pr_auc`` each followed by ``<name>_low`` and ``<name>_high``, and ``reason``.
    confusion
        Counts (weights, with ``sample_weight``): rows the true class, columns the predicted one.
    warnings
        Plain sentences: accuracy dominated by a majority class, rare classes, classes never
        predicted.
    lead
        The metrics to show first: on skewed data the rare classes' recall and F1, then macro
        F1; otherwise accuracy.
    """

    overall: pd.DataFrame
    per_class: pd.DataFrame
    confusion: pd.DataFrame
    warnings: list[str]
    lead: list[MetricEstimate]
    skewed: bool
    n: int
    classes: list[Hashable]
    pos_label: Hashable | None
    confidence: float
    n_boot: int

    def metric(self, name: str, label: Hashable | None = None) -> MetricEstimate:
        """One overall metric by name, or a per-class one (``name`` in precision, recall, f1,
        roc_auc, pr_auc) for the class ``label``."""
        if label is None:
            rows = self.overall.loc[self.overall["metric"] == name]
            if rows.empty:
                raise InvalidInputError(
                    f"no overall metric {name!r}",
                    hint=f"Use one of {', '.join(self.overall['metric'])}, or name a class: "
                    f"metric({name!r}, label).",
                )
            row = rows.iloc[0]
            return MetricEstimate(
                name, _opt(row["value"]), _opt(row["low"]), _opt(row["high"]), None, row["reason"]
            )
        if name not in _PER_CLASS:
            raise InvalidInputError(
                f"no per-class metric {name!r}", hint=f"Use one of {', '.join(_PER_CLASS)}."
            )
        position = pd.Index(self.classes, dtype=object).get_indexer([label])[0]
        if position < 0:
            raise InvalidInputError(
                f"{label!r} is not one of the classes",
                hint=f"Use one of {', '.join(map(repr, self.classes[:_MAX_NAMED]))}.",
            )
        row = self.per_class.iloc[position]
        return MetricEstimate(
            name,
            _opt(row[name]),
            _opt(row[f"{name}_low"]),
            _opt(row[f"{name}_high"]),
            self.classes[position],
            row["reason"] if _opt(row[name]) is None else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: settings, warnings, lead and every table (NaN as ``None``)."""
        return {
            "n": self.n,
            "classes": [_json(c) for c in self.classes],
            "pos_label": _json(self.pos_label),
            "skewed": self.skewed,
            "confidence": self.confidence,
            "n_boot": self.n_boot,
            "warnings": list(self.warnings),
            "lead": [estimate.to_dict() for estimate in self.lead],
            "overall": _records(self.overall),
            "per_class": _records(self.per_class),
            "confusion": {
                "classes": [_json(c) for c in self.classes],
                "counts": [[_json(v) for v in row] for row in self.confusion.to_numpy().tolist()],
            },
        }

    def __repr__(self) -> str:
        accuracy = self.metric("accuracy")
        return (
            f"MetricsReport(n={self.n}, classes={len(self.classes)}, accuracy="
            f"{_show(accuracy)}, skewed={self.skewed}, warnings={len(self.warnings)})"
        )


def classification_metrics(
    y_true: Any,
    y_pred: Any = None,
    *,
    pred_probs: Any = None,
    classes: Sequence[Hashable] | None = None,
    pos_label: Hashable | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state: int | np.random.Generator | None = 0,
    sample_weight: Any = None,
) -> MetricsReport:
    """Score predictions with bootstrap intervals, and say so when the classes are skewed.

    Use it on held-out (dev/test or out-of-fold) predictions. Every number comes with an
    interval, so two models, or a model and a human baseline, can be compared honestly.

    Parameters
    ----------
    y_true
        True labels, one per example (strings, integers or any hashable).
    y_pred
        Predicted labels. Optional when ``pred_probs`` is given: then the most probable class.
    pred_probs
        ``(n_examples, n_classes)`` probabilities, columns in the order of ``classes``; or a
        DataFrame with one column per class (named by the class); or, for two classes, the 1-D
        probability of ``classes[1]``. Needed for ROC-AUC and PR-AUC.
    classes
        All classes, in order. Default: the sorted distinct labels of ``y_true`` and ``y_pred``
        (and the columns of a ``pred_probs`` DataFrame). Pass it when a class of the model may
        be absent from the data.
    pos_label
        With two classes, the positive class of the ``precision``/``recall``/``f1``/``roc_auc``/
        ``pr_auc`` rows of ``overall`` (default ``classes[1]``).
    n_boot
        Bootstrap replicates; 0 for point estimates only.
    confidence
        Coverage of the percentile intervals.
    random_state
        Seed or generator for the bootstrap.
    sample_weight
        Optional non-negative weight per example; metrics and intervals are weighted.

    Returns
    -------
    MetricsReport

    Raises
    ------
    InvalidInputError
        Lengths differ, no examples, missing labels, a label outside ``classes``, malformed
        ``pred_probs`` (wrong shape, values outside [0, 1], rows not summing to 1), bad weights or
        parameters.

    Notes
    -----
    Precision, recall and F1 of class *c* are ``TP/predicted``, ``TP/support`` and
    ``2·TP/(support + predicted)``. A class that occurs but is never predicted has precision 0
    (scikit-learn's ``zero_division=0``); a class absent from ``y_true`` has no recall (NaN with
    a reason). Macro averages run over the classes present in ``y_true`` — the same set
    balanced accuracy (= macro recall) uses — and weighted averages weight by support; both equal
    scikit-learn's ``precision_recall_fscore_support(..., zero_division=0)`` with
    ``labels`` = the classes present. ROC-AUC is one-vs-rest per class (ties count one half)
    with the macro mean over classes where it is defined; PR-AUC is average precision (the
    step-wise area, no interpolation) per class and its macro mean; with two classes the
    overall rows are those of ``pos_label``.

    Intervals resample *examples* with replacement (not stratified by class): the class mix
    of an evaluation set is itself sampled, and its uncertainty belongs in the interval. A
    replicate in which a metric is undefined (a rare class not drawn) is left out of that
    metric's percentiles. Confusion cells are drawn as one multinomial (exactly the same
    distribution as drawing examples). AUC replicates of a class with more than 500 distinct
    scores are computed on at most 500 score bins, each holding at most 1/250 of the
    positives and of the negatives (binning moves ROC-AUC by less than 0.002), and shifted by
    the exact minus the binned estimate on the full sample.

    Skew: when the largest class holds ≥ ``SKEW_MAJORITY_SHARE`` (80 %) of the data, a warning
    says accuracy is dominated by it and names the rare classes (share below the majority's /
    ``RARE_CLASS_RATIO``) with their recall and F1; these and macro F1 lead the report.

    References
    ----------
    Efron, B. & Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*, ch. 13.
    Fawcett, T. (2006). An introduction to ROC analysis. *Pattern Recognit. Lett.* 27, 861–874.
    Saito, T. & Rehmsmeier, M. (2015). The precision-recall plot is more informative than the
    ROC plot when evaluating binary classifiers on imbalanced datasets. *PLoS ONE* 10(3).

    Examples
    --------
    >>> y_true = ["cat"] * 6 + ["dog"] * 4
    >>> y_pred = ["cat"] * 5 + ["dog"] * 5
    >>> report = classification_metrics(y_true, y_pred, n_boot=200)
    >>> report.metric("accuracy").value
    0.9
    >>> report.confusion  # doctest: +NORMALIZE_WHITESPACE
    predicted  cat  dog
    true
    cat          5    1
    dog          0    4
    >>> round(report.metric("recall", "cat").value, 3)
    0.833
    """
    _check_options(n_boot, confidence)
    rng = _rng(random_state)
    true = _labels(y_true, "y_true")
    n = len(true)
    if n == 0:
        raise InvalidInputError("y_true is empty", hint="Give at least one labelled example.")
    if y_pred is None and pred_probs is None:
        raise InvalidInputError(
            "nothing to score: give y_pred or pred_probs",
            hint="Pass the model's predicted labels, its probabilities, or both.",
        )
    pred = None if y_pred is None else _same_length(_labels(y_pred, "y_pred"), n, "y_pred")
    columns = list(pred_probs.columns) if isinstance(pred_probs, pd.DataFrame) else []
    order = _classes(
        classes, [true] + ([] if pred is None else [pred]) + [np.array(columns, dtype=object)]
    )
    index = pd.Index(order, dtype=object)
    true_codes = _encode(true, index, "y_true")
    probs = None if pred_probs is None else _probabilities(pred_probs, n, order)
    if pred is not None:
        pred_codes = _encode(pred, index, "y_pred")
    else:
        assert probs is not None  # checked above: y_pred or pred_probs is given
        pred_codes = np.argmax(probs, axis=1)
    weight = _weights(sample_weight, n)
    k = len(order)
    if pos_label is not None and k != 2:
        raise InvalidInputError(
            f"pos_label applies to two classes; there are {k}",
            hint="Drop pos_label; per-class rows give every class's precision and recall.",
        )
    pos = 1 if k == 2 else None
    if pos_label is not None:
        pos = int(index.get_indexer([pos_label])[0])
        if pos < 0:
            raise InvalidInputError(
                f"pos_label {pos_label!r} is not one of the classes {order!r}",
                hint="Pass one of the two classes.",
            )

    cell = true_codes * k + pred_codes
    confusion = np.bincount(cell, weights=weight, minlength=k * k).reshape(k, k)
    point = _rates(np.diag(confusion), confusion.sum(axis=1), confusion.sum(axis=0))
    reps = _count_replicates(cell, k, weight, n_boot=n_boot, rng=rng)
    roc = ap = np.full(k, np.nan)
    roc_reps = ap_reps = np.full((n_boot, k), np.nan)
    if probs is not None:
        roc, ap, roc_reps, ap_reps = _auc_per_class(true_codes, probs, weight, n_boot, rng)
    point |= {"roc_auc": roc, "pr_auc": ap}
    reps |= {"roc_auc": roc_reps, "pr_auc": ap_reps}

    support = np.bincount(true_codes, minlength=k)
    predicted = np.bincount(pred_codes, minlength=k)
    per_class = _per_class_frame(order, support, predicted, point, reps, confidence, probs)
    overall = _overall_frame(point, reps, confidence, pos, probs is not None, order)
    if weight is None:
        confusion = confusion.astype(np.int64)
    confusion_frame = pd.DataFrame(
        confusion,
        index=pd.Index(order, name="true", dtype=object),
        columns=pd.Index(order, name="predicted", dtype=object),
    )
    shares = confusion.sum(axis=1) / confusion.sum()
    skewed, notes, lead = _skew(order, shares, support, predicted, per_class, overall)
    return MetricsReport(
        overall=overall,
        per_class=per_class,
        confusion=confusion_frame,
        warnings=notes,
        lead=lead,
        skewed=skewed,
        n=n,
        classes=order,
        pos_label=None if pos is None else order[pos],
        confidence=float(confidence),
        n_boot=int(n_boot),
    )


def metric_by_group(
    y_true: Any,
    y_pred: Any,
    groups: Any,
    *,
    metric: str = "accuracy",
    classes: Sequence[Hashable] | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state: int | np.random.Generator | None = 0,
) -> pd.DataFrame:
    """One metric per group (slice) of the examples, with a bootstrap interval in each.

    Use it to compare slices — metadata values, tags, binned features — in error analysis.

    Parameters
    ----------
    y_true, y_pred
        True and predicted labels, one per example.
    groups
        Either one group value per example (a Series, array or list, aligned by position; a
        missing value forms a group of its own), or a boolean DataFrame with one column per
        slice, where an example may belong to several slices or to none.
    metric
        ``"accuracy"``, ``"error_rate"``, ``"recall"`` or ``"f1"``; recall and F1 are macro
        averages over the classes present (in ``y_true``) in the group.
    classes, n_boot, confidence, random_state
        As in :func:`classification_metrics`.

    Returns
    -------
    pandas.DataFrame
        ``group, n, value, low, high, reason``: one row per group value (sorted when the values
        sort) or mask column (in column order). A group without examples has NaN and a reason.

    Notes
    -----
    Each group is resampled on its own, keeping its size: a replicate draws the group's
    confusion cells from a multinomial with their shares, for all groups at once (or, when
    cheaper, draws members within each group). Percentile intervals as in
    :func:`classification_metrics`; groups are not adjusted for multiple comparisons.

    References
    ----------
    Efron, B. & Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*, ch. 13.

    Examples
    --------
    >>> metric_by_group(["a", "a", "b", "b"], ["a", "b", "b", "b"], ["x", "x", "y", "y"],
    ...                 n_boot=0)
      group  n  value  low  high reason
    0     x  2    0.5  NaN   NaN   None
    1     y  2    1.0  NaN   NaN   None
    """
    _check_options(n_boot, confidence)
    if metric not in GROUP_METRICS:
        raise InvalidInputError(
            f"metric must be one of {', '.join(GROUP_METRICS)}; got {metric!r}",
            hint='Pass e.g. metric="recall" for macro recall per group.',
        )
    rng = _rng(random_state)
    true = _labels(y_true, "y_true")
    n = len(true)
    if n == 0:
        raise InvalidInputError("y_true is empty", hint="Give at least one labelled example.")
    pred = _same_length(_labels(y_pred, "y_pred"), n, "y_pred")
    order = _classes(classes, [true, pred])
    index = pd.Index(order, dtype=object)
    k = len(order)
    true_codes, pred_codes = _encode(true, index, "y_true"), _encode(pred, index, "y_pred")
    names, member, group = _memberships(groups, n)
    n_groups = len(names)
    totals = _group_totals(group, true_codes[member], pred_codes[member], k, n_groups)
    value = _group_statistic(*totals, metric)
    sizes = totals[1].sum(axis=1)
    if metric in ("accuracy", "error_rate"):
        # a resampled group's hits are Binomial(size, accuracy): O(groups) per replicate
        rate = np.divide(totals[0].sum(axis=1), sizes, out=np.zeros(n_groups), where=sizes > 0)
        hits = rng.binomial(sizes.astype(np.int64), rate, size=(n_boot, n_groups))
        reps = _group_statistic(
            hits[..., None], np.broadcast_to(sizes, hits.shape)[..., None], hits[..., None], metric
        )
    else:
        parts = [
            _group_statistic(*chunk, metric)
            for chunk in _resample_groups(
                group, true_codes[member], pred_codes[member], k, n_groups, n_boot=n_boot, rng=rng
            )
        ]
        reps = np.concatenate(parts) if parts else np.zeros((0, n_groups))
    low, high = _interval(reps, confidence)
    return pd.DataFrame(
        {
            "group": pd.Series(names, dtype=object),
            "n": sizes.astype(np.int64),
            "value": value,
            "low": low,
            "high": high,
            "reason": pd.Series(
                [None if s else "no examples in this group" for s in sizes], dtype=object
            ),
        }
    )


# --------------------------------------------------------------------------- tables and skew


def _per_class_frame(
    order: list[Hashable],
    support: np.ndarray,
    predicted: np.ndarray,
    point: dict[str, np.ndarray],
    reps: dict[str, np.ndarray],
    confidence: float,
    probs: np.ndarray | None,
) -> pd.DataFrame:
    data: dict[str, Any] = {"class": pd.Series(order, dtype=object), "support": support}
    for name in _PER_CLASS:
        low, high = _interval(reps[name], confidence)
        data |= {name: point[name], f"{name}_low": low, f"{name}_high": high}
    reasons = []
    for count, guessed in zip(support, predicted, strict=True):
        parts = []
        if count == 0:
            parts.append("no examples in y_true: recall undefined")
            if guessed == 0:
                parts.append("never predicted either: precision and F1 undefined")
        elif guessed == 0:
            parts.append("never predicted: precision taken as 0 (zero_division=0)")
        if probs is not None and count == 0:
            parts.append("ROC-AUC and PR-AUC undefined without examples of the class")
        elif probs is not None and count == len(probs):
            parts.append("ROC-AUC undefined: every example is of this class")
        reasons.append("; ".join(parts) or None)
    data["reason"] = pd.Series(reasons, dtype=object)
    return pd.DataFrame(data)


def _overall_frame(
    point: dict[str, np.ndarray],
    reps: dict[str, np.ndarray],
    confidence: float,
    pos: int | None,
    has_probs: bool,
    order: list[Hashable],
) -> pd.DataFrame:
    names = ["accuracy", "balanced_accuracy", *_AVERAGED]
    values = [point[m] for m in names]
    replicates = [reps[m] for m in names]
    reasons: list[str | None] = [None] * len(names)
    if pos is not None:
        names += ["precision", "recall", "f1"]
        values += [point[m][pos] for m in ("precision", "recall", "f1")]
        replicates += [reps[m][:, pos] for m in ("precision", "recall", "f1")]
        reasons += [None, None, None]
    for name in ("roc_auc", "pr_auc"):
        names.append(name)
        if pos is not None:
            values.append(point[name][pos])
            replicates.append(reps[name][:, pos])
        else:
            values.append(_nanmean(point[name]))
            replicates.append(_nanmean(reps[name], axis=1))
        reasons.append(None)
    low, high = _interval(np.column_stack(replicates), confidence)
    value = np.array([float(v) for v in values])
    for i, name in enumerate(names):
        if np.isfinite(value[i]):
            continue
        if name in ("roc_auc", "pr_auc") and not has_probs:
            reasons[i] = "needs pred_probs"
        elif name in ("roc_auc", "pr_auc"):
            reasons[i] = "y_true holds a single class: no positives and negatives to rank"
        elif name in ("precision", "recall", "f1") and pos is not None:
            reasons[i] = f"undefined for {order[pos]!r}: it has no examples and no predictions"
        else:
            reasons[i] = "undefined on these data"
    return pd.DataFrame(
        {
            "metric": names,
            "value": value,
            "low": low,
            "high": high,
            "reason": pd.Series(reasons, dtype=object),
        }
    )


def _skew(
    order: list[Hashable],
    shares: np.ndarray,
    support: np.ndarray,
    predicted: np.ndarray,
    per_class: pd.DataFrame,
    overall: pd.DataFrame,
) -> tuple[bool, list[str], list[MetricEstimate]]:
    """Whether the data are skewed, the warnings, and the metrics to lead with."""

    def estimate(name: str, c: int | None = None) -> MetricEstimate:
        if c is None:
            row = overall.loc[overall["metric"] == name].iloc[0]
            return MetricEstimate(name, _opt(row["value"]), _opt(row["low"]), _opt(row["high"]))
        row = per_class.iloc[c]
        values = (_opt(row[name]), _opt(row[f"{name}_low"]), _opt(row[f"{name}_high"]))
        return MetricEstimate(name, *values, label=order[c])

    notes: list[str] = []
    never = [c for c in range(len(order)) if support[c] > 0 and predicted[c] == 0]
    majority = int(np.argmax(shares))
    top = float(shares[majority])
    skewed = len(order) > 1 and top >= SKEW_MAJORITY_SHARE
    lead = [estimate("accuracy")]
    if skewed:
        accuracy = estimate("accuracy")
        macro_f1 = estimate("macro_f1")
        by_share = [int(c) for c in np.argsort(shares, kind="stable")]
        rare = [c for c in by_share if 0 < shares[c] < top / RARE_CLASS_RATIO]
        if not rare:  # e.g. 82/18: no class is rare, but the minority classes still matter most
            rare = [c for c in by_share if shares[c] > 0 and c != majority]
        named = rare[:_MAX_NAMED]
        notes.append(
            f"Class {order[majority]!r} is {top:.1%} of the data, so accuracy ({_show(accuracy)}) "
            f"is dominated by it: always predicting {order[majority]!r} would score {top:.3f}. "
            f"Judge the model by the rare classes' recall and F1 and by macro F1 "
            f"({_show(macro_f1)})."
        )
        described = [
            f"{order[c]!r} ({shares[c]:.1%}, {int(support[c])} examples): recall "
            f"{_show(estimate('recall', c))}, F1 {_show(estimate('f1', c))}"
            for c in named
        ]
        more = f"; and {len(rare) - len(named)} more" if len(rare) > len(named) else ""
        if named:  # none when y_true holds a single class
            notes.append(f"Rare classes: {'; '.join(described)}{more}.")
        lead = [estimate(m, c) for c in named for m in ("recall", "f1")] + [macro_f1]
    for c in never:
        notes.append(
            f"Class {order[c]!r} ({int(support[c])} examples) is never predicted: its recall is 0 "
            "and its precision is taken as 0."
        )
    return skewed, notes, lead


# --------------------------------------------------------------------------- small helpers


def _opt(value: Any) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _json(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _show(estimate: MetricEstimate) -> str:
    if estimate.value is None:
        return "undefined"
    if estimate.low is None or estimate.high is None:
        return f"{estimate.value:.3f}"
    return f"{estimate.value:.3f} [{estimate.low:.3f}, {estimate.high:.3f}]"
