"""ADWIN: an adaptive window that drops its older part when the two parts' means differ.

The method, and why
-------------------
ADWIN (Bifet & Gavaldà 2007) keeps a window of recent samples in an exponential histogram
(at most ``max_buckets`` buckets of each size, sizes doubling towards the past, so a window
of ``W`` samples costs ``O(max_buckets * log W)`` memory). Every ``clock`` samples it checks
each split of the window into an older part ``W0`` (``n0`` samples) and a newer part ``W1``
(``n1``) and cuts when their means differ by at least the variance-aware bound of the paper
(sec. 4, with MOA's ``delta' = delta / ln W``):

    eps = sqrt(2 / m * var_W * ln(2 / delta')) + 2 / (3 m) * ln(2 / delta'),
    1 / m = 1 / n0 + 1 / n1,

dropping the oldest bucket until no split passes. Any cut is an alarm; the window then holds
the samples since the change (ADWIN's restart is this shrinking, not a full reset). As in the
paper the second term assumes values of order [0, 1] (it is the Bernstein range term).

Approximation, and its bound
----------------------------
The finest bucket holds one ``clock``-sample block (32 by default) instead of one sample:
samples are buffered and each full block enters the histogram as one bucket, and the cut
test runs when a block completes — the moment MOA/river's ADWIN, which also checks every
``clock`` samples, runs it. Cut points are therefore multiples of ``clock`` samples back from
the newest one, instead of any bucket boundary; a cut is placed at most ``clock - 1`` samples
away from where sample-level buckets would place it (the histogram's own resolution, one
bucket in ``max_buckets`` of each size, is unchanged above that). Splits with fewer than
``clock`` samples on one side are not tested; sample-level ADWIN with ``clock = 32`` tests
them but almost never cuts there (the bound for ``n1 < 32`` exceeds 0.5 SD at any delta).
This is what makes ``update_many`` cheap: one vectorised cut test per block of samples.

References
----------
Bifet, A., & Gavaldà, R. (2007). Learning from Time-Changing Data with Adaptive Windowing.
*SIAM SDM 2007*, 443–448.
"""

from __future__ import annotations

import math

import numpy as np

from dcai.monitor._stream_base import StreamDetector, check_count, check_probability

__all__ = ["ADWIN"]


class ADWIN(StreamDetector):
    """ADWIN adaptive-window change detector (Bifet & Gavaldà 2007), block-bucketed.

    Parameters
    ----------
    delta:
        Confidence of the cut test: lower means fewer false alarms and later detection.
    clock:
        Samples per block: the finest bucket, and how often the cut test runs.
    max_buckets:
        Buckets of each size kept by the exponential histogram (the paper's ``M``).

    ``width`` is the number of samples in the window and ``estimation`` their mean.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> stream = np.r_[rng.normal(0.3, 0.1, 3000), rng.normal(0.5, 0.1, 1000)]
    >>> adwin = ADWIN()
    >>> alarms = adwin.update_many(stream)  # a 2-SD shift at 3000
    >>> int(alarms[0]), adwin.width < 1000, round(adwin.estimation, 1)
    (3071, True, 0.5)
    """

    def __init__(self, delta: float = 0.002, clock: int = 32, max_buckets: int = 5) -> None:
        self.delta = check_probability("delta", delta)
        self.clock = check_count("clock", clock, minimum=1)
        self.max_buckets = check_count("max_buckets", max_buckets, minimum=2)
        super().__init__()

    def _reset_state(self) -> None:
        cap = 64
        self._buckets = np.zeros((3, cap))  # rows: size, sum, M2 (oldest first)
        self._len = 0
        self._counts: list[int] = []  # buckets per level (level k holds clock * 2**k samples)
        self._pending = np.empty(self.clock)
        self._fill = 0
        self._width = 0.0  # samples, sum and sum of squared deviations of the histogram
        self._total = 0.0
        self._m2 = 0.0

    @property
    def width(self) -> int:
        """Samples in the window (the histogram plus the incomplete block)."""
        return int(self._width) + self._fill

    @property
    def estimation(self) -> float:
        """Mean of the window (nan when empty)."""
        width = self.width
        total = self._total + float(self._pending[: self._fill].sum())
        return total / width if width else float("nan")

    def _scan(self, xs: np.ndarray) -> int:
        need = self.clock - self._fill
        if xs.size < need:
            self._pending[self._fill : self._fill + xs.size] = xs
            self._fill += xs.size
            return -1
        n_full = (xs.size - need) // self.clock
        blocks = np.empty((1 + n_full, self.clock))
        blocks[0, : self._fill] = self._pending[: self._fill]
        blocks[0, self._fill :] = xs[:need]
        blocks[1:] = xs[need : need + n_full * self.clock].reshape(n_full, self.clock)
        sums = blocks.sum(axis=1)
        m2 = ((blocks - (sums / self.clock)[:, None]) ** 2).sum(axis=1)
        self._fill = 0
        for j in range(blocks.shape[0]):
            self._insert(float(sums[j]), float(m2[j]))
            if self._shrink():
                return need - 1 + j * self.clock
        tail = xs[need + n_full * self.clock :]
        self._pending[: tail.size] = tail
        self._fill = tail.size
        return -1

    def _insert(self, total: float, m2: float) -> None:
        if self._len == self._buckets.shape[1]:
            self._buckets = np.concatenate([self._buckets, np.zeros_like(self._buckets)], axis=1)
        self._buckets[:, self._len] = (self.clock, total, m2)
        if self._width:
            diff = total / self.clock - self._total / self._width
            m2 += self._width * self.clock / (self._width + self.clock) * diff * diff
        self._width += self.clock
        self._total += total
        self._m2 += m2
        self._len += 1
        if not self._counts:
            self._counts.append(0)
        self._counts[0] += 1
        level = 0
        while self._counts[level] > self.max_buckets:
            # the run of this level starts after every bucket of the larger levels
            i = self._len - sum(self._counts[: level + 1])
            b = self._buckets
            n1, n2 = b[0, i], b[0, i + 1]
            diff = b[1, i] / n1 - b[1, i + 1] / n2
            merged_m2 = b[2, i] + b[2, i + 1] + n1 * n2 / (n1 + n2) * diff * diff
            b[:, i] = (n1 + n2, b[1, i] + b[1, i + 1], merged_m2)
            b[:, i + 1 : self._len - 1] = b[:, i + 2 : self._len]
            self._len -= 1
            self._counts[level] -= 2
            if level + 1 == len(self._counts):
                self._counts.append(0)
            self._counts[level + 1] += 1
            level += 1

    def _shrink(self) -> bool:
        """Drop the oldest bucket while some split of the window passes the cut test."""
        cut = False
        while self._len >= 2 and self._has_cut():
            cut = True
            size, total, m2 = (float(v) for v in self._buckets[:, 0])
            rest = self._width - size
            diff = total / size - (self._total - total) / rest
            self._m2 -= m2 + size * rest / self._width * diff * diff
            self._width, self._total = rest, self._total - total
            self._buckets[:, : self._len - 1] = self._buckets[:, 1 : self._len]
            self._len -= 1
            top = len(self._counts) - 1
            self._counts[top] -= 1
            while self._counts and self._counts[-1] == 0:
                self._counts.pop()
        return cut

    def _has_cut(self) -> bool:
        # |mean0 - mean1| >= eps, multiplied through by n0 * n1 to save array operations:
        # |s0 W - G n0| - 2/3 L W >= sqrt(2 W var L n0 n1), with L = ln(2 ln W / delta)
        width, grand = self._width, self._total
        var = max(self._m2, 0.0) / width
        log_term = math.log(2.0 * math.log(width) / self.delta)
        n0, s0 = np.cumsum(self._buckets[:2, : self._len - 1], axis=1)
        lhs = np.abs(s0 * width - grand * n0) - (2.0 / 3.0) * log_term * width
        rhs = (2.0 * width * var * log_term) * (n0 * (width - n0))
        return bool(((lhs >= 0.0) & (lhs * lhs >= rhs)).any())
