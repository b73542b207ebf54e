"""The tests behind slice discovery: Fisher's exact test, Welch's test, the redundancy rule."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special, stats

from dcai.analysis._slice_search import Candidates

__all__ = [
    "PARENT_GAIN",
    "explained_by_descendant",
    "hypergeom_sf",
    "keep_over_parents",
    "one_sided_p",
]

#: A slice with several predicates must beat each parent's error rate by this much (relative).
PARENT_GAIN = 0.1
#: Fisher's exact p-value is always computed when a slice has fewer errors (or non-errors).
_EXACT_ALWAYS = 200
#: Elsewhere it is computed from this far below the threshold's z (the normal approximation's).
_SCREEN_MARGIN = 3.0


def _log_choose(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    return np.asarray(special.gammaln(n + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1))


def hypergeom_sf(x: Any, n: Any, good: Any, draws: Any) -> np.ndarray:
    """``P(X >= x)`` for ``X`` hypergeometric: ``draws`` rows from ``n`` of which ``good`` are
    errors. This is the one-sided p-value of Fisher's exact test.

    Vectorised: the tail is summed from ``x`` upwards by the ratio of successive terms,
    ``pmf(k + 1) / pmf(k) = (good - k)(draws - k) / ((k + 1)(n - good - draws + k + 1))``,
    until the terms stop counting; meant for ``x`` above the mean (a short, falling tail).

    >>> from scipy.stats import hypergeom
    >>> bool(np.isclose(hypergeom_sf(12, 100, 30, 20)[0], hypergeom.sf(11, 100, 30, 20)))
    True
    """
    x, n, good, draws = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64).reshape(-1) for v in (x, n, good, draws))
    )
    p = np.zeros(len(x))
    low = np.maximum(0.0, draws - (n - good))
    high = np.minimum(good, draws)
    p[x <= low] = 1.0
    todo = np.flatnonzero((x > low) & (x <= high))
    k, nn, gg, dd = x[todo], n[todo], good[todo], draws[todo]
    log_first = _log_choose(gg, k) + _log_choose(nn - gg, dd - k) - _log_choose(nn, dd)
    term = np.ones(len(todo))
    acc = np.ones(len(todo))
    hi = high[todo]
    active = np.arange(len(todo))
    while len(active):
        ka = k[active]
        ratio = (
            (gg[active] - ka)
            * (dd[active] - ka)
            / ((ka + 1) * (nn[active] - gg[active] - dd[active] + ka + 1))
        )
        term[active] *= ratio
        acc[active] += term[active]
        k[active] += 1
        going = (term[active] > 1e-17 * acc[active]) & (k[active] < hi[active])
        active = active[going]
    p[todo] = np.exp(log_first) * acc
    return np.clip(p, 0.0, 1.0)


def one_sided_p(
    size: np.ndarray,
    total: np.ndarray,
    squares: np.ndarray | None,
    n: np.ndarray | float,
    n_total: np.ndarray | float,
    n_squares: np.ndarray | float | None,
    *,
    threshold: float = 1.0,
) -> np.ndarray:
    """P-value that a slice's mean error exceeds that of the rest of its population.

    The population has ``n`` rows with error sum ``n_total`` (and squared-loss sum
    ``n_squares``); the slice is ``size`` of its rows with sum ``total``. 0/1 errors: the
    one-sided Fisher exact test, i.e. the hypergeometric tail ``P(X >= errors in slice)``.
    A loss: Welch's one-sided z test on the two means.

    Fisher's p-value is computed exactly wherever the normal approximation's z comes within
    ``_SCREEN_MARGIN`` of the z of ``threshold``, the p-value that decides (and always for
    slices with few errors or few non-errors); elsewhere the approximation stands in, and
    those slices are far from being reported.
    """
    size = np.asarray(size, dtype=np.float64)
    total = np.asarray(total, dtype=np.float64)
    rest = np.asarray(n, dtype=np.float64) - size
    p = np.ones(len(size))
    inside = total / size
    outside = (n_total - total) / np.maximum(rest, 1)
    worse = (inside > outside) & (rest > 0)
    if squares is None:
        n_b = np.broadcast_to(np.asarray(n, dtype=np.float64), size.shape)
        t_b = np.broadcast_to(np.asarray(n_total, dtype=np.float64), size.shape)
        # The exact tail costs time in proportion to its width, and only slices far out in it
        # can pass the threshold: screen with the normal approximation (with continuity
        # correction), which overstates significance when the tail is skewed right (few
        # errors); a skewed left tail (rates near 1) has few non-errors, hence is cheap anyway.
        share = t_b / n_b
        var = size * share * (1 - share) * rest / np.maximum(n_b - 1, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(var > 0, (total - 0.5 - size * share) / np.sqrt(var), np.inf)
        cheap = np.minimum(total, size - total) < _EXACT_ALWAYS
        screen_z = float(stats.norm.isf(threshold)) - _SCREEN_MARGIN
        exact = worse & ((z >= screen_z) | cheap)
        if exact.any():
            p[exact] = hypergeom_sf(total[exact], n_b[exact], t_b[exact], size[exact])
        rough = worse & ~exact
        p[rough] = stats.norm.sf(z[rough])
        return np.clip(p, 0.0, 1.0)
    assert n_squares is not None  # invariant: a loss comes with its squares
    rest_sq = n_squares - squares
    var_in = np.maximum(squares - total * inside, 0.0) / np.maximum(size - 1, 1)
    var_out = np.maximum(rest_sq - (n_total - total) * outside, 0.0) / np.maximum(rest - 1, 1)
    se = np.sqrt(var_in / size + var_out / np.maximum(rest, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (inside - outside) / se, np.inf)
    p[worse] = stats.norm.sf(z[worse])
    return np.clip(p, 0.0, 1.0)


def keep_over_parents(
    picks: np.ndarray,
    cand: Candidates,
    parents: dict[tuple[int, ...], int],
    threshold: float,
) -> np.ndarray:
    """Which of ``picks`` (candidate indices) beat every parent: the redundancy rule."""
    keep = np.ones(len(picks), dtype=bool)
    child, parent = [], []
    for j, i in enumerate(picks):
        level = int(cand.level[i])
        if level < 2:
            continue
        ids = tuple(int(v) for v in cand.ids[i, :level])
        for drop in range(level):
            child.append(j)
            parent.append(parents[ids[:drop] + ids[drop + 1 :]])
    if not child:
        return keep
    c_idx, p_idx = np.asarray(child), np.asarray(parent)
    rows = picks[c_idx]
    size, total = cand.size[rows], cand.total[rows]
    p_size, p_total = cand.size[p_idx], cand.total[p_idx]
    squares = None if cand.squares is None else cand.squares[rows]
    p_squares = None if cand.squares is None else cand.squares[p_idx]
    p = one_sided_p(size, total, squares, p_size, p_total, p_squares, threshold=threshold)
    rate, p_rate = total / size, p_total / p_size
    good = (p <= threshold) & (rate >= (1 + PARENT_GAIN) * p_rate) & (size < p_size)
    np.logical_and.at(keep, c_idx, good)
    return keep


def explained_by_descendant(
    parent: int,
    descendants: np.ndarray,
    cand: Candidates,
    n: int,
    n_total: float,
    n_squares: float | None,
    threshold: float,
) -> bool:
    """Whether one of ``descendants`` (narrower reported slices) explains ``parent``'s errors.

    The mirror of :func:`keep_over_parents`: the parent ``P`` is explained by a descendant
    ``D ⊂ P`` when the rest of the parent, ``P \\ D``, is *not* significantly worse than the
    data outside ``P`` (the same one-sided test at the same threshold). Then ``P`` holds
    ``D``'s excess errors and no more, and reporting both would show one finding twice —
    ranked by excess errors, the broader one even first.
    """
    if len(descendants) == 0:
        return False
    size = cand.size[parent] - cand.size[descendants]
    total = cand.total[parent] - cand.total[descendants]
    population = n - cand.size[descendants]
    pop_total = n_total - cand.total[descendants]
    squares = pop_squares = None
    if cand.squares is not None:
        assert n_squares is not None  # invariant: a loss comes with its squares
        squares = cand.squares[parent] - cand.squares[descendants]
        pop_squares = n_squares - cand.squares[descendants]
    p = one_sided_p(size, total, squares, population, pop_total, pop_squares, threshold=threshold)
    return bool(np.any(p > threshold))
