"""The power-law fit of a learning curve: the error as ``a·n^(−b) + c``, with bootstrap intervals.

:func:`_fit_power_law` fits the mean dev error per training size on the largest sizes
(:func:`fit_range`), weighting each mean by how much subsets of one pool can vary, and refits
bootstrap replicates for the intervals of :class:`PowerLawFit`. For a fixed exponent the model
is linear, so it is solved exactly under its constraints (:func:`_nnls`) over a grid of
exponents (:func:`_fit_grid`) and refined by Brent's method (:func:`_fit_point`). The numerics
live apart from the model fits (:mod:`dcai.analysis._curve_fits`) and the result object
(:mod:`dcai.analysis._learning_curve`) so they can be read and tested on arrays alone; the
:class:`Interval` the fit reports lives here too, so imports run one way, and
:mod:`dcai.analysis._learning_curve` re-exports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from dcai._intervals import percentile_interval

__all__ = ["NO_ESTIMATE", "Interval", "PowerLawFit", "fit_range"]

#: A power law has three parameters: fewer sizes than this give no fit.
MIN_SIZES = 3
#: The fit covers the sizes from N/FIT_RANGE to N (N: the full training size), and at least
#: MIN_FIT_SIZES of the largest: below, the small-data region bends away from a power law.
FIT_RANGE = 8
MIN_FIT_SIZES = 4
#: Exponents tried by the profile fit (log-spaced); Brent's method refines the point estimate.
B_GRID = np.geomspace(0.01, 3.0, 241)
#: Bootstrap replicates fitted at once (bounds memory to ~this × the grid × the sizes).
_BOOT_CHUNK = 64


class Interval(NamedTuple):
    """A value with its interval; ``None`` where it cannot be estimated (the notes say why)."""

    value: float | None
    low: float | None
    high: float | None

    def to_dict(self) -> dict[str, float | None]:
        """``{"value", "low", "high"}``."""
        return {"value": self.value, "low": self.low, "high": self.high}


NO_ESTIMATE = Interval(None, None, None)


def _interval(point: float, draws: np.ndarray, confidence: float) -> Interval:
    """Percentile interval of ``draws``, widened to contain ``point`` if needed."""
    if not math.isfinite(point):
        return NO_ESTIMATE
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return Interval(float(point), None, None)
    low, high = (float(v) for v in percentile_interval(draws, confidence))
    return Interval(float(point), float(min(low, point)), float(max(high, point)))


def _nnls(y: np.ndarray, w: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted least squares of ``y ≈ c + a·x`` with ``a, c ≥ 0``, over the last axis.

    With two parameters the constrained optimum is the unconstrained one when feasible, else
    the better of the two faces ``a = 0`` and ``c = 0``; returns ``a, c`` and the weighted SSE.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        sw = w.sum(-1)
        mx, my = (w * x).sum(-1) / sw, (w * y).sum(-1) / sw
        dx = x - mx[..., None]
        a_free = (w * dx * (y - my[..., None])).sum(-1) / (w * dx * dx).sum(-1)
        c_free = my - a_free * mx
        a_face = (w * x * y).sum(-1) / (w * x * x).sum(-1)  # c = 0
        candidates = [
            (np.where((a_free >= 0) & (c_free >= 0), a_free, np.nan), c_free),
            (np.zeros_like(my), my),  # a = 0: a flat line at the weighted mean
            (np.maximum(a_face, 0.0), np.zeros_like(my)),
        ]
        best_a, best_c = np.zeros_like(my), my.copy()
        best_sse = np.full_like(my, np.inf)
        for a, c in candidates:
            sse = (w * (y - c[..., None] - a[..., None] * x) ** 2).sum(-1)
            better = np.isfinite(sse) & (sse < best_sse)
            best_a, best_c = np.where(better, a, best_a), np.where(better, c, best_c)
            best_sse = np.where(better, sse, best_sse)
    return best_a, best_c, best_sse


def _fit_grid(y: np.ndarray, w: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Profile fit of ``y ≈ c + a·u^(−b)`` per row of ``y`` over :data:`B_GRID`: ``(rows, 3)``."""
    x = u[None, None, :] ** -B_GRID[None, :, None]
    out = np.empty((len(y), 3))
    for start in range(0, len(y), _BOOT_CHUNK):
        part = slice(start, start + _BOOT_CHUNK)
        a, c, sse = _nnls(y[part, None, :], w[part, None, :], x)
        best = np.argmin(sse, axis=1)
        pick = np.arange(len(best))
        out[part] = np.column_stack([a[pick, best], B_GRID[best], c[pick, best]])
    return out


def _fit_point(y: np.ndarray, w: np.ndarray, u: np.ndarray) -> tuple[float, float, float]:
    """The grid fit refined by Brent's method on log b between the grid's neighbours."""
    from scipy.optimize import minimize_scalar

    a, b, c = _fit_grid(y[None, :], w[None, :], u)[0]
    i = int(np.argmin(np.abs(B_GRID - b)))
    lo, hi = math.log(B_GRID[max(i - 1, 0)]), math.log(B_GRID[min(i + 1, len(B_GRID) - 1)])

    def sse(log_b: float) -> float:
        return float(_nnls(y, w, u ** -math.exp(log_b))[2])

    found = minimize_scalar(sse, bounds=(lo, hi), method="bounded", options={"xatol": 1e-5})
    if found.success and found.fun < sse(math.log(b)):
        b = math.exp(float(found.x))
        a_arr, c_arr, _ = _nnls(y, w, u**-b)
        a, c = float(a_arr), float(c_arr)
    return float(a), float(b), float(c)


@dataclass(frozen=True, eq=False)
class PowerLawFit:
    """The error as ``a·n^(−b) + c`` (``c ≥ 0`` the irreducible error, ``b > 0``), with intervals.

    ``status`` is ``"ok"``, ``"flat"`` (the error does not fall measurably over the fitted
    sizes: ``b`` is not identified, extrapolations stay close to the full-data value),
    ``"too_few_sizes"`` (fewer than three sizes with a successful fit: no extrapolation) or
    ``"failed"``. ``a``, ``b``, ``c`` are :class:`Interval` (bootstrap percentiles);
    ``sizes`` are the training sizes fitted (see :func:`fit_range`); ``residual_rms`` is the
    root mean square gap between the fit and the mean error at those sizes;
    ``dispersion`` (≥ 1) is the factor by which the bootstrap spread is widened because the
    means scatter around the fit more than their standard errors allow (the square root of
    the reduced chi-square, when above 1). ``scaled`` and ``replicates`` hold
    ``(a·N^(−b), b, c)`` with ``N = reference_size``: the point estimate and one row per
    bootstrap replicate.
    """

    status: str
    a: Interval
    b: Interval
    c: Interval
    reference_size: int
    sizes: tuple[int, ...] = ()
    residual_rms: float | None = None
    dispersion: float = 1.0
    note: str | None = None
    scaled: tuple[float, float, float] | None = field(default=None, repr=False)
    replicates: np.ndarray | None = field(default=None, repr=False)

    @property
    def usable(self) -> bool:
        """Whether the fit can extrapolate (status ``"ok"`` or ``"flat"``)."""
        return self.scaled is not None

    def predict_error(self, sizes: Any) -> tuple[np.ndarray, np.ndarray]:
        """The fitted error at ``sizes``: the point estimate and ``(replicates, sizes)``."""
        u = np.asarray(sizes, dtype=np.float64) / self.reference_size
        if self.scaled is None or self.replicates is None:
            nan = np.full(u.shape, np.nan)
            return nan, nan[None, :]
        a, b, c = self.scaled
        reps = self.replicates
        point = c + a * u**-b
        draws = reps[:, 2:3] + reps[:, 0:1] * u[None, :] ** -reps[:, 1:2]
        return point, np.maximum(point + self.dispersion * (draws - point), 0.0)

    def to_dict(self) -> dict[str, Any]:
        """The fit as JSON-ready data (no NaN)."""
        return {
            "status": self.status,
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "c": self.c.to_dict(),
            "reference_size": self.reference_size,
            "sizes": list(self.sizes),
            "residual_rms": self.residual_rms,
            "dispersion": self.dispersion,
            "note": self.note,
        }


def _pool_sd(
    sizes: np.ndarray, errors: list[np.ndarray], u: np.ndarray, means: np.ndarray, n_dev: int
) -> np.ndarray:
    """Standard deviation of the error of one training set of each size, drawn afresh.

    Subsets of one pool vary less than fresh training sets: their spread is about
    ``sd·sqrt(1 − u)`` (they share the fraction ``u`` of the pool). Each size with repeats and
    ``u < 1`` gives ``sd·sqrt(n)``, whose median makes a smooth ``sd(n) = k/sqrt(n)``. With no
    such size (one repeat, or only the full set) the dev set's sampling error
    ``sqrt(e(1 − e)/n_dev)`` stands in.
    """
    usable = [
        float(e.std(ddof=1)) / math.sqrt(1 - f) * math.sqrt(n)
        for n, e, f in zip(sizes, errors, u, strict=True)
        if len(e) > 1 and f < 1
    ]
    if usable:
        spread = float(np.median(usable)) / np.sqrt(sizes)
    else:
        spread = np.sqrt(np.maximum(means * (1 - means), 1.0 / n_dev) / n_dev)
    return np.asarray(spread, dtype=np.float64)


def fit_range(sizes: np.ndarray, n_train: int) -> np.ndarray:
    """Which sizes the power law is fitted to: ``n ≥ N/8``, and at least the 4 largest.

    >>> fit_range(np.array([20, 32, 50, 79, 126, 199, 316, 500]), 500).tolist()
    [False, False, False, True, True, True, True, True]
    """
    keep = sizes >= n_train / FIT_RANGE
    if keep.sum() < MIN_FIT_SIZES:
        keep = np.zeros(len(sizes), dtype=bool)
        keep[np.argsort(sizes)[-MIN_FIT_SIZES:]] = True
    return keep


def _fit_power_law(
    sizes: np.ndarray,
    errors: list[np.ndarray],
    *,
    n_train: int,
    n_dev: int,
    n_boot: int,
    confidence: float,
    rng: np.random.Generator,
) -> PowerLawFit:
    if len(sizes) < MIN_SIZES:
        few = (
            f"only {len(sizes)} size(s) with a successful fit; a power law needs {MIN_SIZES}: "
            "no fit and no extrapolation. Give more sizes or fix the failing fits."
        )
        return PowerLawFit(
            "too_few_sizes", NO_ESTIMATE, NO_ESTIMATE, NO_ESTIMATE, n_train, note=few
        )
    u_all = sizes / n_train
    means_all = np.array([e.mean() for e in errors])
    pool_sd = _pool_sd(sizes, errors, u_all, means_all, n_dev)
    keep = fit_range(sizes, n_train)
    u, means, pool_sd = u_all[keep], means_all[keep], pool_sd[keep]
    errors = [e for e, k in zip(errors, keep, strict=True) if k]
    counts = np.array([len(e) for e in errors])
    # A subset of n rows from a pool of N shares the fraction u = n/N of the pool's luck, which
    # no number of repeats averages away: Var(mean) = sd²·((1 − u)/r + u). One dev example
    # (1/n_dev) floors it, so that a perfectly flat curve keeps finite weights.
    sig = np.maximum(pool_sd * np.sqrt((1 - u) / counts + u), 1.0 / n_dev)
    a_s, b, c = _fit_point(means, 1.0 / sig**2, u)
    boot_means = np.empty((n_boot, len(u)))
    for j, e in enumerate(errors):
        draw = e[rng.integers(0, len(e), size=(n_boot, len(e)))]
        # Resampling the repeats shows the subset-to-subset part; the pool's share is drawn
        # (independently per size, which errs towards wider intervals).
        pool_luck = rng.normal(0.0, pool_sd[j] * math.sqrt(u[j]), n_boot)
        boot_means[:, j] = draw.mean(axis=1) + pool_luck
    reps = _fit_grid(boot_means, np.broadcast_to(1.0 / sig**2, boot_means.shape), u)
    fitted_sizes = tuple(int(n) for n in sizes[keep])
    if not all(map(math.isfinite, (a_s, b, c))):
        failed = "the power-law fit did not converge: no extrapolation."
        return PowerLawFit("failed", NO_ESTIMATE, NO_ESTIMATE, NO_ESTIMATE, n_train, note=failed)
    fitted = c + a_s * u**-b
    # Means that scatter around the curve more than their standard errors allow widen every
    # interval by sqrt(reduced chi-square) (Birge's ratio).
    chi2 = float(np.sum(((means - fitted) / sig) ** 2))
    dispersion = math.sqrt(max(1.0, chi2 / (len(u) - 3))) if len(u) > 3 else 1.0
    widened = np.maximum(np.array([a_s, b, c]) + dispersion * (reps - [a_s, b, c]), 0.0)
    widened[:, 1] = np.clip(widened[:, 1], B_GRID[0], B_GRID[-1])
    status: str = "ok"
    note: str | None = None
    # Flat: within this pool, the error at the smallest fitted size is not above the error at
    # the full size by more than twice the repeats' standard error.
    se = [
        max(float(e.std(ddof=1)) / math.sqrt(len(e)) if len(e) > 1 else 0.0, 1 / n_dev)
        for e in errors
    ]
    drop, noise = means[0] - means[-1], math.hypot(se[0], se[-1])
    if drop <= 2 * noise:
        status = "flat"
        note = (
            f"the error does not fall measurably from n={fitted_sizes[0]} ({means[0]:.3f}) to "
            f"n={fitted_sizes[-1]} ({means[-1]:.3f}; ±{noise:.3f}): the exponent b is not "
            "identified, extrapolations stay close to the full-data value, and more data of the "
            "same kind is not expected to help much."
        )
    scale = float(n_train)
    return PowerLawFit(
        status,
        a=_interval(a_s * scale**b, widened[:, 0] * scale ** widened[:, 1], confidence),
        b=_interval(b, widened[:, 1], confidence),
        c=_interval(c, widened[:, 2], confidence),
        reference_size=n_train,
        sizes=fitted_sizes,
        residual_rms=float(np.sqrt(np.mean((fitted - means) ** 2))),
        dispersion=dispersion,
        note=note,
        scaled=(a_s, b, c),
        replicates=reps,
    )
