"""The slice lattice, counted exactly: every conjunction of predicates on distinct columns.

Each column is encoded as disjoint predicates (one code per row, see
:func:`~dcai.analysis._slice_predicates.encode_column`), so the slices over one combination of
columns partition the rows, and one :func:`numpy.bincount` over a combined row code counts the
size and errors of all of them at once. Combinations are walked depth first: the code of a
prefix of columns is compacted to its cells with at least ``min_size`` rows and reused for
every column added after it. A child is never larger than its parent, so dropping the small
cells loses no slice of ``min_size`` rows or more, and each combination of columns yields at
most ``n // min_size`` slices: memory is bounded and the work is one pass over the rows per
combination.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

__all__ = ["Candidates", "count_bound", "enumerate_slices"]

#: Above this many cells, a combination is counted through a sort instead of a dense table.
_DENSE_CELLS = 1 << 22
#: Above this many combinations of columns, :func:`count_bound` gives a cruder bound.
_EXACT_BOUND = 200_000


@dataclass(frozen=True)
class Candidates:
    """Every slice of at least ``min_size`` rows, level by level.

    ``ids[i, :level[i]]`` are the slice's predicates as global ids (column offset + code, in
    column order; the rest is -1); ``total`` is its number of errors (or sum of the loss) and
    ``squares`` its sum of squared losses (``None`` for 0/1 errors).
    """

    ids: np.ndarray
    level: np.ndarray
    size: np.ndarray
    total: np.ndarray
    squares: np.ndarray | None

    def __len__(self) -> int:
        return len(self.size)


def count_bound(n_codes: Sequence[int], level: int, n_rows: int, min_size: int) -> int:
    """An upper bound on the number of slices with ``level`` predicates and ``min_size`` rows.

    A combination of columns has at most as many slices as value combinations, and at most
    ``n_rows // min_size`` of ``min_size`` rows (its slices are disjoint).

    >>> count_bound([2, 3, 50], 2, n_rows=1000, min_size=100)
    26
    """
    per_combination = n_rows // min_size
    n_combinations = math.comb(len(n_codes), level)
    if n_combinations > _EXACT_BOUND:
        return n_combinations * per_combination
    return sum(
        min(math.prod(n_codes[c] for c in combo), per_combination)
        for combo in combinations(range(len(n_codes)), level)
    )


def _dense_limit(n_rows: int) -> int:
    """The most cells counted in a dense table (more go through a sort)."""
    return max(_DENSE_CELLS, 4 * n_rows)


class _Walk:
    def __init__(
        self,
        codes: Sequence[np.ndarray],
        n_codes: Sequence[int],
        errors: np.ndarray,
        binary: bool,
        min_size: int,
        max_level: int,
    ) -> None:
        self.n = len(errors)
        self.n_codes = list(n_codes)
        self.offsets = np.concatenate([[0], np.cumsum(n_codes)[:-1]]).astype(np.int32)
        self.binary = binary
        self.min_size = min_size
        self.max_level = max_level
        if binary:
            # 2 * code + error: one unweighted bincount gives sizes and error counts together.
            bit = errors.astype(np.int32)
            self.codes = [(2 * c.astype(np.int32) + bit) for c in codes]
        else:
            self.codes = [c.astype(np.int32) for c in codes]
            self.loss = errors.astype(np.float64)
            self.loss2 = self.loss * self.loss
        self.buffer = np.empty(self.n, dtype=np.int32)
        self.parts: dict[int, list[tuple[np.ndarray, ...]]] = {}

    def _count(self, index: np.ndarray, n_cells: int) -> tuple[np.ndarray, ...]:
        """Per-cell sizes, error sums and squared-loss sums of the rows' cells ``index``.

        Returns ``(size, total, squares, present, inverse)``: with a dense table, ``present``
        and ``inverse`` are empty and cell ``i`` is ``i``; past ``_DENSE_CELLS`` cells the
        counts go through a sort, ``present`` lists the cells that occur and ``inverse`` gives
        each row's position among them.
        """
        none = np.zeros(0, dtype=np.int64)
        step = 2 if self.binary else 1
        dense = n_cells * step <= _dense_limit(self.n)
        if dense:
            target, length, present, inverse = index, n_cells * step, none, none
        else:
            present, inverse = np.unique(index, return_inverse=True)
            target, length = inverse, len(present)
        if self.binary:
            counts = np.bincount(target, minlength=length)
            if dense:
                pairs = counts.reshape(-1, 2)
                return pairs.sum(axis=1), pairs[:, 1].astype(np.float64), none, none, none
            # Sparse: fold the error bit back into per-cell sums.
            keys, where = np.unique(present // 2, return_inverse=True)
            size = np.bincount(where, weights=counts, minlength=len(keys)).astype(np.int64)
            errs = np.bincount(where, weights=counts * (present % 2), minlength=len(keys))
            return size, errs, none, keys, where[inverse]
        size = np.bincount(target, minlength=length)
        total = np.bincount(target, weights=self.loss, minlength=length)
        squares = np.bincount(target, weights=self.loss2, minlength=length)
        return size, total, squares, present, inverse

    def expand(
        self, prefix: np.ndarray | None, n_prefix: int, cells: np.ndarray, start: int
    ) -> None:
        """Count every child of the ``n_prefix`` cells of ``prefix`` on columns ``start…``."""
        depth = cells.shape[1]
        step = 2 if self.binary else 1
        for c in range(start, len(self.codes)):
            width = self.n_codes[c] + 1
            if prefix is None:
                index, n_cells = self.codes[c], width
            else:
                n_cells = (n_prefix + 1) * width
                # int32 arithmetic is the fast path; a huge sparse table needs int64 codes.
                small = n_cells * step < np.iinfo(np.int32).max
                index = self.buffer if small else np.empty(self.n, dtype=np.int64)
                np.multiply(prefix, width * step, out=index)
                np.add(index, self.codes[c], out=index)
            size, total, squares, present, inverse = self._count(index, n_cells)
            dense = len(inverse) == 0
            cell_ids = np.arange(n_cells) if dense else present
            parent, code = np.divmod(cell_ids, width)
            keep = (parent < n_prefix) & (code < width - 1) & (size >= self.min_size)
            if not keep.any():
                continue
            new_cells = np.hstack([cells[parent[keep]], (self.offsets[c] + code[keep])[:, None]])
            self.parts.setdefault(depth + 1, []).append(
                (
                    new_cells.astype(np.int32),
                    size[keep].astype(np.int64),
                    total[keep],
                    squares[keep] if not self.binary else total[:0],
                )
            )
            if depth + 1 < self.max_level and c + 1 < len(self.codes):
                n_kept = int(keep.sum())
                lut = np.full(len(keep), n_kept, dtype=np.int32)
                lut[keep] = np.arange(n_kept, dtype=np.int32)
                child = np.repeat(lut, step)[index] if dense else lut[inverse]
                self.expand(child, n_kept, new_cells, c + 1)

    def result(self) -> Candidates:
        width = max(self.parts, default=1)
        blocks = [(level, part) for level in sorted(self.parts) for part in self.parts[level]]
        ids = np.full((sum(len(p[1]) for _, p in blocks), width), -1, dtype=np.int32)
        row = 0
        for level, part in blocks:
            ids[row : row + len(part[1]), :level] = part[0]
            row += len(part[1])

        def joined(k: int, dtype: type) -> np.ndarray:
            return np.concatenate([p[k] for _, p in blocks] or [np.zeros(0)]).astype(dtype)

        return Candidates(
            ids=ids,
            level=np.concatenate(
                [np.full(len(p[1]), level, dtype=np.int8) for level, p in blocks]
                or [np.zeros(0, dtype=np.int8)]
            ),
            size=joined(1, np.int64),
            total=joined(2, np.float64),
            squares=None if self.binary else joined(3, np.float64),
        )


def enumerate_slices(
    codes: Sequence[np.ndarray],
    n_codes: Sequence[int],
    errors: np.ndarray,
    *,
    binary: bool,
    min_size: int,
    max_level: int,
) -> Candidates:
    """Size and errors of every slice with at most ``max_level`` predicates and ``min_size`` rows.

    ``codes[j]`` gives each row's predicate in column ``j`` (``n_codes[j]`` meaning none).

    >>> codes = [np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])]
    >>> found = enumerate_slices(codes, [2, 2], np.array([1, 1, 0, 0]), binary=True,
    ...                          min_size=1, max_level=2)
    >>> found.level.tolist(), found.size.tolist(), found.total.tolist()
    ([1, 1, 1, 1, 2, 2, 2, 2], [2, 2, 2, 2, 1, 1, 1, 1], [2.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0])
    """
    walk = _Walk(codes, n_codes, errors, binary, min_size, max_level)
    walk.expand(None, 1, np.zeros((1, 0), dtype=np.int32), 0)
    return walk.result()
