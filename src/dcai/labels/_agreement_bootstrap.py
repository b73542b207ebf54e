"""Bootstrap over items for agreement statistics, and the per-pair Cohen's kappa table.

Resampling items with replacement is the same as giving each item a weight: how many times it
was drawn. Every statistic in :mod:`dcai.labels._agreement_stats` is a function of weighted
column sums of a per-item :class:`~dcai.labels._agreement_stats.Design`, so one replicate is
one sparse product ``weights @ features``: O(items), never O(labels).

Items with identical features (the same label counts, or for Cohen's kappa the same labels from
the same labelers) are merged into *patterns* first. The pattern counts of a bootstrap sample
are multinomial with the patterns' frequencies, so when there are few patterns they are drawn
directly (O(patterns) per replicate) — the same distribution as drawing items.

Percentile intervals (Efron & Tibshirani 1993, ch. 13): the ``(1 − confidence)/2`` and
``(1 + confidence)/2`` quantiles of the replicates where the statistic is defined.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dcai._intervals import percentile_interval
from dcai.labels._agreement_kernels import Design, Sums

__all__ = ["PairTable", "bootstrap", "pair_table", "pattern_keys", "percentile_interval"]

#: Cap on the cells of one chunk of replicates (weights or sums), about 32 MB of float64.
_CHUNK_CELLS = 4_000_000
#: Keys are exact only while base ** positions stays below this.
_KEY_LIMIT = 2**62


def pattern_keys(
    item: np.ndarray, position: np.ndarray, digit: np.ndarray, n_items: int, base: int, width: int
) -> np.ndarray | None:
    """One exact int64 key per item from its sparse (position, digit) entries, or None.

    Two items get the same key exactly when they have the same digit at every position
    (digits in ``1..base-1``, absent positions 0). None when ``base ** width`` would overflow.
    """
    if base < 2 or base**width >= _KEY_LIMIT:
        return None
    powers = np.array([base**p for p in range(width)], dtype=np.int64)
    keys = np.zeros(n_items, dtype=np.int64)
    np.add.at(keys, item, digit.astype(np.int64) * powers[position])
    return keys


def bootstrap(
    design: Design,
    keys: np.ndarray | None,
    statistic: Callable[[Sums], np.ndarray],
    *,
    n_boot: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """``statistic`` on ``n_boot`` resamples of the design's rows (items), stacked by replicate."""
    results = [statistic(sums) for sums in _resampled_sums(design, keys, n_boot=n_boot, rng=rng)]
    return np.concatenate(results, axis=0) if results else np.zeros((0,))


def _resampled_sums(
    design: Design, keys: np.ndarray | None, *, n_boot: int, rng: np.random.Generator
) -> Iterator[Sums]:
    from scipy import sparse

    n = design.n_rows
    rows, cols, data = design.triplets()
    freq = np.ones(n, dtype=np.int64)
    if keys is not None:
        _, first, pattern_freq = np.unique(keys, return_index=True, return_counts=True)
        # multinomial over patterns costs ~0.1 µs per pattern, drawing an item ~0.025 µs: merge
        # items into patterns only when that pays; otherwise draw items directly
        if 4 * len(first) < n:
            pattern_of = np.full(n, -1, dtype=np.int64)
            pattern_of[first] = np.arange(len(first))
            keep = pattern_of[rows] >= 0
            rows, cols, data = pattern_of[rows[keep]], cols[keep], data[keep]
            freq = pattern_freq
    n_patterns = len(freq)
    by_pattern = n_patterns < n
    # features transposed, (width × patterns) in CSC: the product walks the weights row by row
    # (sequential reads) into a small output that stays in cache, ~4× faster than CSR
    features_t = sparse.csc_matrix((data, (cols, rows)), shape=(design.width, n_patterns))
    per_replicate = max(n_patterns if by_pattern else n, design.width, 1)
    chunk = int(max(1, min(n_boot, _CHUNK_CELLS // per_replicate)))
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        if by_pattern:
            weights = rng.multinomial(n, freq / n, size=b).astype(np.float64)
        else:
            drawn = rng.integers(0, n, size=(b, n))
            drawn += (np.arange(b, dtype=np.int64) * n)[:, None]
            tally = np.bincount(drawn.ravel(), minlength=b * n_patterns)
            weights = tally.reshape(b, n_patterns).astype(np.float64)
        values = np.asarray(features_t @ np.ascontiguousarray(weights.T)).T
        yield Sums(values, design.slices)
        done += b


# --------------------------------------------------------------------------- Cohen's kappa per pair


@dataclass(frozen=True)
class PairTable:
    """Every pair of labelers with common items, and the per-(item, pair) label cells.

    ``a``/``b`` index the (sorted) labelers with ``a < b``; ``kappa`` is NaN where undefined.
    """

    a: np.ndarray
    b: np.ndarray
    n_common: np.ndarray
    agree: np.ndarray
    kappa: np.ndarray
    single_class: np.ndarray  # both labelers used one and the same class: chance agreement 1
    # per (item, pair) rows, for the bootstrap
    row_item: np.ndarray
    row_pair: np.ndarray
    row_x: np.ndarray
    row_y: np.ndarray


def pair_table(
    item: np.ndarray, annotator: np.ndarray, cls: np.ndarray, n_annotators: int, n_classes: int
) -> PairTable:
    """Cohen's kappa of every labeler pair on their common items (label rows sorted by item)."""
    from dcai.labels._agreement_kernels import within_item_pairs

    order = np.lexsort((annotator, item))
    item, annotator, cls = item[order], annotator[order], cls[order]
    left, right = within_item_pairs(item)
    raw = annotator[left].astype(np.int64) * n_annotators + annotator[right]
    pair_keys, pair = np.unique(raw, return_inverse=True)
    pair = pair.reshape(-1)
    n_pairs = len(pair_keys)
    x, y = cls[left], cls[right]
    n_common = np.bincount(pair, minlength=n_pairs).astype(np.float64)
    agree = np.bincount(pair, weights=(x == y).astype(np.float64), minlength=n_pairs)
    chance = _chance_products(pair, x, y, n_pairs, n_classes)
    kappa, single = kappa_from(n_common, agree, chance)
    a, b = np.divmod(pair_keys, n_annotators)
    return PairTable(a, b, n_common, agree, kappa, single, item[left], pair, x, y)


def _chance_products(
    pair: np.ndarray, x: np.ndarray, y: np.ndarray, n_pairs: int, n_classes: int
) -> np.ndarray:
    """``Σ_c r_c s_c`` per pair: row and column class totals of each pair's confusion table."""
    r_keys, r_counts = np.unique(pair * n_classes + x, return_counts=True)
    s_keys, s_counts = np.unique(pair * n_classes + y, return_counts=True)
    _, ri, si = np.intersect1d(r_keys, s_keys, assume_unique=True, return_indices=True)
    products = r_counts[ri].astype(np.float64) * s_counts[si]
    return np.bincount(r_keys[ri] // n_classes, weights=products, minlength=n_pairs)


def kappa_from(
    n: np.ndarray, agree: np.ndarray, chance: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``κ = (agree·n − Σ r s) / (n² − Σ r s)``; NaN where ``n = 0`` or chance agreement is 1."""
    den = n * n - chance
    single = (n > 0) & (den <= 0)
    out = np.full(np.shape(n), np.nan)
    np.divide(agree * n - chance, den, out=out, where=den > 0)
    return out, single


def cohen_design(
    pairs: PairTable, included: np.ndarray, n_items: int, n_classes: int
) -> tuple[Design, Callable[[Sums], np.ndarray]]:
    """A design whose sums give every included pair's confusion cells, and the mean-κ statistic."""
    from scipy import sparse

    keep = included[pairs.row_pair]
    pair_index = np.cumsum(included) - 1
    pair = pair_index[pairs.row_pair[keep]]
    x, y = pairs.row_x[keep], pairs.row_y[keep]
    k = n_classes
    cell_keys, cell = np.unique((pair * k + x) * k + y, return_inverse=True)
    design = Design(n_items)
    design.add("cells", pairs.row_item[keep], cell.reshape(-1), np.ones(len(pair)), len(cell_keys))
    cell_pair, rest = np.divmod(cell_keys, k * k)
    cell_x, cell_y = np.divmod(rest, k)
    n_inc = int(included.sum())
    n_cells = len(cell_keys)
    ones = np.ones(n_cells)
    to_pair = sparse.csr_matrix((ones, (np.arange(n_cells), cell_pair)), shape=(n_cells, n_inc))
    diagonal = (cell_x == cell_y).astype(np.float64)
    to_agree = sparse.csr_matrix(
        (diagonal, (np.arange(n_cells), cell_pair)), shape=(n_cells, n_inc)
    )
    margin_keys, margin = np.unique(
        np.concatenate([cell_pair * k + cell_x, cell_pair * k + cell_y]), return_inverse=True
    )
    margin = margin.reshape(-1)
    n_margins = len(margin_keys)
    to_rows = sparse.csr_matrix(
        (ones, (np.arange(n_cells), margin[:n_cells])), shape=(n_cells, n_margins)
    )
    to_cols = sparse.csr_matrix(
        (ones, (np.arange(n_cells), margin[n_cells:])), shape=(n_cells, n_margins)
    )
    margin_pair = sparse.csr_matrix(
        (np.ones(n_margins), (np.arange(n_margins), margin_keys // k)), shape=(n_margins, n_inc)
    )

    def mean_kappa(sums: Sums) -> np.ndarray:
        cells = sums["cells"]
        n = np.asarray(cells @ to_pair)
        agree = np.asarray(cells @ to_agree)
        chance = np.asarray(
            (np.asarray(cells @ to_rows) * np.asarray(cells @ to_cols)) @ margin_pair
        )
        kappa, _ = kappa_from(n, agree, chance)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a replicate where no pair is defined
            mean: np.ndarray = np.nanmean(kappa, axis=1)
        return mean

    return design, mean_kappa


def pairs_frame(pairs: PairTable, annotators: pd.Index, min_common: int) -> pd.DataFrame:
    """The public ``pairs`` table: one row per labeler pair with common items."""
    n = pairs.n_common
    notes: list[str | None] = []
    for count, value, single in zip(n, pairs.kappa, pairs.single_class, strict=True):
        if single:
            notes.append("kappa undefined: both gave one and the same class (chance agreement 1)")
        elif count < min_common:
            notes.append(f"fewer than {min_common} common items: left out of the mean kappa")
        elif not np.isfinite(value):
            notes.append("kappa undefined")
        else:
            notes.append(None)
    return pd.DataFrame(
        {
            "annotator_a": pd.Series(annotators[pairs.a], dtype=object),
            "annotator_b": pd.Series(annotators[pairs.b], dtype=object),
            "n_common": n.astype(np.int64),
            "percent_agreement": pairs.agree / np.maximum(n, 1),
            "cohen_kappa": pairs.kappa,
            "note": pd.Series(notes, dtype=object),
        }
    )
