"""How much do labelers agree, on which classes, and who disagrees with whom: the agreement report.

:func:`agreement_report` takes the long annotation table (``example_id, annotator, label``, any
number of labelers per example) and returns an :class:`AgreementReport`: the four standard
statistics with percentile bootstrap intervals over examples, per-class specific agreement,
every labeler pair, each labeler against the others' majority, the classes most mixed up, and
the most disputed examples. :func:`agreement_by` compares them across guideline versions (or
any other column). The statistics themselves live in :mod:`dcai.labels._agreement_stats`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dcai.labels._agreement_bootstrap import (
    PairTable,
    bootstrap,
    cohen_design,
    pair_table,
    pairs_frame,
    pattern_keys,
    percentile_interval,
)
from dcai.labels._agreement_input import (
    Encoded,
    check_parameters,
    encode_annotations,
    make_rng,
)
from dcai.labels._agreement_kernels import (
    Design,
    ItemCounts,
    Level,
    Sums,
    add_agreement_blocks,
    add_alpha_blocks,
    add_fleiss_blocks,
    alpha_from,
    check_level,
    fleiss_from,
    item_counts,
    modal_raters,
    percent_from,
    specific_from,
)
from dcai.labels._agreement_stats import specific_frame
from dcai.labels._agreement_tables import annotator_frame, confusion_frame, disagreement_frame

__all__ = [
    "STATISTICS",
    "AgreementReport",
    "Estimate",
    "agreement_report",
    "build_report",
    "records",
]

STATISTICS = ("percent_agreement", "cohen_kappa", "fleiss_kappa", "krippendorff_alpha")


def _json(value: Any) -> Any:
    """A plain Python value for JSON: numpy scalars unwrapped, NaN/NaT as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NaT or value is pd.NA:
        return None
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _json(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _optional(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


@dataclass(frozen=True)
class Estimate:
    """A statistic with its percentile bootstrap interval.

    ``value`` is None when the statistic is undefined on these data, and ``reason`` says why;
    ``low``/``high`` are None without a bootstrap (``n_boot=0``) or when no replicate is
    defined. ``n_items`` counts the examples it is computed on; ``note`` records a caveat
    (e.g. the subset Fleiss' kappa used).
    """

    value: float | None
    low: float | None = None
    high: float | None = None
    n_items: int = 0
    reason: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"value", "low", "high", "n_items", "reason", "note"}``."""
        return {
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "n_items": self.n_items,
            "reason": self.reason,
            "note": self.note,
        }


@dataclass(frozen=True, eq=False, repr=False)
class AgreementReport:
    """Inter-annotator agreement of one annotation table; built by :func:`agreement_report`.

    Attributes
    ----------
    n_items, n_annotators, n_labels
        Examples with ≥ 2 labels (the ones agreement is measured on), distinct labelers, labels.
    percent_agreement, cohen_kappa, fleiss_kappa, krippendorff_alpha
        :class:`Estimate` objects. ``cohen_kappa`` is the mean over labeler pairs with at least
        ``min_common`` common examples; ``fleiss_kappa`` uses the examples with the most
        common number of labels (its ``note`` says how many).
    per_class
        ``class, specific_agreement, low, high, n_assignments, note``.
    pairs
        ``annotator_a, annotator_b, n_common, percent_agreement, cohen_kappa, note``.
    confusion
        Class × class counts of ordered pairs of labels from different labelers on the same
        example (symmetric; the diagonal counts agreeing pairs).
    annotators
        ``annotator, n_labels, n_compared, consensus_accuracy, consensus_kappa, note``: each
        labeler against the majority of the *other* labelers of the same examples.
    disagreements
        ``example_id, n_labels, n_distinct, label_counts, score``: the most disputed examples.
    """

    n_items: int
    n_annotators: int
    n_labels: int
    level: str
    classes: tuple[Any, ...]
    percent_agreement: Estimate
    cohen_kappa: Estimate
    fleiss_kappa: Estimate
    krippendorff_alpha: Estimate
    per_class: pd.DataFrame
    pairs: pd.DataFrame
    confusion: pd.DataFrame
    annotators: pd.DataFrame
    disagreements: pd.DataFrame
    n_boot: int = 0
    confidence: float = 0.95
    parameters: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name).value:.3f}"
            if getattr(self, name).value is not None
            else f"{name}=None"
            for name in STATISTICS
        )
        return (
            f"AgreementReport(n_items={self.n_items}, n_annotators={self.n_annotators}, "
            f"n_labels={self.n_labels}, {shown})"
        )

    def summary(self) -> pd.DataFrame:
        """The four statistics as rows: ``statistic, value, low, high, n_items, reason, note``."""
        return pd.DataFrame(
            [{"statistic": name, **getattr(self, name).to_dict()} for name in STATISTICS]
        )

    def confused_pairs(self, top: int = 10) -> pd.DataFrame:
        """The class pairs labelers mix up most: ``class_a, class_b, n_pairs, share``.

        ``n_pairs`` counts pairs of labels (different labelers, same example) that split
        between the two classes; ``share`` is its part of all disagreeing pairs.
        """
        counts = self.confusion.to_numpy()
        upper_a, upper_b = np.triu_indices(len(counts), k=1)
        n = counts[upper_a, upper_b]
        total = n.sum()
        order = np.lexsort((upper_b, upper_a, -n))
        order = order[n[order] > 0][: max(int(top), 0)]
        classes = list(self.confusion.index)
        return pd.DataFrame(
            {
                "class_a": pd.Series([classes[i] for i in upper_a[order]], dtype=object),
                "class_b": pd.Series([classes[i] for i in upper_b[order]], dtype=object),
                "n_pairs": n[order].astype(np.int64),
                "share": n[order] / total if total else np.zeros(len(order)),
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data.

        Scalars statistics are objects ``{"value", "low", "high", "n_items", "reason",
        "note"}``; tables are lists of records (NaN becomes None); ``confusion`` is
        ``{"classes": [...], "counts": [[...]]}``.
        """
        return {
            "n_items": self.n_items,
            "n_annotators": self.n_annotators,
            "n_labels": self.n_labels,
            "level": self.level,
            "classes": [_json(c) for c in self.classes],
            "n_boot": self.n_boot,
            "confidence": self.confidence,
            **{name: getattr(self, name).to_dict() for name in STATISTICS},
            "per_class": records(self.per_class),
            "pairs": records(self.pairs),
            "annotators": records(self.annotators),
            "confusion": {
                "classes": [_json(c) for c in self.confusion.index],
                "counts": self.confusion.to_numpy().astype(int).tolist(),
            },
            "confused_pairs": records(self.confused_pairs()),
            "disagreements": records(self.disagreements),
            "parameters": {k: _json(v) for k, v in self.parameters.items()},
        }


# --------------------------------------------------------------------------- the report


def agreement_report(
    annotations: pd.DataFrame,
    *,
    classes: Sequence[Any] | None = None,
    level: Level = "nominal",
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state: int | np.random.Generator | None = 0,
    top_disagreements: int = 20,
    min_common: int = 10,
) -> AgreementReport:
    """Measure how much labelers agree, where, and with whom, from the long annotation table.

    Use it before trusting multiply-labelled data or writing guidelines: low specific
    agreement on a class, a confused class pair or a labeler far from the others' majority
    points to the instructions or the labeler to fix; :attr:`AgreementReport.disagreements`
    are worked examples to paste into the guideline.

    Parameters
    ----------
    annotations
        Columns ``example_id, annotator, label`` (others ignored); any number of labelers per
        example. A row with a missing label counts as no label.
    classes
        All classes, in order (the order matters for ``level="ordinal"``); labels outside them
        are refused. Default: the sorted distinct labels.
    level
        Metric for Krippendorff's alpha only — ``"nominal"``, ``"ordinal"`` or ``"interval"``
        (numeric labels). Kappas, percent and specific agreement always treat labels as
        categories.
    n_boot
        Bootstrap replicates (examples resampled with replacement); 0 skips intervals.
    confidence
        Coverage of the percentile intervals.
    random_state
        Seed or generator for the bootstrap.
    top_disagreements
        Rows of :attr:`AgreementReport.disagreements`.
    min_common
        Labeler pairs with fewer common examples are listed but left out of the mean kappa.

    Returns
    -------
    AgreementReport

    Raises
    ------
    InvalidInputError
        Not a DataFrame, a missing column (:class:`~dcai.errors.SchemaError`), empty example
        ids or annotators, a repeated (example_id, annotator) pair, fewer than two annotators,
        labels outside ``classes``, non-numeric labels for ``"interval"``, bad parameters.

    Notes
    -----
    Statistics are computed on the examples with ≥ 2 labels. Undefined statistics (no such
    example; a single class, so chance agreement is 1) are ``Estimate(None, reason=...)``.
    Fleiss' kappa needs the same number of labels per example: it uses the examples with the
    most common number (ties: the larger), and says so in its ``note``. Each interval is a
    percentile bootstrap over examples; a replicate costs O(examples), or O(distinct label
    patterns) when examples repeat, so 1,000 replicates of a million labels take seconds.

    References
    ----------
    Cohen (1960); Fleiss (1971); Krippendorff (2011); Cicchetti & Feinstein (1990) — see the
    functions in :mod:`dcai.labels`. Efron, B. & Tibshirani, R. (1993). *An Introduction to the
    Bootstrap*, ch. 13 (percentile intervals).

    Examples
    --------
    >>> rows = [(i, who, lab) for i, labs in enumerate(
    ...     ["aab", "aaa", "bbb", "abb", "aaa", "bba", "ccc", "cca", "bbb", "aaa", "ccb", "ccc"])
    ...     for who, lab in zip(["ann", "bo", "cy"], labs)]
    >>> report = agreement_report(pd.DataFrame(rows, columns=["example_id", "annotator", "label"]),
    ...                           n_boot=200)
    >>> round(report.krippendorff_alpha.value, 3), round(report.fleiss_kappa.value, 3)
    (0.591, 0.579)
    >>> report.disagreements["label_counts"].iloc[0]
    'a×2, b×1'
    """
    level = check_level(level)  # type: ignore[assignment]
    check_parameters(n_boot, confidence, top_disagreements, min_common)
    encoded = encode_annotations(annotations, classes, level)
    rng = make_rng(random_state)
    return build_report(
        encoded,
        level=level,
        n_boot=int(n_boot),
        confidence=float(confidence),
        rng=rng,
        top_disagreements=int(top_disagreements),
        min_common=int(min_common),
    )


def build_report(
    enc: Encoded,
    *,
    level: str,
    n_boot: int,
    confidence: float,
    rng: np.random.Generator,
    top_disagreements: int,
    min_common: int,
) -> AgreementReport:
    """The report from encoded annotations (validated by the caller)."""
    k = len(enc.classes)
    n_all = len(enc.item_ids)
    counts = item_counts(enc.item, enc.cls, n_all, k)
    n = counts.n_items
    # label rows on pairable examples, examples re-indexed 0..n-1
    pairable_index = np.full(n_all, -1, dtype=np.int64)
    pairable_index[counts.kept] = np.arange(n)
    on_pairable = pairable_index[enc.item] >= 0
    r_item = pairable_index[enc.item[on_pairable]]
    r_annotator, r_cls = enc.annotator[on_pairable], enc.cls[on_pairable]

    stats = _class_statistics(counts, enc.classes, level, enc.values, n_boot, confidence, rng)
    pairs = pair_table(r_item, r_annotator, r_cls, len(enc.annotators), k)
    cohen = _mean_cohen(
        pairs,
        (r_item, r_annotator, r_cls),
        n,
        k,
        len(enc.annotators),
        min_common,
        n_boot,
        confidence,
        rng,
    )
    return AgreementReport(
        n_items=n,
        n_annotators=len(enc.annotators),
        n_labels=len(enc.item),
        level=level,
        classes=tuple(enc.classes),
        percent_agreement=stats["percent"],
        cohen_kappa=cohen,
        fleiss_kappa=stats["fleiss"],
        krippendorff_alpha=stats["alpha"],
        per_class=stats["per_class"],
        pairs=pairs_frame(pairs, enc.annotators, min_common),
        confusion=confusion_frame(counts, enc.classes),
        annotators=annotator_frame(
            enc.annotators, enc.annotator, counts, r_item, r_annotator, r_cls
        ),
        disagreements=disagreement_frame(counts, enc.item_ids, enc.classes, top_disagreements),
        n_boot=n_boot,
        confidence=confidence,
        parameters={"min_common": min_common, "level": level},
    )


_NO_PAIRS = "no example has labels from two or more annotators"


def _class_statistics(
    counts: ItemCounts,
    classes: list[Any],
    level: str,
    values: np.ndarray | None,
    n_boot: int,
    confidence: float,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Percent, Fleiss, alpha and per-class specific agreement, with bootstrap intervals."""
    n, k = counts.n_items, counts.n_classes
    raters = modal_raters(counts.m)
    design = Design(n)
    add_agreement_blocks(design, counts)
    pair_c, pair_k = add_alpha_blocks(design, counts, level, values)
    add_fleiss_blocks(design, counts, raters)

    def statistic(sums: Sums) -> np.ndarray:
        return np.column_stack(
            [
                percent_from(sums),
                fleiss_from(sums, raters),
                alpha_from(sums, level, pair_c, pair_k),
                specific_from(sums),
            ]
        )

    point = statistic(design.totals())[0]
    low = high = np.full(len(point), np.nan)
    if n_boot and n:
        keys = pattern_keys(counts.item, counts.cls, counts.cnt, n, int(counts.m.max()) + 1, k)
        low, high = percentile_interval(
            bootstrap(design, keys, statistic, n_boot=n_boot, rng=rng), confidence
        )

    n_fleiss = int((counts.m == raters).sum())
    fleiss_note = (
        f"on the {n_fleiss} of {n} examples with {raters} labels (the most common number): "
        "Fleiss' kappa needs the same number of labels per example"
        if n_fleiss < n
        else None
    )
    reasons = {
        "percent": _NO_PAIRS,
        "fleiss": "every label on these examples is the same class: chance agreement is 1",
        "alpha": "all pairable labels have the same value: expected disagreement is 0",
    }
    out: dict[str, Any] = {}
    for column, name, used, note in (
        (0, "percent", n, None),
        (1, "fleiss", n_fleiss, fleiss_note),
        (2, "alpha", n, None),
    ):
        out[name] = _estimate(
            point[column],
            low[column],
            high[column],
            used,
            note,
            _NO_PAIRS if n == 0 else reasons[name],
        )
    per_class = specific_frame(classes, point[3:], _class_totals(counts))
    per_class.insert(2, "low", low[3:])
    per_class.insert(3, "high", high[3:])
    out["per_class"] = per_class
    return out


def _class_totals(counts: ItemCounts) -> np.ndarray:
    return np.bincount(counts.cls, weights=counts.cnt, minlength=counts.n_classes)


def _estimate(
    value: float, low: float, high: float, n_items: int, note: str | None, reason: str
) -> Estimate:
    if not np.isfinite(value):
        return Estimate(None, n_items=n_items, reason=reason, note=note)
    return Estimate(float(value), _optional(low), _optional(high), n_items=n_items, note=note)


def _mean_cohen(
    pairs: PairTable,
    rows: tuple[np.ndarray, np.ndarray, np.ndarray],
    n: int,
    k: int,
    n_annotators: int,
    min_common: int,
    n_boot: int,
    confidence: float,
    rng: np.random.Generator,
) -> Estimate:
    """Mean Cohen's kappa over labeler pairs with ≥ ``min_common`` common examples."""
    if n == 0:
        return Estimate(None, reason=_NO_PAIRS)
    enough = pairs.n_common >= min_common
    included = enough & np.isfinite(pairs.kappa)
    if not included.any():
        reason = (
            f"no labeler pair has {min_common} or more common examples (min_common)"
            if not enough.any()
            else "kappa is undefined for every labeler pair with enough common examples: "
            "each pair used one and the same class"
        )
        return Estimate(None, n_items=0, reason=reason)
    used = int(included.sum())
    n_used = len(np.unique(pairs.row_item[included[pairs.row_pair]]))
    note = f"mean over {used} of {len(included)} labeler pairs"
    if used < len(included):
        note += f" (left out: fewer than {min_common} common examples, or kappa undefined)"
    low = high = np.nan
    if n_boot:
        r_item, r_annotator, r_cls = rows
        design, statistic = cohen_design(pairs, included, n, k)
        keys = pattern_keys(r_item, r_annotator, r_cls + 1, n, k + 1, n_annotators)
        replicates = bootstrap(design, keys, statistic, n_boot=n_boot, rng=rng)
        low, high = (float(v) for v in percentile_interval(replicates, confidence))
    value = float(np.mean(pairs.kappa[included]))
    return Estimate(value, _optional(low), _optional(high), n_items=n_used, note=note)
