"""The two-sample statistics behind :mod:`dcai.monitor.drift`, numpy and SciPy only.

Kolmogorov–Smirnov and Wasserstein-1 are computed from a *stored sorted* reference (or a
quantile grid of it) and a sorted current sample with ``np.searchsorted``, so a check never
re-sorts the reference. The KS p-value follows ``scipy.stats.ks_2samp``'s default choice: exact
when both samples have at most 10,000 values, the Kolmogorov distribution ``kstwo`` at the
effective size otherwise — except where SciPy's ``kstwo.sf`` is slow at an effective size of
at least 10,000: in the far tail (p < 1e-7) the limiting distribution, within 1e-9 of it, is
used; between there and ``n d^2 = 2.2`` (p below about 0.02), one minus ``kstwo.cdf`` (the
Pelz-Good expansion), within 5e-8 of it.

>>> import numpy as np
>>> ref = np.sort(np.random.default_rng(0).normal(size=200))
>>> cur = np.sort(np.random.default_rng(1).normal(0.5, 1, size=300))
>>> d, w = ks_and_wasserstein(SortedReference.build(ref), cur)
>>> from scipy.stats import ks_2samp, wasserstein_distance
>>> bool(abs(d - ks_2samp(ref, cur).statistic) < 1e-12)
True
>>> bool(abs(w - wasserstein_distance(ref, cur)) < 1e-12)
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "SortedReference",
    "adjust_pvalues",
    "bootstrap_categorical",
    "bootstrap_wasserstein",
    "chi2_goodness_of_fit",
    "chi2_homogeneity",
    "js_distance",
    "ks_and_wasserstein",
    "ks_pvalue",
    "psi",
    "two_proportion_z",
]

#: ``scipy.stats.ks_2samp(method="auto")`` is exact up to this many values per sample.
KS_EXACT_MAX_N = 10_000
#: Far-tail shortcut of :func:`ks_pvalue` (see there): effective size and p-value bounds.
_FAST_TAIL_MIN_N = 10_000
_FAST_TAIL_P = 1e-7
#: ``kstwo.sf`` switches to the term-by-term Smirnov sum where ``n d^2`` reaches this.
_SMIRNOV_ZONE = 2.2
#: Proportion that replaces an empty cell in PSI (so ``log(0)`` never occurs).
PSI_EPSILON = 1e-4
#: A contingency cell whose expected count is below this is pooled (Cochran's rule).
MIN_EXPECTED = 5.0


@dataclass(frozen=True)
class SortedReference:
    """A sorted reference (all finite values, or an equal-weight quantile grid of them).

    ``unique`` holds the distinct values and ``cdf`` the reference ECDF just right of each,
    computed once so that a check only searches the *current* sample.
    """

    values: np.ndarray
    unique: np.ndarray
    cdf: np.ndarray

    @classmethod
    def build(cls, values: np.ndarray) -> SortedReference:
        """Wrap already-sorted finite ``values`` (float64)."""
        values = np.asarray(values, dtype=np.float64)
        if values.size == 0:
            return cls(values, values, values)
        last = np.r_[values[1:] != values[:-1], True]
        unique = values[last]
        cdf = (np.flatnonzero(last) + 1) / values.size
        return cls(values, unique, cdf)


def ks_and_wasserstein(
    ref: SortedReference, current_sorted: np.ndarray, *, block: int = 1 << 16
) -> tuple[float, float]:
    """The KS statistic ``sup |F_ref - F_cur|`` and the Wasserstein-1 distance ``∫|F_ref - F_cur|``.

    Both ECDFs are right-continuous steps, so the supremum and the integral only need their
    values at the points of the two samples. The reference's distinct points are inserted
    into the sorted current sample where they belong (``np.searchsorted``, then a linear
    ``np.insert``, no sort of the union). The current sample is walked in blocks of
    ``block`` values, so the working memory stays a few blocks whatever its size.
    """
    cur = current_sorted
    n2 = cur.size
    m = ref.values.size
    # Reference point k sits right after cur[at[k] - 1]; right of it F_cur = at[k] / n2.
    at = np.searchsorted(cur, ref.unique, side="right")
    ref_gap = np.abs(ref.cdf - at / n2)
    d = float(ref_gap.max(initial=0.0))
    lead = int(np.searchsorted(at, 0, side="right"))  # reference points below every current one
    w = float(np.sum(ref_gap[:lead] * np.diff(np.append(ref.unique[:lead], cur[0]))))
    for start in range(0, n2, block):
        stop = min(start + block, n2)
        values = cur[start:stop]
        after = cur[stop] if stop < n2 else None
        # Right of each current point: F_ref by search, F_cur = (i + 1) / n2.
        gap = np.searchsorted(ref.values, values, side="right") / m
        gap -= np.arange(start + 1, stop + 1) / n2
        np.abs(gap, out=gap)
        # At a repeated value only its last copy carries the true F_cur.
        last = np.empty(values.size, dtype=bool)
        np.not_equal(values[1:], values[:-1], out=last[:-1])
        last[-1] = after is None or bool(after != values[-1])
        d = max(d, float(np.max(gap, where=last, initial=0.0)))
        lo = int(np.searchsorted(at, start + 1, side="left"))
        hi = int(np.searchsorted(at, stop, side="right"))
        points = np.insert(values, at[lo:hi] - start, ref.unique[lo:hi])
        gaps = np.insert(gap, at[lo:hi] - start, ref_gap[lo:hi])
        if after is not None:
            points = np.append(points, after)
        else:
            gaps = gaps[:-1]
        w += float(np.dot(gaps, np.diff(points)))
    return d, w


def ks_pvalue(d: float, n1: int, n2: int) -> float:
    """Two-sided p-value of a two-sample KS statistic, as ``ks_2samp(method="auto")`` gives it."""
    if max(n1, n2) <= KS_EXACT_MAX_N:
        exact = _exact_ks_pvalue(d, n1, n2)
        if exact is not None:
            return exact
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = float(np.round(m * n / (m + n)))
    if en >= _FAST_TAIL_MIN_N:
        # SciPy's kstwo.sf takes ~0.5 s per call in the far tail at large n; there the limiting
        # Kolmogorov distribution is within 0.5 % (relative) of it, so within 1e-9 absolute.
        limit = float(stats.kstwobign.sf(d * math.sqrt(en)))
        if limit < _FAST_TAIL_P:
            return limit
        if d * d * en >= _SMIRNOV_ZONE:
            # Here kstwo.sf sums 2 * smirnov(n, d) term by term: 0.6 s per call at n = 500,000.
            # kstwo.cdf uses the Pelz-Good expansion (Simard & L'Ecuyer 2011) instead; one
            # minus it is within 5e-8 of kstwo.sf for every p >= 1e-7 at n >= 10,000.
            return float(np.clip(1.0 - stats.kstwo.cdf(d, en), 0.0, 1.0))
    return float(np.clip(stats.kstwo.sf(d, en), 0.0, 1.0))


def _exact_ks_pvalue(d: float, n1: int, n2: int) -> float | None:
    # SciPy's own exact routine (a private name), so the p-values agree with ks_2samp to the
    # last bit. Should a SciPy release move it, the asymptotic formula is used and the
    # agreement tests in tests/monitor/test_drift.py say so.
    try:
        from scipy.stats._stats_py import _attempt_exact_2kssamp
    except ImportError:  # pragma: no cover - depends on the SciPy release
        return None
    success, _, prob = _attempt_exact_2kssamp(n1, n2, math.gcd(n1, n2), d, "two-sided")
    if not success:
        return None
    return float(np.clip(prob, 0.0, 1.0))


def _union_grid(k1: int, k2: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Breakpoints of two empirical quantile functions with ``k1`` and ``k2`` equal steps."""
    p = np.union1d(np.arange(1, k1 + 1) / k1, np.arange(1, k2 + 1) / k2)
    dp = np.diff(np.r_[0.0, p])
    mid = p - dp / 2
    ia = np.minimum((mid * k1).astype(np.int64), k1 - 1)
    ib = np.minimum((mid * k2).astype(np.int64), k2 - 1)
    return dp, ia, ib


def bootstrap_wasserstein(
    ref_values: np.ndarray,
    n_ref: int,
    current: np.ndarray,
    estimate: float,
    *,
    scale: float,
    n_boot: int,
    cap: int,
    rng: np.random.Generator,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Interval for ``W1 / scale``: bootstrap of both samples, capped at ``cap`` draws each.

    Below the cap this is the percentile bootstrap. Above it, replicates are drawn at the cap
    size (an m-out-of-n bootstrap, Bickel, Götze & van Zwet 1997) and their spread around the
    replicate median is shrunk by ``sqrt(m_eff / n_eff)`` (``n_eff = n1 n2 / (n1 + n2)``) and
    centred on the full-sample ``estimate``: the root-n rate of W1 between distinct
    distributions. The cost is ``O(n_boot * cap log cap)``, whatever the sample sizes.
    """
    n_cur = current.size
    k1, k2 = min(n_ref, cap), min(n_cur, cap)
    a = np.sort(rng.choice(ref_values, size=(n_boot, k1)), axis=1)
    b = np.sort(rng.choice(current, size=(n_boot, k2)), axis=1)
    dp, ia, ib = _union_grid(k1, k2)
    reps = (np.abs(a[:, ia] - b[:, ib]) * dp).sum(axis=1) / scale
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(reps, [alpha, 1.0 - alpha])
    if k1 == n_ref and k2 == n_cur:
        return float(lo), float(hi)
    shrink = math.sqrt((k1 * k2 / (k1 + k2)) / (n_ref * n_cur / (n_ref + n_cur)))
    mid = float(np.median(reps))
    return max(0.0, estimate + (lo - mid) * shrink), estimate + (hi - mid) * shrink


def _js_rows(p: np.ndarray, q: np.ndarray, base: float) -> np.ndarray:
    """Jensen–Shannon distance between matching rows of two proportion arrays."""
    m = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / m), 0.0).sum(axis=-1)
        kl_q = np.where(q > 0, q * np.log(q / m), 0.0).sum(axis=-1)
    js = np.maximum((kl_p + kl_q) / 2.0, 0.0) / math.log(base)
    return np.asarray(np.sqrt(js))


def js_distance(ref_counts: np.ndarray, cur_counts: np.ndarray, base: float = 2.0) -> float:
    """Jensen–Shannon distance (Lin 1991) of two count vectors over the same categories."""
    p = ref_counts / ref_counts.sum()
    q = cur_counts / cur_counts.sum()
    return float(_js_rows(p, q, base))


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Population stability index ``sum (q - p) ln(q / p)``; empty cells count as 1e-4."""
    p = np.maximum(ref_counts / ref_counts.sum(), PSI_EPSILON)
    q = np.maximum(cur_counts / cur_counts.sum(), PSI_EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def bootstrap_categorical(
    ref_counts: np.ndarray,
    cur_counts: np.ndarray,
    *,
    n_boot: int,
    rng: np.random.Generator,
    base: float = 2.0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of the JS distance: multinomial resampling of both count vectors.

    Resampling counts costs ``O(n_boot * K)``, independent of the number of rows.
    """
    n1, n2 = int(ref_counts.sum()), int(cur_counts.sum())
    r = rng.multinomial(n1, ref_counts / n1, size=n_boot) / n1
    c = rng.multinomial(n2, cur_counts / n2, size=n_boot) / n2
    reps = _js_rows(r, c, base)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(reps, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


@dataclass(frozen=True)
class Chi2Result:
    statistic: float
    p_value: float
    pooled: int  # categories pooled into one cell
    cells: int  # cells of the table tested
    joined: int | None = None  # index of the category the still-rare pool joined


def chi2_homogeneity(ref_counts: np.ndarray, cur_counts: np.ndarray) -> Chi2Result | None:
    """Chi-square test of homogeneity on the 2 × K table, rare categories pooled first.

    A category whose expected count (under homogeneity) is below 5 in either row joins one
    pooled cell; if that cell is itself still below 5 it joins the smallest other category.
    ``None`` when fewer than two cells remain (nothing to compare). The test is
    ``scipy.stats.chi2_contingency`` with its defaults (Yates's correction when dof = 1).
    """
    table = np.vstack([ref_counts, cur_counts]).astype(np.float64)
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    rare = expected.min(axis=0) < MIN_EXPECTED
    pooled = int(rare.sum())
    joined = None
    if pooled:
        keep = table[:, ~rare]
        pool = table[:, rare].sum(axis=1, keepdims=True)
        pool_expected = np.outer(table.sum(axis=1), pool.sum(axis=0)) / table.sum()
        if pool_expected.min() < MIN_EXPECTED and keep.shape[1] > 0:
            smallest = int(np.argmin(keep.sum(axis=0)))
            joined = int(np.flatnonzero(~rare)[smallest])
            keep = keep.copy()
            keep[:, smallest] += pool[:, 0]
        else:
            keep = np.hstack([keep, pool])
        table = keep
    if table.shape[1] < 2:
        return None
    result = stats.chi2_contingency(table)
    return Chi2Result(float(result.statistic), float(result.pvalue), pooled, table.shape[1], joined)


def chi2_goodness_of_fit(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """Evidently's small-data test: current counts against the reference *proportions*.

    A category absent from the reference has expected count 0: the statistic is infinite and
    the p-value 0 (a new category is drift under this test).
    """
    expected = ref_counts / ref_counts.sum() * cur_counts.sum()
    if np.any((expected == 0) & (cur_counts > 0)):
        return math.inf, 0.0
    used = expected > 0
    result = stats.chisquare(cur_counts[used], expected[used])
    return float(result.statistic), float(result.pvalue)


def two_proportion_z(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """Pooled two-proportion z-test on the first category: ``(z, two-sided p)``."""
    n1, n2 = float(ref_counts.sum()), float(cur_counts.sum())
    p1, p2 = ref_counts[0] / n1, cur_counts[0] / n2
    pooled = (ref_counts[0] + cur_counts[0]) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = float((p1 - p2) / se)
    return z, float(2 * stats.norm.sf(abs(z)))


def adjust_pvalues(p: np.ndarray, method: str | None) -> np.ndarray:
    """Benjamini–Hochberg (1995) step-up or Bonferroni adjusted p-values; NaN stays NaN.

    >>> [round(float(v), 3) for v in adjust_pvalues(np.array([0.01, 0.04, 0.03]), "bh")]
    [0.03, 0.04, 0.04]
    """
    p = np.asarray(p, dtype=np.float64)
    out = np.full_like(p, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    m = tested.size
    if m == 0 or method is None:
        return p.copy()
    values = p[tested]
    if method == "bonferroni":
        out[tested] = np.minimum(values * m, 1.0)
        return out
    order = np.argsort(values, kind="stable")
    ranked = values[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    result = np.empty(m)
    result[order] = adjusted
    out[tested] = result
    return out
