"""Automatic slice discovery: where does the model err significantly more often than elsewhere?

:func:`find_slices` searches conjunctions of up to three predicates on the examples' metadata,
features and tags (SliceLine's lattice, counted exactly by
:mod:`~dcai.analysis._slice_search`), keeps the slices whose error rate is significantly above
the rest of the data after a Bonferroni correction, drops the ones that only restate a parent,
and ranks the rest by their excess errors, ``size × (error rate − error rate outside)``.
"""

from __future__ import annotations

import itertools
import logging
import math
import warnings
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from dcai.analysis._slice_predicates import EncodedColumn, Predicate, describe, encode_column
from dcai.analysis._slice_report import SLICE_COLUMNS, SliceReport, empty_report
from dcai.analysis._slice_search import Candidates, count_bound, enumerate_slices
from dcai.analysis._slice_stats import (
    PARENT_GAIN,
    explained_by_descendant,
    keep_over_parents,
    one_sided_p,
)
from dcai.errors import FallbackWarning, InvalidInputError, SchemaError

__all__ = ["PARENT_GAIN", "SLICE_COLUMNS", "SliceReport", "find_slices"]

logger = logging.getLogger("dcai")

#: Default ``min_size``: this share of the rows, and never fewer than ``_MIN_ROWS`` rows.
MIN_SHARE = 0.002
_MIN_ROWS = 30
#: Significant candidates are checked against their parents this many at a time.
_BATCH = 512


# Input checks ----------------------------------------------------------------------------


def _check_errors(errors: Any, n_rows: int) -> np.ndarray:
    if isinstance(errors, pd.Series | pd.DataFrame):
        errors = errors.to_numpy()
    array = np.asarray(errors)
    if array.ndim == 2 and 1 in array.shape:
        array = array.reshape(-1)
    if array.ndim != 1:
        raise InvalidInputError(
            f"errors must be one value per row, got an array of shape {array.shape}",
            hint="Give one 0/1 error (or a non-negative loss) per row of the frame.",
        )
    if len(array) != n_rows:
        raise InvalidInputError(
            f"errors has {len(array):,} values but the frame has {n_rows:,} rows",
            hint="Give one 0/1 error (or loss) per row of the frame, in the same order.",
        )
    try:
        values = array.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"errors must be numbers or booleans, got {array.dtype}",
            hint="Pass y_pred != y_true, or a per-example loss.",
        ) from exc
    for bad, what in (
        (np.isnan(values), "missing values"),
        (np.isinf(values), "infinite values"),
        (values < 0, "negative values"),
    ):
        if bad.any():
            raise InvalidInputError(
                f"errors has {int(bad.sum())} {what}",
                rows=[int(i) + 1 for i in np.flatnonzero(bad)],
                hint="Errors are 0/1 (or a non-negative loss); drop or fix those rows.",
            )
    return values


def _int_param(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise InvalidInputError(
            f"{name} must be an integer of at least {low}, got {value!r}",
            hint=f"Pass {name}={max(low, 1)} or more.",
        )
    return int(value)


def _check_columns(frame: pd.DataFrame, columns: Sequence[Hashable] | None) -> list[Hashable]:
    if not frame.columns.is_unique:
        dupes = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise SchemaError(
            f"the frame has repeated column names ({', '.join(dupes)})",
            hint="Rename the columns so that each name appears once.",
        )
    names = list(frame.columns) if columns is None else list(columns)
    if isinstance(columns, str):
        names = [columns]
    if not names:
        raise InvalidInputError(
            "no columns to slice on", hint="Pass columns=[...] naming metadata or features."
        )
    for name in names:
        if name not in frame.columns:
            raise SchemaError(
                "column not found in the frame",
                column=str(name),
                hint=f"Pick among: {', '.join(map(str, list(frame.columns)[:20]))}.",
            )
        if not isinstance(name, str | int) or isinstance(name, bool):
            raise SchemaError(
                f"column names must be text or integers, got {type(name).__name__}",
                column=str(name),
                hint="Rename the column (predicates store column names as JSON).",
            )
    return names


# The search ------------------------------------------------------------------------------


def _levels(
    encoded: Sequence[EncodedColumn], n: int, min_size: int, wanted: int, budget: int
) -> tuple[int, str | None]:
    n_codes = [len(e.predicates) for e in encoded]
    running = 0
    for level in range(1, wanted + 1):
        running += count_bound(n_codes, level, n, min_size)
        if running > budget:
            if level == 1:
                raise InvalidInputError(
                    f"even single predicates may exceed max_candidates={budget:,}",
                    hint="Raise max_candidates or min_size, or pass fewer columns.",
                )
            note = (
                f"searched up to {level - 1} predicate(s), not {wanted}: slices with {level} "
                f"could number up to {running:,}, above max_candidates={budget:,}. Raise "
                "max_candidates or min_size, or pass fewer columns, to search deeper."
            )
            return level - 1, note
    return wanted, None


_NONE = np.zeros(0, dtype=np.int64)


def _key(cand: Candidates, i: int) -> tuple[int, ...]:
    return tuple(int(v) for v in cand.ids[i, : cand.level[i]])


def _descendants(significant: np.ndarray, cand: Candidates) -> dict[tuple[int, ...], np.ndarray]:
    """For each predicate set, the significant slices that add predicates to it."""
    found: dict[tuple[int, ...], list[int]] = {}
    for i in significant:
        ids = _key(cand, int(i))
        for r in range(1, len(ids)):
            for subset in itertools.combinations(ids, r):
                found.setdefault(subset, []).append(int(i))
    return {key: np.asarray(value, dtype=np.int64) for key, value in found.items()}


def find_slices(
    frame: pd.DataFrame,
    errors: Any,
    *,
    columns: Sequence[Hashable] | None = None,
    max_predicates: int = 3,
    min_size: int | None = None,
    alpha: float = 0.05,
    n_bins: int = 4,
    top_k: int = 10,
    max_candidates: int = 2_000_000,
    error_weight: float = 0.999,
) -> SliceReport:
    """Find the slices of the data where the model errs significantly more than elsewhere.

    Use it after training, on out-of-sample errors (cross-validated or on a dev split), to see
    which kinds of examples the model gets wrong: conjunctions of up to ``max_predicates``
    predicates such as ``colour == red & 0.5 ≤ x1 < 1.2 & not is_blurry``, each large enough to
    matter and significant after correcting for the number of slices tried.

    Parameters
    ----------
    frame
        The examples' metadata, features and tags: numbers, text or categories, and booleans
        (a tag is a boolean column). Do not include the error itself.
    errors
        One value per row of ``frame``, in order: 0/1 errors (``y_pred != y_true``) or a
        non-negative loss.
    columns
        The columns to slice on; default every column of ``frame``.
    max_predicates
        The most predicates (on distinct columns) in one slice.
    min_size
        The fewest rows a slice may have; default ``max(30, 0.2 % of the rows)`` (one row in
        500: slices of half a percent of the data can still be found, and no slice rests on a
        handful of examples).
    alpha
        The family-wise error rate: the chance of reporting any slice when the errors do not
        depend on the columns at all (Bonferroni over every candidate slice).
    n_bins
        Numeric columns with more than ``n_bins`` distinct values are cut into ``n_bins``
        quantile bins; others give one predicate per value.
    top_k
        The most slices to report.
    max_candidates
        Memory and time guard: when slices with ``l`` predicates could number more than this,
        the search stops at ``l - 1`` predicates (with a :class:`~dcai.errors.FallbackWarning`
        and a note).
    error_weight
        SliceLine's α, the weight of error against size in the ``score`` column (reported, no
        longer used to rank; see Notes).

    Returns
    -------
    SliceReport
        The reported slices (best first, at most ``top_k``) and the search's settings. No
        errors at all, or no slice of ``min_size`` rows: an empty report with a note.

    Raises
    ------
    InvalidInputError
        ``errors`` of the wrong length, missing, infinite or negative; bad parameters; no
        usable column.
    SchemaError
        A name in ``columns`` that ``frame`` does not have, or repeated column names.

    Notes
    -----
    *Predicates.* Each column becomes disjoint predicates: booleans ``col`` and ``not col``;
    text, categories and numbers with at most ``n_bins`` distinct values ``col == value`` for
    each value with at least ``min_size`` rows (rarer values are skipped: no slice of theirs
    could be reported); other numbers ``n_bins`` quantile bins ``x < c1``, ``c1 ≤ x < c2``, …,
    ``x ≥ c_last`` with cut points rounded to three significant digits (the end bins are open,
    so they also hold values outside this data's range); and ``col is missing`` when at least
    ``min_size`` values are missing. Columns with a single value, or no value of ``min_size``
    rows, are skipped with a note.

    *Search.* The lattice of SliceLine [1]_, conjunctions of predicates on distinct columns, is
    enumerated exactly: one :func:`numpy.bincount` per combination of columns counts every
    slice on it, so the work is one pass over the rows per combination (1,350 for 20 columns
    and 3 predicates) and at most ``n / min_size`` slices are kept per combination. Slices
    below ``min_size`` are pruned (a child is never larger than its parent). SliceLine's
    score-bound pruning is not needed at this cost, and leaving it out keeps the candidates a
    family fixed before the errors are looked at, over which the Bonferroni correction is valid.

    *Significance.* For each candidate ``S`` (``n_candidates`` of them), a one-sided test that
    its error rate exceeds the rate outside it: Fisher's exact test [3]_ for 0/1 errors, Welch's z
    test for a loss. A slice is reported only if ``p × n_candidates ≤ alpha`` (Bonferroni [2]_:
    the chance of any false report is at most ``alpha``).

    *Redundancy.* A slice with several predicates is reported only if it is worse than each of
    its parents (the slices with one predicate fewer): significantly worse than the rest of the
    parent (same test and threshold) and with an error rate at least 10 % higher than the
    parent's. So ``colour == red & x1 ≥ 3`` is not reported when ``colour == red`` alone
    explains it, and the top slices differ from one another.

    *Ranking.* By excess errors, ``|S| · (ē_S − ē_out)``: how many more errors the slice
    holds than it would at the error rate of the rest of the data — what fixing it could buy,
    in examples. Ranking by lift (error rate alone) put 30-row slices above a 712-row slice with
    p = 1e-82; a big significant slice now comes first. Ties go to the smaller p-value, then to
    fewer predicates. SliceLine's score
    ``sc = α · (ē_S / ē − 1) − (1 − α) · (n / |S| − 1)`` (``α = error_weight``, ``ē`` the
    overall rate) is still reported in ``score``. A parent whose excess errors are all its
    planted child's has about the child's excess errors, so either may come first; both are
    reported when each is significantly worse than the rest (the redundancy rule below).

    References
    ----------
    .. [1] Sagadeeva, S. and Boehm, M. (2021). "SliceLine: Fast, Linear-Algebra-based Slice
       Finding for ML Model Debugging." Proceedings of SIGMOD 2021, 2290–2299.
    .. [2] Dunn, O. J. (1961). "Multiple Comparisons Among Means." Journal of the American
       Statistical Association 56(293), 52–64.
    .. [3] Fisher, R. A. (1922). "On the Interpretation of χ² from Contingency Tables, and the
       Calculation of P." Journal of the Royal Statistical Society 85(1), 87–94.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"colour": rng.choice(["red", "green", "blue"], 3000),
    ...                       "x1": rng.normal(size=3000), "flash": rng.random(3000) < 0.5})
    >>> bad = (frame.colour == "red") & ~frame.flash
    >>> errors = rng.random(3000) < np.where(bad, 0.5, 0.1)
    >>> report = find_slices(frame, errors)
    >>> report
    SliceReport(1 slice(s) from 59 candidates; overall error rate 0.1627, min_size 30)
    >>> report.slices[["name", "size", "error_rate", "lift"]].round(3)
                            name  size  error_rate   lift
    0  colour == red & not flash   502        0.48  2.951
    >>> report.slices["predicates"][0]
    [('colour', '==', 'red'), ('flash', '==', False)]
    >>> report.notes[0]
    '2 broader slice(s) left out: a narrower reported slice holds all their extra errors.'

    The parents ``colour == red`` and ``not flash`` are significantly worse than the rest, but
    only through this slice: outside it they are ordinary, so they are left out.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(
            f"frame must be a pandas DataFrame, got {type(frame).__name__}",
            hint="Wrap the columns in pd.DataFrame(...).",
        )
    n = len(frame)
    if n == 0:
        raise InvalidInputError("the frame has no rows", hint="Pass at least one example.")
    values = _check_errors(errors, n)
    max_predicates = _int_param("max_predicates", max_predicates, 1)
    n_bins = _int_param("n_bins", n_bins, 2)
    top_k = _int_param("top_k", top_k, 1)
    max_candidates = _int_param("max_candidates", max_candidates, 1)
    if min_size is None:
        min_size = max(_MIN_ROWS, math.ceil(MIN_SHARE * n))
    min_size = _int_param("min_size", min_size, 1)
    for option, value, closed in (("alpha", alpha, False), ("error_weight", error_weight, True)):
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not (0 < value < 1 or (closed and value == 1))
        ):
            raise InvalidInputError(
                f"{option} must be a number in (0, 1{']' if closed else ')'}, got {value!r}",
                hint=f"Pass {option}={'0.05' if option == 'alpha' else '0.999'}, the default.",
            )
    names = _check_columns(frame, columns)

    binary = bool(np.isin(values, (0.0, 1.0)).all())
    test = "fisher" if binary else "welch"
    overall = float(values.mean())
    encoded: list[EncodedColumn] = []
    notes: list[str] = []
    for name in names:
        result = encode_column(name, frame[name], n_bins=n_bins, min_size=min_size)
        if isinstance(result, str):
            notes.append(f'column "{name}" skipped: {result}.')
        else:
            encoded.append(result)
    if not encoded:
        raise InvalidInputError(
            "no usable column to slice on: " + " ".join(notes),
            hint="Pass columns with at least two values of min_size rows each, or lower min_size.",
        )
    used = [e.name for e in encoded]
    if overall == 0:
        notes.append("every error is 0: there is no slice where the model errs more.")
        return empty_report(overall, n, min_size, alpha, test, used, notes)
    if min_size > n // 2:
        notes.append(f"min_size={min_size:,} is more than half the {n:,} rows.")
    levels, note = _levels(encoded, n, min_size, max_predicates, max_candidates)
    if note is not None:
        logger.warning(note)
        warnings.warn(note, FallbackWarning, stacklevel=2)
        notes.append(note)
    cand = enumerate_slices(
        [e.codes for e in encoded],
        [len(e.predicates) for e in encoded],
        values,
        binary=binary,
        min_size=min_size,
        max_level=levels,
    )
    m = len(cand)
    if m == 0:
        notes.append(f"no slice has at least min_size={min_size:,} rows.")
        return empty_report(overall, n, min_size, alpha, test, used, notes, max_predicates=levels)
    threshold = alpha / m
    total_sq = None if binary else float(np.dot(values, values))
    p = one_sided_p(
        cand.size, cand.total, cand.squares, n, float(values.sum()), total_sq, threshold=threshold
    )
    rate = cand.total / cand.size
    outside = (values.sum() - cand.total) / np.maximum(n - cand.size, 1)
    score = error_weight * (rate / overall - 1) - (1 - error_weight) * (n / cand.size - 1)
    excess = cand.size * (rate - outside)

    significant = np.flatnonzero(p <= threshold)
    order = significant[np.lexsort((cand.level[significant], p[significant], -excess[significant]))]
    parents = {
        tuple(int(v) for v in cand.ids[i, : cand.level[i]]): int(i)
        for i in np.flatnonzero(cand.level < levels)
    }
    descendants = _descendants(significant, cand)
    kept: dict[int, bool] = {}

    def reported(indices: np.ndarray) -> np.ndarray:
        """Which of ``indices`` pass the redundancy rule against their parents (memoised)."""
        todo = np.asarray([i for i in indices if int(i) not in kept], dtype=np.int64)
        if len(todo):
            for i, good in zip(
                todo, keep_over_parents(todo, cand, parents, threshold), strict=True
            ):
                kept[int(i)] = bool(good)
        return np.asarray([kept[int(i)] for i in indices], dtype=bool)

    chosen: list[int] = []
    explained = 0
    for start in range(0, len(order), _BATCH):
        batch = order[start : start + _BATCH]
        for i in batch[reported(batch)]:
            below = descendants.get(_key(cand, int(i)), _NONE)
            if len(below) and explained_by_descendant(
                int(i), below[reported(below)], cand, n, float(values.sum()), total_sq, threshold
            ):
                explained += 1
                continue
            chosen.append(int(i))
            if len(chosen) >= top_k:
                break
        if len(chosen) >= top_k:
            break
    if explained:
        notes.append(
            f"{explained:,} broader slice(s) left out: a narrower reported slice holds all "
            "their extra errors."
        )
    if not chosen:
        notes.append(
            f"no slice is significantly worse than the rest at alpha={alpha:g} "
            f"(Bonferroni over {m:,} candidates)."
        )

    vocabulary = [pred for e in encoded for pred in e.predicates]
    rows = []
    for i in chosen:
        preds: list[Predicate] = [vocabulary[g] for g in cand.ids[i, : cand.level[i]]]
        rows.append(
            {
                "name": describe(preds),
                "predicates": preds,
                "size": int(cand.size[i]),
                "share": float(cand.size[i] / n),
                "error_rate": float(rate[i]),
                "error_rate_outside": float(outside[i]),
                "lift": float(rate[i] / overall),
                "p_value": float(p[i]),
                "p_adjusted": float(min(1.0, p[i] * m)),
                "score": float(score[i]),
                "excess_errors": float(excess[i]),
            }
        )
    if not rows:
        return empty_report(
            overall, n, min_size, alpha, test, used, notes, n_candidates=m, max_predicates=levels
        )
    return SliceReport(
        slices=pd.DataFrame(rows, columns=list(SLICE_COLUMNS)),
        overall_error_rate=overall,
        n_candidates=m,
        n_rows=n,
        min_size=min_size,
        alpha=alpha,
        threshold=threshold,
        max_predicates=levels,
        test=test,
        columns=tuple(used),
        notes=tuple(notes),
    )
