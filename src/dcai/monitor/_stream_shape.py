"""Label a detected change sudden or gradual from the shape of the series around it.

The rule, and why
-----------------
A detector says *when* it noticed a change, not how the change happened. Around the alarm
(``window`` samples either side) the series is fitted by least squares with a ramp: level
``a`` up to sample ``s``, a straight line to level ``b`` over ``L`` samples, level ``b`` after.
A grid of starts ``s`` (every ``window / 32`` samples) and lengths ``L`` (1, then doubling up
to the segment's length) is searched; for each ramp the two levels have a closed-form fit,
so the whole grid is one matrix product. The change is **sudden** when the best ramp is
shorter than ``window / 8`` samples (a step, up to the detector's resolution) and
**gradual** otherwise. Fitting the transition length, rather than thresholding a slope,
makes the rule independent of the size and scale of the change.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from dcai.errors import InvalidInputError
from dcai.monitor._stream_base import as_stream, check_count

__all__ = ["classify_change"]

ChangeShape = Literal["sudden", "gradual"]


def transition_length(segment: np.ndarray) -> int:
    """Length of the best-fitting ramp between two levels in ``segment`` (see the module)."""
    m = segment.size
    t = np.arange(m, dtype=np.float64)
    starts = np.unique(np.linspace(0, m - 1, 33).astype(np.int64))
    lengths = [1]
    while lengths[-1] * 2 < m:
        lengths.append(lengths[-1] * 2)
    lengths.append(m - 1)
    grid_s, grid_len = np.meshgrid(starts, np.asarray(lengths, dtype=np.float64), indexing="ij")
    s, length = grid_s.ravel(), grid_len.ravel()
    ramps = np.clip((t[None, :] - s[:, None] + 1.0) / length[:, None], 0.0, 1.0)
    centred = segment - segment.mean()
    ramp_centred = ramps - ramps.mean(axis=1, keepdims=True)
    var = (ramp_centred * ramp_centred).sum(axis=1)
    cov = ramp_centred @ centred
    with np.errstate(divide="ignore", invalid="ignore"):
        explained = np.where(var > 0, cov * cov / np.where(var > 0, var, 1.0), -np.inf)
    return int(length[int(np.argmax(explained))])


def classify_change(values: Any, index: int, window: int = 500) -> ChangeShape:
    """``"sudden"`` or ``"gradual"``: the shape of ``values`` within ``window`` of ``index``.

    ``index`` is where a detector raised its alarm (it lags the change, so the segment spans
    ``window`` samples either side). The best-fitting ramp between two levels decides: shorter
    than ``window / 8`` samples is sudden, longer is gradual (module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> step = np.r_[rng.normal(0, 1, 1000), rng.normal(2, 1, 1000)]
    >>> classify_change(step, 1020)
    'sudden'
    >>> ramp = rng.normal(0, 1, 2000) + np.clip((np.arange(2000) - 800) / 400, 0, 1) * 2
    >>> classify_change(ramp, 1000)
    'gradual'
    """
    arr = as_stream(values)
    window = check_count("window", window, minimum=16)
    if isinstance(index, bool) or not isinstance(index, int | np.integer):
        raise InvalidInputError(f"index must be an integer, got {index!r}")
    if not 0 <= index < arr.size:
        raise InvalidInputError(
            f"index {index} is outside the series of {arr.size} values",
            hint="Pass a position returned by a detector on this same series.",
        )
    segment = arr[max(0, int(index) - window) : min(arr.size, int(index) + window)]
    if segment.size < 16:
        raise InvalidInputError(
            f"only {segment.size} values around index {index}; at least 16 are needed",
            hint="Pass a longer series.",
        )
    return "sudden" if transition_length(segment) < window / 8 else "gradual"
