"""Inter-annotator agreement statistics: kappas, Krippendorff's alpha, percent and specific agreement.

Pure functions on arrays and DataFrames; no workspace. Three input layouts:

- ``a``, ``b``: two labelers' labels for the same items (:func:`cohen_kappa`);
- ``counts``: an items × classes table of how many labelers gave each class to each item
  (:func:`fleiss_kappa`, :func:`percent_agreement`, :func:`specific_agreement`;
  :func:`count_labels` builds it);
- ``reliability_data``: items × labelers, one label per cell, ``None``/``NaN`` where a labeler
  did not label the item (:func:`krippendorff_alpha`, :func:`count_labels`). This is the
  transpose of the ``krippendorff`` package's layout (coders × units): rows are examples, as
  everywhere in dcai.

Undefined statistics are never returned as NaN: each function raises
:class:`~dcai.errors.InvalidInputError` saying why (no item with two labels, a single class so
that chance agreement is 1, …); :func:`dcai.labels.agreement_report` turns the same cases into
``None`` with a ``reason``. The computations share :mod:`dcai.labels._agreement_kernels` with
the report, so both give the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from dcai.errors import InvalidInputError
from dcai.labels._agreement_kernels import (
    Design,
    Level,
    add_agreement_blocks,
    add_alpha_blocks,
    add_fleiss_blocks,
    alpha_from,
    as_numbers,
    check_level,
    fleiss_from,
    item_counts,
    modal_raters,
    percent_from,
    rows_of,
    sorted_values,
    specific_from,
    table_counts,
)

__all__ = [
    "cohen_kappa",
    "count_labels",
    "fleiss_kappa",
    "krippendorff_alpha",
    "percent_agreement",
    "specific_agreement",
]


# --------------------------------------------------------------------------- input checks


def _as_1d(values: Any, name: str) -> np.ndarray:
    if isinstance(values, pd.Series | pd.Index):
        values = values.to_numpy(dtype=object)
    array = np.asarray(values, dtype=object)
    if array.ndim != 1:
        raise InvalidInputError(
            f"{name} must be one label per item (1-D); got shape {array.shape}",
            hint="Pass each labeler's labels as a list, array or Series.",
        )
    return array


def as_counts_table(counts: Any, name: str = "counts") -> tuple[np.ndarray, list[Any]]:
    """Validate an items × classes table of non-negative integer counts; return it and the classes."""
    classes: list[Any] | None = None
    if isinstance(counts, pd.DataFrame):
        classes = list(counts.columns)
        counts = counts.to_numpy()
    try:
        table = np.asarray(counts, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{name} must hold numbers (label counts per item and class): {exc}",
            hint="Build the table with dcai.labels.count_labels(reliability_data).",
        ) from exc
    if table.ndim != 2 or table.shape[1] == 0:
        raise InvalidInputError(
            f"{name} must be a 2-D items × classes table; got shape {table.shape}",
            hint="Build the table with dcai.labels.count_labels(reliability_data).",
        )
    bad = ~np.isfinite(table).all(axis=1) | (table < 0).any(axis=1)
    bad |= (np.isfinite(table) & (table != np.round(table))).any(axis=1)
    if bad.any():
        raise InvalidInputError(
            f"{name} must hold non-negative whole numbers; {int(bad.sum())} row(s) do not",
            rows=rows_of(bad),
            hint="Each cell counts the labelers who gave that class to that item.",
        )
    return table, classes if classes is not None else list(range(table.shape[1]))


def _reliability_long(reliability_data: Any) -> tuple[np.ndarray, np.ndarray, int, Any]:
    """(item index, value) of every present cell of an items × labelers table, and the index."""
    index = None
    if isinstance(reliability_data, pd.DataFrame):
        index = reliability_data.index
        reliability_data = reliability_data.to_numpy(dtype=object)
    array = np.asarray(reliability_data, dtype=object)
    if array.ndim != 2:
        raise InvalidInputError(
            f"reliability_data must be a 2-D items × labelers table; got shape {array.shape}",
            hint="One row per item, one column per labeler, None/NaN where a labeler gave no label "
            "(transpose the krippendorff package's coders × units layout).",
        )
    present = ~pd.isna(array)
    item, _ = np.nonzero(present)
    return item.astype(np.int64), array[present], array.shape[0], index


def codes_for(
    values: np.ndarray, classes: Sequence[Any] | None, *, what: str
) -> tuple[np.ndarray, list[Any]]:
    """Encode ``values`` as indices into ``classes`` (sorted distinct values when omitted)."""
    order = list(classes) if classes is not None else sorted_values(values)
    index = pd.Index(order, dtype=object)
    if not index.is_unique:
        raise InvalidInputError(
            f"{what} lists a value more than once", hint=f"Give each value once ({what})."
        )
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    position = index.get_indexer(pd.Index(uniques, dtype=object))
    if (position < 0).any():
        unknown = (position < 0)[codes]
        shown = ", ".join(repr(v) for v in uniques[position < 0][:5])
        raise InvalidInputError(
            f"{int(unknown.sum())} label(s) are not among the {what}: {shown}",
            hint=f"Add them to the {what} or fix the labels.",
        )
    return np.asarray(position[codes], dtype=np.int64), order


# --------------------------------------------------------------------------- public statistics


def count_labels(reliability_data: Any, *, classes: Sequence[Any] | None = None) -> pd.DataFrame:
    """Turn items × labelers labels into the items × classes count table of the kappa family.

    Parameters
    ----------
    reliability_data
        One row per item, one column per labeler, ``None``/``NaN`` where a labeler gave no label.
    classes
        The classes, in column order; by default the sorted distinct labels. Labels outside
        them are refused.

    Returns
    -------
    DataFrame
        ``counts.loc[item, c]``: how many labelers gave class ``c`` to the item.

    Examples
    --------
    >>> count_labels([["cat", "cat", None], ["cat", "dog", "dog"]])
       cat  dog
    0    2    0
    1    1    2
    """
    item, values, n_items, index = _reliability_long(reliability_data)
    codes, order = codes_for(values, classes, what="classes")
    table = np.zeros((n_items, len(order)), dtype=np.int64)
    np.add.at(table, (item, codes), 1)
    return pd.DataFrame(table, index=index, columns=pd.Index(order, dtype=object))


def cohen_kappa(a: Any, b: Any) -> float:
    """Cohen's kappa of two labelers on the items both labelled: agreement beyond chance.

    Use it for a pair of labelers with nominal labels; for more labelers or missing labels in
    general prefer :func:`krippendorff_alpha`. Items where either label is missing
    (``None``/``NaN``) are left out. Matches ``sklearn.metrics.cohen_kappa_score`` (unweighted).

    Parameters
    ----------
    a, b
        The two labelers' labels, one per item, same length; ``None``/``NaN`` for no label.

    Returns
    -------
    float
        ``κ = (p_o − p_e) / (1 − p_e)`` in [−1, 1]; 1 is perfect agreement, 0 chance level.

    Raises
    ------
    InvalidInputError
        Different lengths; no item labelled by both (undefined); or both labelers use one and
        the same class on every common item, so chance agreement ``p_e`` is 1 and κ is 0/0.

    Notes
    -----
    ``p_o`` is the share of common items with equal labels; ``p_e = Σ_c p_a(c) p_b(c)``, the
    agreement expected if each labeler drew labels independently from their own class shares.

    References
    ----------
    Cohen, J. (1960). A coefficient of agreement for nominal scales. *Educational and
    Psychological Measurement*, 20(1), 37–46.

    Examples
    --------
    >>> cohen_kappa(["cat", "cat", "dog", "dog"], ["cat", "dog", "dog", "dog"])
    0.5
    >>> cohen_kappa(["cat", None, "dog"], ["cat", "dog", "dog"])
    1.0
    """
    first, second = _as_1d(a, "a"), _as_1d(b, "b")
    if len(first) != len(second):
        raise InvalidInputError(
            f"a has {len(first)} labels but b has {len(second)}",
            hint="Give one label per item for both labelers, None where a labeler gave none.",
        )
    both = ~pd.isna(first) & ~pd.isna(second)
    n = int(both.sum())
    if n == 0:
        raise InvalidInputError(
            "Cohen's kappa is undefined: no item is labelled by both labelers",
            hint="Compare labelers who labelled some of the same items.",
        )
    codes, uniques = pd.factorize(np.concatenate([first[both], second[both]]))
    k = len(uniques)
    code_a, code_b = codes[:n], codes[n:]
    chance = int(np.dot(np.bincount(code_a, minlength=k), np.bincount(code_b, minlength=k)))
    agree = int((code_a == code_b).sum())
    if chance == n * n:
        raise InvalidInputError(
            f"Cohen's kappa is undefined: both labelers give the single class {uniques[0]!r} on all "
            f"{n} common items, so chance agreement is 1 and kappa is 0/0",
            hint="Report percent agreement instead, or add items where other classes occur.",
        )
    return (agree * n - chance) / (n * n - chance)


def fleiss_kappa(counts: Any, *, unequal: Literal["raise", "modal"] = "raise") -> float:
    """Fleiss' kappa: agreement beyond chance among many labelers, from class counts per item.

    Use it when every item has the same number of labels (not necessarily from the same
    labelers). Matches ``statsmodels.stats.inter_rater.fleiss_kappa(counts, method="fleiss")``.

    Parameters
    ----------
    counts
        Items × classes table (array or DataFrame): how many labelers gave each class to each
        item; :func:`count_labels` builds it. Rows of zeros (items nobody labelled) are ignored.
    unequal
        What to do when items have different numbers of labels, which Fleiss' formula does not
        allow: ``"raise"`` (default) refuses naming the rows; ``"modal"`` keeps only the items
        with the most common number of labels among those with ≥ 2 (ties: the larger number).

    Returns
    -------
    float
        ``κ = (P̄ − P̄_e) / (1 − P̄_e)``; 1 is perfect agreement, 0 chance level.

    Raises
    ------
    InvalidInputError
        Not a table of non-negative whole numbers; unequal numbers of labels with
        ``unequal="raise"``; fewer than 2 labels per item; or a single class in use, so that
        ``P̄_e`` is 1 and κ is 0/0.

    Notes
    -----
    With ``m`` labels per item, ``n_ic`` of them class ``c``, and ``N`` items:
    ``P_i = (Σ_c n_ic² − m) / (m(m − 1))``, ``P̄ = mean P_i``, ``p_c = Σ_i n_ic / (N m)`` and
    ``P̄_e = Σ_c p_c²``.

    References
    ----------
    Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters. *Psychological
    Bulletin*, 76(5), 378–382.

    Examples
    --------
    >>> round(fleiss_kappa([[3, 0], [2, 1], [0, 3], [0, 3]]), 4)
    0.6571
    """
    if unequal not in ("raise", "modal"):
        raise InvalidInputError(
            f'unequal must be "raise" or "modal"; got {unequal!r}',
            hint='"modal" keeps the items with the most common number of labels.',
        )
    table, _ = as_counts_table(counts)
    per_item = table.sum(axis=1)
    labelled = per_item > 0
    numbers = np.unique(per_item[labelled])
    if len(numbers) == 0 or numbers.max() < 2:
        raise InvalidInputError(
            "Fleiss' kappa needs at least 2 labels per item",
            hint="Each row of counts should sum to the number of labelers of that item.",
        )
    if len(numbers) > 1 and unequal == "raise":
        typical = int(modal_raters(per_item))
        odd = labelled & (per_item != typical)
        spread = ", ".join(f"{int((per_item == v).sum())} with {int(v)}" for v in numbers[:6])
        raise InvalidInputError(
            f"Fleiss' kappa needs the same number of labels on every item; items have {spread}",
            rows=rows_of(odd),
            hint=f'Pass unequal="modal" to keep the items with {typical} labels, or use '
            "krippendorff_alpha, which allows missing labels.",
        )
    raters = modal_raters(per_item)
    counted = table_counts(table)
    design = Design(counted.n_items)
    add_fleiss_blocks(design, counted, raters)
    value = float(fleiss_from(design.totals(), raters)[0])
    if np.isnan(value):
        raise InvalidInputError(
            "Fleiss' kappa is undefined: every label is the same class, so chance agreement is 1",
            hint="Report percent agreement instead, or add items where other classes occur.",
        )
    return value


def krippendorff_alpha(
    reliability_data: Any,
    *,
    level: Level = "nominal",
    value_domain: Sequence[Any] | None = None,
) -> float:
    """Krippendorff's alpha: agreement among any number of labelers with missing labels.

    The most general of these statistics: any number of labelers per item, missing labels,
    and a distance suited to the labels (``level``). Matches the ``krippendorff`` package's
    ``alpha(reliability_data.T, level_of_measurement=level)``; written independently from
    Krippendorff (2011).

    Parameters
    ----------
    reliability_data
        Items × labelers, ``None``/``NaN`` where a labeler gave no label (the transpose of the
        ``krippendorff`` package's coders × units layout).
    level
        ``"nominal"`` (classes, δ = 0 if equal else 1), ``"ordinal"`` (ordered classes, δ from
        the ranks' marginal counts) or ``"interval"`` (numbers, δ² = (c − k)²).
    value_domain
        The possible values. For ``"ordinal"`` their order (needed for text labels; numbers are
        ordered numerically when omitted); otherwise only checked against the data.

    Returns
    -------
    float
        ``α = 1 − D_o / D_e``: 1 is perfect agreement, 0 chance level, negative is systematic
        disagreement.

    Raises
    ------
    InvalidInputError
        Not a 2-D table; non-numeric labels for ``"interval"`` (or text without
        ``value_domain`` for ``"ordinal"``); values outside ``value_domain``; no item with two
        labels (nothing pairable); or a single distinct value among pairable labels, so that
        ``D_e`` is 0.

    Notes
    -----
    Only items with ≥ 2 labels (``m_u``) count. The coincidence matrix is
    ``o_ck = Σ_u (number of c–k pairs of different labelers in u) / (m_u − 1)``, its marginals
    ``n_c`` and total ``n``; then ``α = 1 − (n − 1) Σ_ck o_ck δ²_ck / Σ_ck n_c n_k δ²_ck``.
    Ordinal: ``δ_ck = Σ_{g=c..k} n_g − (n_c + n_k)/2``. Everything is computed from per-item
    sums in O(labels), without forming the coincidence matrix except for ordinal pairs.

    References
    ----------
    Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. Annenberg School for
    Communication, University of Pennsylvania. https://repository.upenn.edu/asc_papers/43

    Examples
    --------
    >>> data = [[1, 1, None], [2, 2, 2], [3, 3, 1], [4, 4, 4]]
    >>> round(krippendorff_alpha(data), 4)
    0.7778
    >>> round(krippendorff_alpha(data, level="interval"), 4)
    0.7531
    """
    level = check_level(level)  # type: ignore[assignment]
    item, values, n_items, _ = _reliability_long(reliability_data)
    codes, numbers = encode_values(values, level, value_domain)
    counted = item_counts(item, codes, n_items, len(numbers))
    if counted.n_items == 0:
        raise InvalidInputError(
            "Krippendorff's alpha is undefined: no item has labels from two or more labelers",
            hint="Alpha compares labels given to the same item; add overlapping labels.",
        )
    design = Design(counted.n_items)
    interval_values = np.asarray(numbers, dtype=np.float64) if level == "interval" else None
    pair_c, pair_k = add_alpha_blocks(design, counted, level, interval_values)
    value = float(alpha_from(design.totals(), level, pair_c, pair_k)[0])
    if np.isnan(value):
        raise InvalidInputError(
            "Krippendorff's alpha is undefined: all pairable labels have the same value, so "
            "expected disagreement is 0",
            hint="Report percent agreement instead, or add items where other values occur.",
        )
    return value


def encode_values(
    values: np.ndarray, level: str, value_domain: Sequence[Any] | None
) -> tuple[np.ndarray, list[Any]]:
    """Codes of ``values`` into the ordered list of distinct values alpha works on."""
    numeric = level == "interval" or (level == "ordinal" and value_domain is None)
    if numeric:
        as_float = as_numbers(values)
        if as_float is None:
            shown = ", ".join(repr(v) for v in pd.unique(np.asarray(values, dtype=object))[:3])
            raise InvalidInputError(
                f'level="{level}" needs numeric labels (finite numbers); got {shown}',
                hint='Use level="nominal" for categories, or give value_domain=[...] in order '
                'for ordered text labels with level="ordinal".',
            )
        if value_domain is not None:
            codes_for(values, value_domain, what="value_domain")
        order = sorted(np.unique(as_float).tolist())
        codes = np.searchsorted(np.asarray(order), as_float).astype(np.int64)
        return codes, order
    codes, order = codes_for(values, value_domain, what="value_domain")
    return codes, order


def percent_agreement(counts: Any) -> float:
    """Pairwise percent agreement: the share of agreeing labeler pairs over all pairs.

    Over the items with ≥ 2 labels, every pair of labels on the same item counts once; the
    statistic is the share of those pairs that agree. Items with more labels weigh more
    (they hold more pairs). Easy to read, but not corrected for chance: report it beside a
    kappa or alpha.

    Parameters
    ----------
    counts
        Items × classes count table (:func:`count_labels`); any number of labels per item.

    Returns
    -------
    float
        ``Σ_i Σ_c n_ic(n_ic − 1) / Σ_i m_i(m_i − 1)`` in [0, 1].

    Raises
    ------
    InvalidInputError
        Not a table of non-negative whole numbers, or no item with two labels (undefined).

    References
    ----------
    Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters. *Psychological
    Bulletin*, 76(5), 378–382 (the per-item agreement ``P_i`` pooled over items).

    Examples
    --------
    >>> percent_agreement([[2, 0], [1, 1], [3, 0]])  # 1 + 0 + 3 agreeing of 1 + 1 + 3 pairs
    0.8
    """
    table, _ = as_counts_table(counts)
    counted = table_counts(table)
    if counted.n_items == 0:
        raise InvalidInputError(
            "percent agreement is undefined: no item has two or more labels",
            hint="Agreement compares labels given to the same item; add overlapping labels.",
        )
    design = Design(counted.n_items)
    add_agreement_blocks(design, counted)
    return float(percent_from(design.totals())[0])


def specific_agreement(counts: Any) -> pd.DataFrame:
    """Per-class (positive) specific agreement: how consistently each class is given.

    For class ``c``: of the labelers' pairs in which at least one gave ``c``, the share in
    which the other gave ``c`` too. It shows *which* classes labelers disagree on, which an
    overall kappa hides.

    Parameters
    ----------
    counts
        Items × classes count table (:func:`count_labels`); any number of labels per item.

    Returns
    -------
    DataFrame
        One row per class: ``class``, ``specific_agreement`` (NaN, with a ``note``, for a class
        no pairable label uses), ``n_assignments`` (pairable labels of that class), ``note``.

    Raises
    ------
    InvalidInputError
        Not a table of non-negative whole numbers, or no item with two labels.

    Notes
    -----
    ``p_s(c) = Σ_i n_ic(n_ic − 1) / Σ_i n_ic(m_i − 1)``. With two labelers it is
    ``2a / (2a + b + c)``: twice the items both labelled ``c`` over all assignments of ``c``.

    References
    ----------
    Cicchetti, D. V. & Feinstein, A. R. (1990). High agreement but low kappa: II. Resolving the
    paradoxes. *Journal of Clinical Epidemiology*, 43(6), 551–558.
    Uebersax, J. S. Raw agreement indices. https://www.john-uebersax.com/stat/raw.htm

    Examples
    --------
    >>> specific_agreement(pd.DataFrame({"cat": [2, 1, 0], "dog": [0, 1, 2]}))
      class  specific_agreement  n_assignments  note
    0   cat            0.666667              3  None
    1   dog            0.666667              3  None
    """
    table, classes = as_counts_table(counts)
    counted = table_counts(table)
    if counted.n_items == 0:
        raise InvalidInputError(
            "specific agreement is undefined: no item has two or more labels",
            hint="Agreement compares labels given to the same item; add overlapping labels.",
        )
    design = Design(counted.n_items)
    add_agreement_blocks(design, counted)
    totals = design.totals()
    return specific_frame(classes, specific_from(totals)[0], totals["n_c"][0])


def specific_frame(
    classes: Sequence[Any], values: np.ndarray, assignments: np.ndarray
) -> pd.DataFrame:
    """The per-class specific-agreement table, with a note where it is undefined."""
    return pd.DataFrame(
        {
            "class": pd.Series(list(classes), dtype=object),
            "specific_agreement": values,
            "n_assignments": np.rint(assignments).astype(np.int64),
            "note": [None if np.isfinite(v) else "no pairable label of this class" for v in values],
        }
    )
