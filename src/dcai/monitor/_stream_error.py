"""DDM and HDDM_A: change detectors for 0/1 error streams (1 = the model was wrong).

The methods, and why
--------------------
**DDM** (Gama et al. 2004) treats the errors since the last restart as Bernoulli trials:
with ``p_i`` the error rate after ``i`` samples and ``s_i = sqrt(p_i (1 - p_i) / i)``, it
remembers the point where ``p_i + s_i`` was lowest (``p_min``, ``s_min``, once ``min_samples``
have been seen) and signals a *warning* when ``p_i + s_i >= p_min + warning * s_min`` and a
*drift* (the alarm) when ``p_i + s_i >= p_min + drift * s_min``; the detector then restarts.
One deviation: the minimum is tracked only once 10 errors have been seen since the restart.
Before the first error ``s = 0`` and the next error would be an alarm; with a few errors the
normal approximation behind ``s`` fails and a low error rate (p = 0.01) gave up to 12 false
alarms per 250k samples, against ~0.5 per 250k with the guard (measured: 4 in 2M samples at
p = 0.01, 3 at p = 0.1; ``docs/monitor-streams.md``).

HDDM_A's default ``drift_confidence`` is 1e-4, not the paper's 1e-3: the test is repeated at
every sample, and 1e-3 gave ~1.3 false alarms per 250k samples of a stationary Bernoulli(0.5)
stream, over the target of one; 1e-4 gave 4 in 4M (p = 0.3 and 0.5), at ~30% longer delay.

**HDDM_A** (Frías-Blanco et al. 2015) replaces the normal approximation with Hoeffding's
inequality on averages, which holds for any bounded stream. It keeps the cut point where the
upper bound ``mean_cut + sqrt(ln(1/alpha) / (2 n_cut))`` was lowest and alarms when the mean
of the whole stream since the restart exceeds the mean up to the cut by more than
``sqrt(m / 2 * ln(2 / alpha))`` with ``m = (n - n_cut) / (n_cut n)`` (a one-sided test for an
*increase* of the error rate, as the paper's default and river's).

Both are vectorised: counts are ``cumsum``, the running minimum is ``minimum.accumulate`` and
its position a ``maximum.accumulate`` of the indices where it was renewed.

References
----------
Gama, J., Medas, P., Castillo, G., & Rodrigues, P. (2004). Learning with Drift Detection.
*SBIA 2004*, LNCS 3171, 286–295.
Frías-Blanco, I., del Campo-Ávila, J., Ramos-Jiménez, G., Morales-Bueno, R., Ortiz-Díaz, A.,
& Caballero-Mota, Y. (2015). Online and Non-Parametric Drift Detection Methods Based on
Hoeffding's Bounds. *IEEE TKDE*, 27(3), 810–823.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dcai.errors import InvalidInputError
from dcai.monitor._stream_base import (
    StreamDetector,
    as_binary_stream,
    check_count,
    check_positive,
    check_probability,
    seeded,
)

__all__ = ["DDM", "HDDM_A"]

#: DDM tracks its minimum only after this many errors (see the module docstring).
_MIN_ERRORS = 10


def _running_argmin(
    values: np.ndarray, best: float, *, ties_to_latest: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Running minimum of ``values`` seeded with ``best``, and where it was last renewed.

    The position is -1 where the carried minimum (from before this chunk) still holds.
    """
    running = np.minimum.accumulate(seeded(best, values))
    before = running[:-1]
    renewed = values <= before if ties_to_latest else values < before
    last = np.maximum.accumulate(np.where(renewed, np.arange(values.size), -1))
    return running[1:], last


class _ErrorStream(StreamDetector):
    """A detector of 0/1 error streams, with the error rate since its last restart."""

    _errors: float
    _n: int

    @property
    def error_rate(self) -> float:
        """The error rate since the last restart (nan before any sample)."""
        return self._errors / self._n if self._n else float("nan")


class DDM(_ErrorStream):
    """Drift Detection Method (Gama et al. 2004) for a stream of 0/1 errors.

    Parameters
    ----------
    warning, drift:
        Levels in units of ``s_min``: warning when ``p + s >= p_min + warning * s_min``,
        alarm when ``p + s >= p_min + drift * s_min``.
    min_samples:
        Samples after each restart before the minimum is tracked and alarms are possible.

    ``in_warning`` is True when the last sample was in the warning zone.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> errors = np.r_[rng.random(2000) < 0.1, rng.random(2000) < 0.3].astype(float)
    >>> ddm = DDM()
    >>> [int(a) for a in ddm.update_many(errors)]  # the error rate jumps at 2000
    [2011]
    """

    def __init__(self, warning: float = 2.0, drift: float = 3.0, min_samples: int = 30) -> None:
        self.warning = check_positive("warning", warning)
        self.drift = check_positive("drift", drift)
        if self.warning > self.drift:
            raise InvalidInputError(
                f"warning ({warning}) must not exceed drift ({drift})",
                hint="The warning level is reached before the drift level: e.g. 2 and 3.",
            )
        self.min_samples = check_count("min_samples", min_samples)
        super().__init__()

    def _check(self, xs: Any) -> np.ndarray:
        return as_binary_stream(xs)

    def _reset_state(self) -> None:
        self._n = 0
        self._errors = 0.0
        self._best = math.inf  # p_min + s_min
        self._p_min = math.inf
        self._s_min = math.inf
        self.in_warning = False

    def _scan(self, xs: np.ndarray) -> int:
        n = self._n + np.arange(1, xs.size + 1, dtype=np.float64)
        errors = np.cumsum(seeded(self._errors, xs))[1:]
        p = errors / n
        s = np.sqrt(p * (1.0 - p) / n)
        level = p + s
        eligible = (n >= self.min_samples) & (errors >= _MIN_ERRORS)
        best, last = _running_argmin(
            np.where(eligible, level, np.inf), self._best, ties_to_latest=False
        )
        renewed = last >= 0
        at = np.maximum(last, 0)
        p_min = np.where(renewed, p[at], self._p_min)
        s_min = np.where(renewed, s[at], self._s_min)
        with np.errstate(invalid="ignore"):
            alarm = eligible & (level >= p_min + self.drift * s_min) & (s_min > 0)
        hits = np.flatnonzero(alarm)
        if hits.size:
            self._reset_state()
            return int(hits[0])
        self._n += xs.size
        self._errors = float(errors[-1])
        self._best = float(best[-1])
        self._p_min, self._s_min = float(p_min[-1]), float(s_min[-1])
        self.in_warning = bool(
            eligible[-1] and level[-1] >= self._p_min + self.warning * self._s_min
        )
        return -1


class HDDM_A(_ErrorStream):  # the method's published name
    """HDDM with the A-test (Frías-Blanco et al. 2015) for a stream of 0/1 errors.

    Parameters
    ----------
    drift_confidence:
        Significance ``alpha`` of the Hoeffding test that raises an alarm.
    warning_confidence:
        Significance of the (weaker) test that sets ``in_warning``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> errors = np.r_[rng.random(2000) < 0.1, rng.random(2000) < 0.3].astype(float)
    >>> hddm = HDDM_A()
    >>> [int(a) for a in hddm.update_many(errors)]  # the error rate jumps at 2000
    [2127]
    """

    def __init__(self, drift_confidence: float = 1e-4, warning_confidence: float = 1e-3) -> None:
        self.drift_confidence = check_probability("drift_confidence", drift_confidence)
        self.warning_confidence = check_probability("warning_confidence", warning_confidence)
        if self.warning_confidence < self.drift_confidence:
            raise InvalidInputError(
                f"warning_confidence ({warning_confidence}) must be >= drift_confidence "
                f"({drift_confidence})",
                hint="The warning test is the weaker one: e.g. 1e-3 and 1e-4.",
            )
        super().__init__()

    def _check(self, xs: Any) -> np.ndarray:
        return as_binary_stream(xs)

    def _reset_state(self) -> None:
        self._n = 0
        self._errors = 0.0
        self._best = math.inf  # mean_cut + Hoeffding radius at the cut
        self._n_cut = 0.0
        self._c_cut = 0.0
        self.in_warning = False

    def _scan(self, xs: np.ndarray) -> int:
        n = self._n + np.arange(1, xs.size + 1, dtype=np.float64)
        errors = np.cumsum(seeded(self._errors, xs))[1:]
        mean = errors / n
        bound = mean + np.sqrt(math.log(1.0 / self.drift_confidence) / (2.0 * n))
        best, last = _running_argmin(bound, self._best, ties_to_latest=True)
        renewed = last >= 0
        at = np.maximum(last, 0)
        n_cut = np.where(renewed, n[at], self._n_cut)
        c_cut = np.where(renewed, errors[at], self._c_cut)
        gap = mean - c_cut / n_cut
        m = (n - n_cut) / (n_cut * n)
        alarm = (n_cut < n) & (gap >= np.sqrt(m / 2.0 * math.log(2.0 / self.drift_confidence)))
        hits = np.flatnonzero(alarm)
        if hits.size:
            self._reset_state()
            return int(hits[0])
        self._n += xs.size
        self._errors = float(errors[-1])
        self._best = float(best[-1])
        self._n_cut, self._c_cut = float(n_cut[-1]), float(c_cut[-1])
        self.in_warning = bool(
            self._n_cut < self._n
            and gap[-1] >= math.sqrt(m[-1] / 2.0 * math.log(2.0 / self.warning_confidence))
        )
        return -1
