"""Human-level performance: how often a labeler agrees with the consensus of the others.

Leave one labeler out: for every label on an example that has at least one other label, the
labeler's answer is scored against the consensus of the *other* labels on that example. The
agreement rate and macro F1 over all such comparisons estimate the accuracy a careful human
reaches on the task — the baseline that a model, and the error analysis of a model, are held
against. Intervals come from a bootstrap over examples (the comparisons on one example are not
independent, so examples, not comparisons, are resampled).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from dcai._intervals import percentile_interval
from dcai._validate import check_confidence, check_n_boot
from dcai.errors import InvalidInputError, SchemaError
from dcai.labels._annotation_codes import (
    EXAMPLE_ID,
    EncodedAnnotations,
    encode_annotations,
    show,
)
from dcai.labels._consensus import tie_order, vote_winner
from dcai.labels._dawid_skene import fit_em

__all__ = ["HLPReport", "human_level_performance"]

Consensus = Literal["majority", "dawid_skene"]
_CONSENSUS = ("majority", "dawid_skene")
TABLE_COLUMNS = (
    "scope",
    "group",
    "accuracy",
    "low",
    "high",
    "f1",
    "f1_low",
    "f1_high",
    "n",
    "n_items",
)
#: Labels processed at once when computing the others' consensus (bounds memory to ~K × this).
_CHUNK = 200_000
#: Bootstrap replicates drawn at once (bounds memory to this × the number of examples).
_BOOT_CHUNK = 32


@dataclass(frozen=True)
class HLPReport:
    """Human-level performance overall, per class, per metadata group and per labeler.

    ``table`` is tidy: one row per (scope, group) with ``accuracy`` (agreement with the
    others' consensus) and its bootstrap interval ``low``–``high``, macro ``f1`` with
    ``f1_low``–``f1_high``, ``n`` comparisons and ``n_items`` examples. Scopes: ``overall``
    (group ``"all"``), ``class`` (group: the others' consensus class; ``f1`` is that class's
    F1), ``metadata`` (group: a value of the ``by`` column) and ``labeler``.
    """

    table: pd.DataFrame
    consensus: str
    by: str | None
    confidence: float
    n_boot: int
    n_items: int
    n_items_skipped: int
    n_comparisons: int

    def _overall(self) -> pd.Series:
        return self.table.loc[self.table["scope"] == "overall"].iloc[0]

    @property
    def accuracy(self) -> float:
        """Overall agreement of a labeler with the consensus of the others."""
        return float(self._overall()["accuracy"])

    @property
    def f1(self) -> float:
        """Overall macro F1 of a labeler against the consensus of the others."""
        return float(self._overall()["f1"])

    @property
    def interval(self) -> tuple[float, float]:
        """Bootstrap interval of the overall accuracy."""
        row = self._overall()
        return float(row["low"]), float(row["high"])

    def scope(self, name: str) -> pd.DataFrame:
        """The rows of one scope (``overall``, ``class``, ``metadata`` or ``labeler``)."""
        return self.table.loc[self.table["scope"] == name].reset_index(drop=True)

    def to_frame(self) -> pd.DataFrame:
        """The tidy table (a copy), ready to store as the baseline of error analysis."""
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: settings, counts and every row of the table (NaN as ``None``)."""

        def clean(value: Any) -> Any:
            if isinstance(value, float | np.floating):
                return None if math.isnan(value) else float(value)
            if isinstance(value, np.integer):
                return int(value)
            return value

        rows = [
            {key: clean(value) for key, value in row.items()} | {"group": str(row["group"])}
            for row in self.table.to_dict(orient="records")
        ]
        return {
            "consensus": self.consensus,
            "by": self.by,
            "confidence": self.confidence,
            "n_boot": self.n_boot,
            "n_items": self.n_items,
            "n_items_skipped": self.n_items_skipped,
            "n_comparisons": self.n_comparisons,
            "accuracy": clean(self.accuracy),
            "f1": clean(self.f1),
            "interval": [clean(v) for v in self.interval],
            "rows": rows,
        }


def _chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def _others_consensus(enc: EncodedAnnotations, consensus: str) -> np.ndarray:
    """For every label, the consensus class of the *other* labels on its example (-1: none)."""
    k = enc.n_classes
    reference = np.full(enc.n_labels, -1, dtype=np.int64)
    has_others = enc.labels_per_example()[enc.example] > 1
    if consensus == "majority":
        counts = enc.vote_counts()
        rank = tie_order(enc, "most_frequent")
        for part in _chunks(enc.n_labels, _CHUNK):
            others = counts[enc.example[part]].copy()
            others[np.arange(len(others)), enc.label[part]] -= 1
            reference[part] = vote_winner(others, rank)[0]
    else:
        # One fit on every label; each label's own likelihood term is then taken back out, so
        # the reference for a labeler uses the others' labels only (the confusion matrices are
        # those of the full fit).
        fit = fit_em(enc)
        log_w = fit.log_confusion_columns()
        scores = np.asarray(enc.one_hot() @ log_w) + np.log(np.maximum(fit.priors, 1e-300))
        for part in _chunks(enc.n_labels, _CHUNK):
            own = log_w[enc.annotator[part] * k + enc.label[part]]
            reference[part] = (scores[enc.example[part]] - own).argmax(axis=1)
    reference[~has_others] = -1
    return reference


def _percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    low, high = percentile_interval(values, confidence)
    return float(low), float(high)


def _metrics(sums: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """From rows of ``[pairs, agree, tp_1..k, pred_1..k, true_1..k]``: accuracy, macro F1,
    per-class agreement and per-class F1 (NaN where undefined)."""
    pairs, agree = sums[:, 0], sums[:, 1]
    tp, pred, true = sums[:, 2 : 2 + k], sums[:, 2 + k : 2 + 2 * k], sums[:, 2 + 2 * k :]
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = agree / pairs
        denominator = pred + true
        f1_class = np.where(denominator > 0, 2 * tp / denominator, np.nan)
        present = denominator > 0
        macro = np.where(
            present.any(axis=1),
            np.nansum(f1_class, axis=1) / np.maximum(present.sum(axis=1), 1),
            np.nan,
        )
        class_accuracy = np.where(true > 0, tp / true, np.nan)
    return accuracy, macro, class_accuracy, f1_class


def _scope_rows(
    item: np.ndarray,
    given: np.ndarray,
    reference: np.ndarray,
    k: int,
    *,
    rng: np.random.Generator,
    n_boot: int,
    confidence: float,
    per_class: bool,
) -> tuple[dict[str, float], list[dict[str, float]]]:
    """Point estimates and bootstrap intervals (examples resampled) for one set of comparisons."""
    from scipy import sparse

    items, local = np.unique(item, return_inverse=True)
    u = len(items)
    n = len(given)
    agree = (given == reference).astype(np.float64)
    # One sparse row per example: its comparisons, agreements, and per-class TP / predicted /
    # true counts; a bootstrap replicate is a weighting of these rows.
    rows = np.concatenate([local] * 5)
    columns = np.concatenate(
        [
            np.zeros(n, dtype=np.int64),
            np.ones(n, dtype=np.int64),
            2 + reference,
            2 + k + given,
            2 + 2 * k + reference,
        ]
    )
    values = np.concatenate([np.ones(n), agree, agree, np.ones(n), np.ones(n)])
    keep = values != 0
    per_item = sparse.csr_matrix((values[keep], (rows[keep], columns[keep])), shape=(u, 2 + 3 * k))
    totals = np.asarray(per_item.sum(axis=0)).reshape(1, -1)
    accuracy, macro, class_accuracy, f1_class = _metrics(totals, k)
    boot_acc = np.full(n_boot, np.nan)
    boot_f1 = np.full(n_boot, np.nan)
    boot_class_acc = np.full((n_boot, k), np.nan)
    boot_class_f1 = np.full((n_boot, k), np.nan)
    for part in _chunks(n_boot, _BOOT_CHUNK):
        b = part.stop - part.start
        draws = rng.integers(0, u, size=(b, u)) + (np.arange(b) * u)[:, None]
        weights = np.bincount(draws.ravel(), minlength=b * u).reshape(b, u).astype(np.float64)
        sums = np.asarray(weights @ per_item)
        a, f, ca, cf = _metrics(sums, k)
        boot_acc[part], boot_f1[part] = a, f
        if per_class:
            boot_class_acc[part], boot_class_f1[part] = ca, cf
    low, high = _percentile_interval(boot_acc, confidence)
    f1_low, f1_high = _percentile_interval(boot_f1, confidence)
    overall = {
        "accuracy": float(accuracy[0]),
        "low": low,
        "high": high,
        "f1": float(macro[0]),
        "f1_low": f1_low,
        "f1_high": f1_high,
        "n": n,
        "n_items": u,
    }
    classes: list[dict[str, float]] = []
    if per_class:
        ref_items = np.bincount(
            np.unique(local * k + reference) % k, minlength=k
        )  # examples with at least one comparison whose reference is each class
        for c in range(k):
            c_low, c_high = _percentile_interval(boot_class_acc[:, c], confidence)
            f_low, f_high = _percentile_interval(boot_class_f1[:, c], confidence)
            classes.append(
                {
                    "accuracy": float(class_accuracy[0, c]),
                    "low": c_low,
                    "high": c_high,
                    "f1": float(f1_class[0, c]),
                    "f1_low": f_low,
                    "f1_high": f_high,
                    "n": int(totals[0, 2 + 2 * k + c]),
                    "n_items": int(ref_items[c]),
                }
            )
    return overall, classes


def _check_options(consensus: Any, n_boot: Any, confidence: Any, metadata: Any, by: Any) -> None:
    if consensus not in _CONSENSUS:
        raise InvalidInputError(
            f"consensus must be one of {', '.join(map(repr, _CONSENSUS))}; got {consensus!r}",
            hint="Use 'majority' unless labelers differ a lot in skill.",
        )
    check_n_boot(n_boot)
    check_confidence(confidence)
    if (metadata is None) != (by is None):
        raise InvalidInputError(
            "metadata and by go together",
            hint="Pass metadata (a DataFrame with example_id) and by (one of its columns).",
        )
    if metadata is not None:
        if not isinstance(metadata, pd.DataFrame):
            raise InvalidInputError(
                f"metadata must be a DataFrame; got {type(metadata).__name__}",
                hint="Give a DataFrame with example_id and the column named by `by`.",
            )
        for column in (EXAMPLE_ID, by):
            if column not in metadata.columns:
                raise SchemaError(
                    "metadata has no such column",
                    column=str(column),
                    hint=f"Columns: {', '.join(map(str, metadata.columns))}.",
                )


def _groups(metadata: pd.DataFrame, by: str, enc: EncodedAnnotations) -> np.ndarray:
    """The ``by`` value of each annotated example (NaN where missing from ``metadata``)."""
    dup = metadata[EXAMPLE_ID].duplicated(keep=False).to_numpy()
    if dup.any():
        raise SchemaError(
            "metadata has repeated example ids",
            column=EXAMPLE_ID,
            rows=[int(i) + 1 for i in np.flatnonzero(dup)],
            hint="Give one row per example.",
        )
    index = pd.Index(metadata[EXAMPLE_ID])
    position = index.get_indexer(enc.example_ids)
    if (position < 0).all() and len(enc.example_ids):
        # Ids read from a file are strings; the caller's metadata may hold integers.
        position = pd.Index(metadata[EXAMPLE_ID].astype(str)).get_indexer(
            pd.Index(enc.example_ids).astype(str)
        )
    missing = position < 0
    if missing.any():
        shown = ", ".join(show(v) for v in enc.example_ids[missing][:5])
        raise InvalidInputError(
            f"metadata has no row for {int(missing.sum())} annotated example(s) ({shown})",
            column=EXAMPLE_ID,
            hint="Give metadata for every annotated example.",
        )
    values: np.ndarray = metadata[by].to_numpy()[position]
    return values


def human_level_performance(
    annotations: pd.DataFrame,
    *,
    consensus: Consensus = "majority",
    metadata: pd.DataFrame | None = None,
    by: str | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state: int | np.random.Generator | None = 0,
) -> HLPReport:
    """Estimate human-level performance by scoring each labeler against the others.

    Use it to set the baseline a model is held against, and to see where humans themselves
    disagree (per class, per metadata group) and which labelers stray from the rest.

    Parameters
    ----------
    annotations
        Long-form annotations: ``example_id, annotator, label``.
    consensus
        How the other labels on an example are combined into a reference: ``"majority"``
        (default; ties go to the class labelled most often in the whole data set, then class
        order) or ``"dawid_skene"`` (the posterior of the other labels under a Dawid–Skene fit
        on all labels).
    metadata, by
        Optional: a DataFrame with ``example_id`` and a column ``by`` whose values define the
        groups of the ``metadata`` scope (examples whose value is missing are left out of it).
    n_boot
        Bootstrap replicates for the intervals (0: no intervals, reported as NaN).
    confidence
        Coverage of the percentile intervals.
    random_state
        Seed of the bootstrap.

    Returns
    -------
    HLPReport
        ``accuracy``, ``f1`` and ``interval`` overall; ``to_frame()`` is the tidy table of every
        scope.

    Raises
    ------
    InvalidInputError
        Bad annotations (see :func:`dcai.labels.majority_vote`), bad options, metadata without
        a row for an annotated example, or no example with two or more labels.

    Notes
    -----
    A comparison is one label on an example with at least one other label; examples with a
    single label are skipped and counted (``n_items_skipped``). Per class, the group is the
    *others'* consensus class, ``accuracy`` is the share of its comparisons the labeler agreed
    with (a recall) and ``f1`` is that class's F1; macro F1 averages the per-class F1 over the
    classes that occur as reference or answer. Per labeler, only that labeler's comparisons.
    Intervals are percentile bootstrap intervals that resample examples with replacement
    within each scope and group (Efron & Tibshirani 1993), since comparisons on one example
    share a reference. With ``consensus="dawid_skene"`` the confusion matrices are fitted once
    on all labels (so the left-out label has a small influence on the others' weights); the
    left-out label's own term is removed from the posterior.

    Measuring human-level performance as a proxy for the Bayes error, by comparing one
    labeler with others, is the practice taught in Ng's *Machine Learning Yearning* (2018) and
    the DeepLearning.AI course *Machine Learning Engineering for Production (MLOps)*.

    References
    ----------
    Efron, B., & Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*. Chapman & Hall.

    Ng, A. (2018). *Machine Learning Yearning*, chapters 33–35 (comparing to human-level
    performance).

    Examples
    --------
    >>> import pandas as pd
    >>> ann = pd.DataFrame({"example_id": [1, 1, 1, 2, 2, 3],
    ...                     "annotator": ["ann", "bo", "cy", "ann", "bo", "ann"],
    ...                     "label": ["cat", "cat", "dog", "dog", "dog", "cat"]})
    >>> report = human_level_performance(ann, n_boot=200)
    >>> report.accuracy, report.n_comparisons, report.n_items_skipped
    (0.8, 5, 1)
    >>> report.scope("labeler")[["group", "accuracy", "n"]]
      group  accuracy  n
    0   ann       1.0  2
    1    bo       1.0  2
    2    cy       0.0  1
    """
    _check_options(consensus, n_boot, confidence, metadata, by)
    enc = encode_annotations(annotations)
    rng = np.random.default_rng(random_state)
    groups = _groups(metadata, str(by), enc) if metadata is not None else None
    reference = _others_consensus(enc, consensus)
    compared = reference >= 0
    per_example = enc.labels_per_example()
    n_skipped = int((per_example == 1).sum())
    if not compared.any():
        raise InvalidInputError(
            "no example has two or more labels, so no labeler can be compared with others",
            hint="Have some examples labelled by at least two labelers.",
        )
    item = enc.example[compared]
    given = enc.label[compared]
    ref = reference[compared]
    who = enc.annotator[compared]
    k = enc.n_classes

    def score(
        mask: np.ndarray | slice, *, per_class: bool = False
    ) -> tuple[dict[str, float], list[dict[str, float]]]:
        return _scope_rows(
            item[mask],
            given[mask],
            ref[mask],
            k,
            rng=rng,
            n_boot=int(n_boot),
            confidence=float(confidence),
            per_class=per_class,
        )

    rows: list[dict[str, Any]] = []
    overall, classes = score(slice(None), per_class=True)
    rows.append({"scope": "overall", "group": "all", **overall})
    for c, stats in enumerate(classes):
        if stats["n"] > 0:
            rows.append({"scope": "class", "group": enc.classes[c], **stats})
    if groups is not None:
        values = groups[item]
        present = np.flatnonzero(~pd.isna(values))
        codes, uniques = pd.factorize(values[present], sort=True)
        for g, value in enumerate(uniques):
            rows.append({"scope": "metadata", "group": value, **score(present[codes == g])[0]})
    for a, annotator in enumerate(enc.annotator_ids):
        mask = who == a
        if mask.any():
            rows.append({"scope": "labeler", "group": annotator, **score(mask)[0]})
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    table["group"] = table["group"].astype(object)
    table[["n", "n_items"]] = table[["n", "n_items"]].astype(np.int64)
    return HLPReport(
        table=table,
        consensus=consensus,
        by=by,
        confidence=float(confidence),
        n_boot=int(n_boot),
        n_items=len(np.unique(item)),
        n_items_skipped=n_skipped,
        n_comparisons=int(compared.sum()),
    )
