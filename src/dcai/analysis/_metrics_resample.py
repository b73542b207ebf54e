"""Count metrics, ROC-AUC and average precision, and their bootstrap replicates.

Every count metric is a function of per-class totals (true positives, support, predictions),
so :func:`_rates` and :func:`_group_statistic` work on totals of any leading shape and a
bootstrap replicate needs only the total of each confusion cell: :func:`_resample` draws those
totals as a multinomial over patterns of (code, weight) — the same law as drawing examples with
replacement — in O(cells) per replicate, not O(examples). :func:`_auc` computes ROC-AUC and
average precision from positive/negative totals per distinct score, so they resample the same
way; :func:`_interval` turns replicates into percentile intervals. Kept apart from the public
functions because this is the numerical core, with no knowledge of labels or tables.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

_PER_CLASS = ("precision", "recall", "f1", "roc_auc", "pr_auc")
_AVERAGED = tuple(f"{a}_{m}" for a in ("macro", "weighted") for m in ("precision", "recall", "f1"))
#: Cap on the cells of one chunk of replicates, about 32 MB of float64.
_CHUNK_CELLS = 4_000_000
#: AUC replicates of a class with more than 2 × this many distinct scores use score bins,
#: each with at most 1/250 of the positives and of the negatives (see _score_bins).
_AUC_BINS = 250


# --------------------------------------------------------------------------- statistics


def _rates(tp: np.ndarray, support: np.ndarray, predicted: np.ndarray) -> dict[str, np.ndarray]:
    """Every count metric from per-class totals of shape (..., K)."""
    total = support.sum(axis=-1)
    present = support > 0
    n_present = present.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(present, tp / support, np.nan)
        # zero_division=0: a class that occurs but is never predicted has precision 0
        precision = np.where(predicted > 0, tp / predicted, np.where(present, 0.0, np.nan))
        f1 = np.where(support + predicted > 0, 2.0 * tp / (support + predicted), np.nan)
        out = {"precision": precision, "recall": recall, "f1": f1}
        out["accuracy"] = np.where(total > 0, tp.sum(axis=-1) / total, np.nan)
        for name, values in (("precision", precision), ("recall", recall), ("f1", f1)):
            kept = np.where(present, values, 0.0)
            out[f"macro_{name}"] = np.where(n_present > 0, kept.sum(axis=-1) / n_present, np.nan)
            out[f"weighted_{name}"] = np.where(
                total > 0, (kept * support).sum(axis=-1) / total, np.nan
            )
    out["balanced_accuracy"] = out["macro_recall"]
    out["error_rate"] = 1.0 - out["accuracy"]
    return out


def _auc(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ROC-AUC and average precision from positive/negative totals per score group, (..., G),
    groups in decreasing score order (Fawcett 2006, ties count one half)."""
    cum_pos, cum_neg = np.cumsum(pos, axis=-1), np.cumsum(neg, axis=-1)
    n_pos, n_neg = cum_pos[..., -1], cum_neg[..., -1]
    below = n_neg[..., None] - cum_neg + 0.5 * neg  # negatives scored lower, ties halved
    seen = cum_pos + cum_neg
    precision = np.divide(cum_pos, seen, out=np.zeros_like(seen), where=seen > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        roc = np.where(
            (n_pos > 0) & (n_neg > 0), (pos * below).sum(axis=-1) / (n_pos * n_neg), np.nan
        )
        ap = np.where(n_pos > 0, (pos * precision).sum(axis=-1) / n_pos, np.nan)
    return roc, ap


def _group_statistic(
    tp: np.ndarray, support: np.ndarray, predicted: np.ndarray, metric: str
) -> np.ndarray:
    """One metric from per-class totals (..., K): only what that metric needs."""
    total = support.sum(axis=-1)
    present = support > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric in ("accuracy", "error_rate"):
            accuracy = np.where(total > 0, tp.sum(axis=-1) / total, np.nan)
            return accuracy if metric == "accuracy" else 1.0 - accuracy
        per_class = tp / support if metric == "recall" else 2.0 * tp / (support + predicted)
        kept = np.where(present, per_class, 0.0).sum(axis=-1)
        n_present = present.sum(axis=-1)
        return np.where(n_present > 0, kept / n_present, np.nan)


def _cell_maps(cells: np.ndarray, k: int) -> tuple[Any, Any, Any]:
    """(cells × K) maps from confusion-cell totals to TP, support and predicted; sparse when
    a dense map would be large (many classes)."""
    true, pred = np.divmod(cells, k)
    rows = np.arange(len(cells))
    if len(cells) * k <= _CHUNK_CELLS // 4:
        support, predicted = np.zeros((len(cells), k)), np.zeros((len(cells), k))
        support[rows, true] = 1.0
        predicted[rows, pred] = 1.0
        return support * (true == pred)[:, None], support, predicted
    from scipy import sparse

    ones, shape = np.ones(len(cells)), (len(cells), k)
    return (
        sparse.csr_matrix(((true == pred).astype(np.float64), (rows, true)), shape=shape),
        sparse.csr_matrix((ones, (rows, true)), shape=shape),
        sparse.csr_matrix((ones, (rows, pred)), shape=shape),
    )


# --------------------------------------------------------------------------- bootstrap


def _count_replicates(
    cell: np.ndarray, k: int, weight: np.ndarray | None, *, n_boot: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    cells, code = np.unique(cell, return_inverse=True)
    to_class = _cell_maps(cells, k)
    parts = [
        _rates(*(np.asarray(totals @ m) for m in to_class))
        for totals in _resample(code, len(cells), weight, n_boot=n_boot, rng=rng)
    ]
    keys = ("accuracy", "balanced_accuracy", *_AVERAGED, "precision", "recall", "f1")
    if not parts:
        return {key: np.zeros((0, k) if key in _PER_CLASS else (0,)) for key in keys}
    return {key: np.concatenate([part[key] for part in parts]) for key in keys}


def _resample(
    code: np.ndarray,
    n_codes: int,
    weight: np.ndarray | None,
    *,
    n_boot: int,
    rng: np.random.Generator,
) -> Iterator[np.ndarray]:
    """Chunks of ``(replicates, n_codes)``: the (weighted) total of each code in resamples of
    the examples, drawn with replacement."""
    n = len(code)
    w = np.ones(n) if weight is None else weight
    # examples with the same code and weight are exchangeable: a resample's counts of these
    # patterns are multinomial with the patterns' shares, the same law as drawing examples
    order = np.lexsort((w, code))
    sorted_code, sorted_w = code[order], w[order]
    new = np.ones(n, dtype=bool)
    new[1:] = (sorted_code[1:] != sorted_code[:-1]) | (sorted_w[1:] != sorted_w[:-1])
    starts = np.flatnonzero(new)
    freq = np.diff(np.append(starts, n))
    pattern_code, pattern_w = sorted_code[starts], sorted_w[starts]
    runs = np.flatnonzero(np.diff(pattern_code, prepend=-1))  # patterns sorted by code
    # a multinomial costs ~0.1 µs per pattern, drawing an example ~0.025 µs: pick the cheaper
    by_pattern = 4 * len(freq) <= n
    chunk = max(1, min(n_boot, _CHUNK_CELLS // max(len(freq) if by_pattern else n, n_codes)))
    for done in range(0, n_boot, chunk):
        b = min(chunk, n_boot - done)
        if by_pattern:
            counts = rng.multinomial(n, freq / n, size=b) * pattern_w
            totals = np.zeros((b, n_codes))
            totals[:, pattern_code[runs]] = np.add.reduceat(counts, runs, axis=1)
            yield totals
        else:
            drawn = rng.integers(0, n, size=(b, n))
            keys = code[drawn] + (np.arange(b, dtype=np.int64) * n_codes)[:, None]
            weights = None if weight is None else weight[drawn].ravel()
            flat = np.bincount(keys.ravel(), weights=weights, minlength=b * n_codes)
            yield flat.reshape(b, n_codes).astype(np.float64)


def _group_totals(
    group: np.ndarray, true: np.ndarray, pred: np.ndarray, k: int, n_groups: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TP, support and predicted per (group, class), each ``(groups, K)``."""
    size = n_groups * k
    hit = (true == pred).astype(np.float64)
    return (
        np.bincount(group * k + true, weights=hit, minlength=size).reshape(n_groups, k),
        np.bincount(group * k + true, minlength=size).reshape(n_groups, k).astype(np.float64),
        np.bincount(group * k + pred, minlength=size).reshape(n_groups, k).astype(np.float64),
    )


def _resample_groups(
    group: np.ndarray,
    true: np.ndarray,
    pred: np.ndarray,
    k: int,
    n_groups: int,
    *,
    n_boot: int,
    rng: np.random.Generator,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Chunks of ``(replicates, groups, K)`` TP, support and predicted, each group resampled
    with replacement to its own size (memberships: an example may be in several groups)."""
    cells, code = np.unique(true * k + pred, return_inverse=True)
    n_cells, n_members = max(len(cells), 1), len(group)
    freq = np.bincount(group * n_cells + code, minlength=n_groups * n_cells)
    freq = freq.reshape(n_groups, n_cells)
    sizes = freq.sum(axis=1)
    by_cell = 4 * n_groups * n_cells <= n_members
    per_replicate = n_groups * n_cells if by_cell else max(n_members, n_groups * k)
    chunk = max(1, min(n_boot, _CHUNK_CELLS // max(per_replicate, 1)))
    if by_cell:
        to_class = _cell_maps(cells, k)
        # an empty group draws nothing, from any valid distribution
        shares = np.where(sizes[:, None] > 0, freq / np.maximum(sizes, 1)[:, None], 1 / n_cells)
    order = np.argsort(group, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    member_group, member_true, member_pred = group[order], true[order], pred[order]
    member_size, member_start = sizes[member_group], starts[member_group]
    member_base = member_group * k
    for done in range(0, n_boot, chunk):
        b = min(chunk, n_boot - done)
        if by_cell:
            counts = rng.multinomial(sizes, shares, size=(b, n_groups)).astype(np.float64)
            flat = counts.reshape(b * n_groups, n_cells)
            yield tuple(  # type: ignore[misc]
                np.asarray(flat @ m).reshape(b, n_groups, k) for m in to_class
            )
            continue
        # each member's replacement is drawn among the members of its own group
        picked = (rng.random((b, n_members)) * member_size).astype(np.int64) + member_start
        base = member_base + (np.arange(b, dtype=np.int64) * n_groups * k)[:, None]
        t, p = member_true[picked], member_pred[picked]
        size = b * n_groups * k
        yield (
            np.bincount((base + t).ravel(), weights=(t == p).ravel(), minlength=size).reshape(
                b, n_groups, k
            ),
            np.bincount((base + t).ravel(), minlength=size).reshape(b, n_groups, k) * 1.0,
            np.bincount((base + p).ravel(), minlength=size).reshape(b, n_groups, k) * 1.0,
        )


def _auc_per_class(
    true: np.ndarray,
    probs: np.ndarray,
    weight: np.ndarray | None,
    n_boot: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """ROC-AUC and average precision per class (one-vs-rest), with bootstrap replicates."""
    n, k = probs.shape
    w = np.ones(n) if weight is None else weight
    roc, ap = np.full(k, np.nan), np.full(k, np.nan)
    roc_reps, ap_reps = np.full((n_boot, k), np.nan), np.full((n_boot, k), np.nan)
    for c in range(k):
        is_pos = true == c
        _, group = np.unique(-probs[:, c], return_inverse=True)  # by decreasing score
        g = int(group.max()) + 1
        roc[c], ap[c] = _auc(
            np.bincount(group, weights=w * is_pos, minlength=g),
            np.bincount(group, weights=w * ~is_pos, minlength=g),
        )
        if n_boot == 0 or not is_pos.any():
            continue
        shift = np.zeros(2)
        if g > 2 * _AUC_BINS:
            group, g = _score_bins(group, g, is_pos)
            binned = _auc(
                np.bincount(group, weights=w * is_pos, minlength=g),
                np.bincount(group, weights=w * ~is_pos, minlength=g),
            )
            shift = np.array([roc[c] - binned[0], ap[c] - binned[1]])
        done = 0
        for full in _resample(group * 2 + is_pos, 2 * g, weight, n_boot=n_boot, rng=rng):
            b = len(full)
            r, a = _auc(full[:, 1::2], full[:, 0::2])
            roc_reps[done : done + b, c] = np.clip(r + shift[0], 0.0, 1.0)
            ap_reps[done : done + b, c] = np.clip(a + shift[1], 0.0, 1.0)
            done += b
    return roc, ap, roc_reps, ap_reps


def _score_bins(group: np.ndarray, g: int, is_pos: np.ndarray) -> tuple[np.ndarray, int]:
    """Merge runs of adjacent distinct scores into at most 2 × _AUC_BINS bins, each holding
    at most 1/_AUC_BINS of the positives and of the negatives (plus one score's ties).

    Only pairs of different scores within a bin are miscounted (as ties), so binning moves
    ROC-AUC by less than 1 / (2 × _AUC_BINS) whatever the class balance.
    """
    pos = np.bincount(group, weights=is_pos, minlength=g)
    neg = np.bincount(group, minlength=g) - pos
    keys = [(np.cumsum(part) - part) * _AUC_BINS // max(part.sum(), 1.0) for part in (pos, neg)]
    new = np.ones(g, dtype=bool)
    new[1:] = (np.diff(keys[0]) != 0) | (np.diff(keys[1]) != 0)
    bins = np.cumsum(new) - 1
    return bins[group], int(bins[-1]) + 1


def _interval(replicates: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval per column over the finite replicates (Efron & Tibshirani 1993,
    §13.3), NaN where none is finite; quantiles interpolated linearly, as numpy's default."""
    ordered = np.sort(np.where(np.isfinite(replicates), replicates, np.nan), axis=0)  # NaN last
    count = np.isfinite(ordered).sum(axis=0)
    last = np.maximum(count - 1, 0)
    bounds = []
    for q in ((1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0):
        if len(ordered) == 0:
            bounds.append(np.full(replicates.shape[1:], np.nan))
            continue
        position = q * last
        below = np.floor(position).astype(np.int64)
        above = np.minimum(below + 1, last)
        lower = np.take_along_axis(ordered, below[None, ...], axis=0)[0]
        upper = np.take_along_axis(ordered, above[None, ...], axis=0)[0]
        value = lower + (upper - lower) * (position - below)
        bounds.append(np.where(count > 0, value, np.nan))
    return bounds[0], bounds[1]


def _nanmean(values: np.ndarray, axis: int | None = None) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # every class undefined
        return np.nanmean(values, axis=axis)
