"""Sufficient statistics of agreement: per-item label counts as weighted feature sums.

Every multi-labeler statistic in :mod:`dcai.labels._agreement_stats` is a function of
*weighted column sums of per-item features* (a :class:`Design`). With all weights 1 the sums
give the statistic; with the number of times each item was drawn they give one bootstrap
replicate (:mod:`dcai.labels._agreement_bootstrap`), so a replicate costs O(items), never
O(labels). The ``*_from`` functions turn sums into statistics, vectorised over replicates, and
return NaN where a statistic is undefined; the public functions turn that into an error and
the report into ``None`` with a reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from dcai.errors import InvalidInputError

__all__ = [
    "LEVELS",
    "Design",
    "ItemCounts",
    "Level",
    "Sums",
    "add_agreement_blocks",
    "add_alpha_blocks",
    "add_fleiss_blocks",
    "alpha_from",
    "as_numbers",
    "check_level",
    "fleiss_from",
    "item_counts",
    "modal_raters",
    "percent_from",
    "rows_of",
    "sorted_values",
    "specific_from",
    "table_counts",
    "within_item_pairs",
]

Level = Literal["nominal", "ordinal", "interval"]
LEVELS: tuple[str, ...] = ("nominal", "ordinal", "interval")

#: A replicate's interval-alpha denominator below this share of its scale is "all values equal".
_INTERVAL_ZERO = 1e-12


def rows_of(mask: np.ndarray) -> list[int]:
    """1-based positions of the true entries of ``mask``."""
    return [int(i) + 1 for i in np.flatnonzero(mask)]


def check_level(level: object) -> str:
    """Validate a level of measurement."""
    if level not in LEVELS:
        raise InvalidInputError(
            f"level must be one of {', '.join(LEVELS)}; got {level!r}",
            hint='Use "nominal" for categories, "ordinal" for ordered ones, "interval" for numbers.',
        )
    return str(level)


def sorted_values(values: Sequence[Any] | np.ndarray) -> list[Any]:
    """Distinct values in sorted order (by their text when the types do not compare)."""
    unique = list(pd.unique(np.asarray(values, dtype=object)))
    try:
        return sorted(unique)
    except TypeError:
        return sorted(unique, key=str)


def as_numbers(values: Sequence[Any] | np.ndarray) -> np.ndarray | None:
    """The values as float64 when all are finite real numbers (not text, not booleans), else None.

    >>> as_numbers([1, 2.5]), as_numbers(["1", "2"])
    (array([1. , 2.5]), None)
    """
    array = np.asarray(values, dtype=object)
    if len(array) == 0:
        return np.zeros(0)
    if pd.api.types.infer_dtype(array, skipna=False) not in (
        "integer",
        "floating",
        "mixed-integer-float",
        "decimal",
    ):
        return None
    numbers = array.astype(np.float64)
    return numbers if np.isfinite(numbers).all() else None


# --------------------------------------------------------------------------- per-item counts


@dataclass(frozen=True)
class ItemCounts:
    """Sparse items × classes label counts of the *pairable* items (those with ≥ 2 labels).

    Entries are sorted by item, then class; ``kept`` maps the pairable items back to the
    caller's item indices.
    """

    item: np.ndarray  # (nnz,) item index 0..n_items-1
    cls: np.ndarray  # (nnz,) class code 0..n_classes-1
    cnt: np.ndarray  # (nnz,) float: labelers giving that class to that item
    m: np.ndarray  # (n_items,) float: labels per item
    n_classes: int
    kept: np.ndarray  # (n_items,) caller's item index

    @property
    def n_items(self) -> int:
        return len(self.m)


def item_counts(item: np.ndarray, cls: np.ndarray, n_items: int, n_classes: int) -> ItemCounts:
    """Count labels per (item, class) from one row per label; keep items with ≥ 2 labels."""
    key = item.astype(np.int64) * max(n_classes, 1) + cls.astype(np.int64)
    uniq, cnt = np.unique(key, return_counts=True)
    it, cl = np.divmod(uniq, max(n_classes, 1))
    return _keep_pairable(it, cl, cnt.astype(np.float64), n_items, n_classes)


def _keep_pairable(
    it: np.ndarray, cl: np.ndarray, cnt: np.ndarray, n_items: int, n_classes: int
) -> ItemCounts:
    m_all = np.bincount(it, weights=cnt, minlength=n_items)
    keep = m_all >= 2
    new_index = np.cumsum(keep) - 1
    sel = keep[it]
    return ItemCounts(
        item=new_index[it[sel]],
        cls=cl[sel],
        cnt=cnt[sel],
        m=m_all[keep],
        n_classes=n_classes,
        kept=np.flatnonzero(keep),
    )


def within_item_pairs(item: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``(i, j)``, ``i < j``, of entries with the same item (``item`` sorted).

    >>> left, right = within_item_pairs(np.array([0, 0, 0, 1, 2, 2]))
    >>> list(zip(left.tolist(), right.tolist()))
    [(0, 1), (0, 2), (1, 2), (4, 5)]
    """
    n = len(item)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    starts = np.flatnonzero(np.r_[True, item[1:] != item[:-1]])
    lengths = np.diff(np.r_[starts, n])
    position = np.arange(n) - np.repeat(starts, lengths)
    partners = np.repeat(lengths, lengths) - 1 - position
    left = np.repeat(np.arange(n), partners)
    first = np.repeat(np.cumsum(partners) - partners, partners)
    right = left + (np.arange(len(left)) - first) + 1
    return left, right


# --------------------------------------------------------------------------- designs and sums


@dataclass
class Design:
    """Per-row features (rows = items or item patterns) in named column blocks.

    Column sums weighted by how often each row counts are the sufficient statistics of every
    agreement statistic here; see :class:`Sums`.
    """

    n_rows: int
    slices: dict[str, slice] = field(default_factory=dict)
    width: int = 0
    _rows: list[np.ndarray] = field(default_factory=list)
    _cols: list[np.ndarray] = field(default_factory=list)
    _data: list[np.ndarray] = field(default_factory=list)

    def add(
        self, name: str, rows: np.ndarray, cols: np.ndarray, data: np.ndarray, width: int
    ) -> None:
        self.slices[name] = slice(self.width, self.width + width)
        self._rows.append(np.asarray(rows, dtype=np.int64))
        self._cols.append(np.asarray(cols, dtype=np.int64) + self.width)
        self._data.append(np.asarray(data, dtype=np.float64))
        self.width += width

    def add_column(self, name: str, values: np.ndarray) -> None:
        self.add(name, np.arange(self.n_rows), np.zeros(self.n_rows), values, 1)

    def triplets(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self._rows:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0)
        return np.concatenate(self._rows), np.concatenate(self._cols), np.concatenate(self._data)

    def totals(self) -> Sums:
        """The sums with every row counted once: the point estimate's statistics."""
        _, cols, data = self.triplets()
        values = np.bincount(cols, weights=data, minlength=self.width)
        return Sums(values[None, :], self.slices)


@dataclass(frozen=True)
class Sums:
    """Weighted column sums of a :class:`Design`, one row per replicate."""

    values: np.ndarray  # (b, width)
    slices: Mapping[str, slice]

    def __getitem__(self, name: str) -> np.ndarray:
        block: np.ndarray = self.values[:, self.slices[name]]
        return block

    def scalar(self, name: str) -> np.ndarray:
        column: np.ndarray = self.values[:, self.slices[name].start]
        return column


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def add_agreement_blocks(design: Design, counts: ItemCounts) -> None:
    """Features of percent agreement and specific agreement (and class totals ``n_c``)."""
    item, cls, cnt, m, k = counts.item, counts.cls, counts.cnt, counts.m, counts.n_classes
    design.add_column("pairs", m * (m - 1))
    design.add("agree", item, np.zeros_like(item), cnt * (cnt - 1), 1)
    if "n_c" not in design.slices:
        design.add("n_c", item, cls, cnt, k)
    design.add("c_agree", item, cls, cnt * (cnt - 1), k)
    design.add("c_pairs", item, cls, cnt * (m[item] - 1), k)


def add_alpha_blocks(
    design: Design, counts: ItemCounts, level: str, values: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Features of Krippendorff's alpha; returns the class pairs of the ordinal block ``o``.

    ``values`` (interval level) are the numbers the class codes stand for.
    """
    item, cls, cnt, m, k = counts.item, counts.cls, counts.cnt, counts.m, counts.n_classes
    n = counts.n_items
    design.add_column("m", m)
    no_pairs = np.zeros(0, dtype=np.int64)
    if level == "nominal":
        if "n_c" not in design.slices:
            design.add("n_c", item, cls, cnt, k)
        # Σ_{c≠k} o_ck of one item: (m² − Σ_c n_c²) / (m − 1)
        design.add_column(
            "do", (m * m - np.bincount(item, weights=cnt * cnt, minlength=n)) / (m - 1)
        )
        return no_pairs, no_pairs
    left, right = within_item_pairs(item)
    if level == "interval":
        assert values is not None
        present = np.unique(cls)
        # Shift by the smallest pairable value: distances are unchanged, and a single distinct
        # value becomes exactly 0, so its zero denominator is detected exactly.
        numbers = np.asarray(values, dtype=np.float64)
        v = numbers - (numbers[present].min() if len(present) else 0.0)
        vi = v[cls]
        design.add_column("s1", np.bincount(item, weights=cnt * vi, minlength=n))
        design.add_column("s2", np.bincount(item, weights=cnt * vi * vi, minlength=n))
        spread = cnt[left] * cnt[right] * (vi[left] - vi[right]) ** 2
        design.add_column("do", 2 * np.bincount(item[left], weights=spread, minlength=n) / (m - 1))
        return no_pairs, no_pairs
    # ordinal: distances depend on the class totals, so keep the coincidences o_ck (c < k)
    if "n_c" not in design.slices:
        design.add("n_c", item, cls, cnt, k)
    pair_ids, inverse = np.unique(cls[left] * k + cls[right], return_inverse=True)
    coincidence = cnt[left] * cnt[right] / (m[item[left]] - 1)
    design.add("o", item[left], inverse.reshape(-1), coincidence, len(pair_ids))
    pair_c, pair_k = np.divmod(pair_ids, k)
    return pair_c, pair_k


def add_fleiss_blocks(design: Design, counts: ItemCounts, raters: int) -> None:
    """Features of Fleiss' kappa over the items with exactly ``raters`` labels."""
    item, cls, cnt, m, k = counts.item, counts.cls, counts.cnt, counts.m, counts.n_classes
    chosen = (m == raters).astype(np.float64)
    design.add_column("f_items", chosen)
    squares = np.bincount(item, weights=cnt * cnt, minlength=counts.n_items)
    design.add_column("f_q", squares * chosen)
    keep = chosen[item] > 0
    design.add("f_n_c", item[keep], cls[keep], cnt[keep], k)


def percent_from(sums: Sums) -> np.ndarray:
    """Pairwise percent agreement per replicate (NaN when no pairs)."""
    return _ratio(sums.scalar("agree"), sums.scalar("pairs"))


def specific_from(sums: Sums) -> np.ndarray:
    """Specific agreement per replicate × class (NaN for a class with no pairable label)."""
    return _ratio(sums["c_agree"], sums["c_pairs"])


def alpha_from(
    sums: Sums, level: str, pair_c: np.ndarray | None = None, pair_k: np.ndarray | None = None
) -> np.ndarray:
    """Krippendorff's alpha per replicate: ``1 − (n − 1) Σ o·δ² / Σ n_c n_k δ²`` (NaN if undefined)."""
    n = sums.scalar("m")
    do = sums.scalar("do") if level != "ordinal" else None
    if level == "nominal":
        nc = sums["n_c"]
        de = n * n - (nc * nc).sum(axis=1)
        defined = (nc > 0).sum(axis=1) >= 2
    elif level == "interval":
        s1, s2 = sums.scalar("s1"), sums.scalar("s2")
        de = 2 * (n * s2 - s1 * s1)
        defined = de > _INTERVAL_ZERO * n * s2
    else:
        assert pair_c is not None and pair_k is not None
        nc = sums["n_c"]
        # Krippendorff's ordinal distance between ranks c ≤ k is Σ_{g=c..k} n_g − (n_c + n_k)/2,
        # which equals t_k − t_c for midranks t_g = Σ_{h≤g} n_h − n_g/2; centring t at n/2
        # leaves distances unchanged and keeps the sums of squares well conditioned.
        t = np.cumsum(nc, axis=1) - nc / 2 - n[:, None] / 2
        de = 2 * (n * (nc * t * t).sum(axis=1) - (nc * t).sum(axis=1) ** 2)
        do = 2 * (sums["o"] * (t[:, pair_c] - t[:, pair_k]) ** 2).sum(axis=1)
        defined = (nc > 0).sum(axis=1) >= 2
    assert do is not None
    out = np.full(len(n), np.nan)
    np.divide((n - 1) * do, de, out=out, where=defined & (de > 0))
    return np.where(defined & (de > 0), 1.0 - out, np.nan)


def fleiss_from(sums: Sums, raters: int) -> np.ndarray:
    """Fleiss' kappa per replicate (NaN if no item or a single class)."""
    n_items, squares, nc = sums.scalar("f_items"), sums.scalar("f_q"), sums["f_n_c"]
    total = n_items * raters
    p_bar = _ratio(squares - total, total * (raters - 1))
    p_c = _ratio(nc, total[:, None])
    p_e = (p_c * p_c).sum(axis=1)
    defined = (n_items > 0) & ((nc > 0).sum(axis=1) >= 2)
    out = np.full(len(n_items), np.nan)
    np.divide(p_bar - p_e, 1 - p_e, out=out, where=defined)
    return out


def modal_raters(per_item: np.ndarray) -> int:
    """The most common number of labels among items with ≥ 2 (ties: the larger number)."""
    numbers, freq = np.unique(per_item[per_item >= 2], return_counts=True)
    if len(numbers) == 0:
        return 0
    return int(numbers[np.flatnonzero(freq == freq.max())[-1]])


def table_counts(table: np.ndarray) -> ItemCounts:
    it, cl = np.nonzero(table)
    return _keep_pairable(
        it.astype(np.int64), cl.astype(np.int64), table[it, cl], table.shape[0], table.shape[1]
    )
