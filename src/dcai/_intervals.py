"""Percentile bootstrap intervals (Efron & Tibshirani 1993, §13.3), in one place.

Foundation layer, numpy only. Non-finite replicates (a statistic undefined on a resample) are
dropped; where none is finite the interval is ``(NaN, NaN)``. Quantiles are numpy's default
(linear interpolation) at ``(1 - confidence) / 2`` and ``1 - (1 - confidence) / 2``.

>>> low, high = percentile_interval(np.arange(101.0), 0.5)
>>> float(low), float(high)
(25.0, 75.0)
>>> [float(v) for v in percentile_interval(np.array([np.nan, np.nan]))]
[nan, nan]
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["percentile_interval"]


def percentile_interval(
    samples: np.ndarray, confidence: float = 0.95, axis: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper percentile bounds of ``samples`` along ``axis``, over finite values.

    Returns arrays shaped like ``samples`` without ``axis`` (0-d for 1-D samples: wrap in
    ``float``); NaN where no sample is finite.
    """
    alpha = (1.0 - confidence) / 2.0
    values = np.asarray(samples, dtype=np.float64)
    if values.shape[axis] == 0:
        empty = np.full(np.delete(values.shape, axis), np.nan)
        return empty, empty.copy()
    values = np.where(np.isfinite(values), values, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: undefined there
        low, high = np.nanquantile(values, [alpha, 1.0 - alpha], axis=axis)
    return np.asarray(low), np.asarray(high)
