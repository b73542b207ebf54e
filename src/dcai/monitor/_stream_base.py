"""The shared machinery of the stream change detectors: state, alarms, input checks.

Every detector processes its input in numpy chunks (``_scan``) and stops at the first alarm,
restarts as its method prescribes, and carries on from the next sample. ``update`` is
``update_many`` on one sample, so the per-sample and the vectorised paths run the same code
and give identical alarms, whatever the split of the stream into calls.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from dcai.errors import InvalidInputError

__all__ = ["StreamDetector", "as_binary_stream", "as_stream", "seeded"]

#: Samples per vectorised pass: bounds the work redone after an alarm inside a chunk.
_CHUNK = 16_384


def as_stream(xs: Any) -> np.ndarray:
    """``xs`` as a 1-D float64 array of finite values, or :class:`InvalidInputError`."""
    try:
        arr = np.asarray(xs, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"stream values must be numbers, got {type(xs).__name__}",
            hint="Pass a 1-D sequence or array of numbers.",
        ) from exc
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise InvalidInputError(
            f"a stream is 1-D, got an array of shape {arr.shape}",
            hint="Pass one value per sample, e.g. array.ravel().",
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"stream value {arr[first]!r} at position {first} is not finite",
            hint="Drop or impute missing values (NaN, inf) before monitoring the stream.",
        )
    return arr


def as_binary_stream(xs: Any) -> np.ndarray:
    """``xs`` as a float64 array of 0/1 errors, or :class:`InvalidInputError`."""
    arr = as_stream(xs)
    bad = (arr != 0.0) & (arr != 1.0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"error-stream value {arr[first]!r} at position {first} is not 0 or 1",
            hint="Feed 1 for a wrong prediction and 0 for a right one "
            "(use PageHinkley or ADWIN for real-valued streams).",
        )
    return arr


def seeded(first: float, rest: np.ndarray) -> np.ndarray:
    """``[first, *rest]`` as float64 (seeds ``cumsum``/``accumulate`` with carried state)."""
    out = np.empty(rest.size + 1)
    out[0] = first
    out[1:] = rest
    return out


def check_positive(name: str, value: float) -> float:
    """``value`` as a finite positive float, or :class:`InvalidInputError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(f"{name} must be a finite number, got {value!r}")
    if value <= 0:
        raise InvalidInputError(f"{name} must be positive, got {value!r}")
    return float(value)


def check_probability(name: str, value: float) -> float:
    """``value`` as a float strictly between 0 and 1, or :class:`InvalidInputError`."""
    value = check_positive(name, value)
    if value >= 1:
        raise InvalidInputError(f"{name} must be below 1, got {value!r}")
    return value


def check_count(name: str, value: int, *, minimum: int = 1) -> int:
    """``value`` as an int ``>= minimum``, or :class:`InvalidInputError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InvalidInputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class StreamDetector(ABC):
    """A change detector on a stream: ``update``, ``update_many``, ``reset``, the alarms.

    Subclasses implement ``_reset_state`` (forget the stream) and ``_scan`` (consume a chunk,
    stop at the first alarm, leave the state restarted after it).
    """

    def __init__(self) -> None:
        self._n_seen = 0
        self._changes: list[int] = []
        self._reset_state()

    @property
    def n_seen(self) -> int:
        """How many samples the detector has consumed since it was made or reset."""
        return self._n_seen

    @property
    def changes(self) -> list[int]:
        """The 0-based positions in the whole stream where an alarm was raised."""
        return list(self._changes)

    def update(self, x: float) -> bool:
        """Consume one sample; True when a change is detected at it.

        This is :meth:`update_many` on a one-sample array (~50 µs per call): feed arrays
        to :meth:`update_many` when throughput matters.
        """
        return bool(self.update_many(np.asarray([x], dtype=np.float64)).size)

    def update_many(self, xs: Any) -> np.ndarray:
        """Consume ``xs`` in order; the positions in ``xs`` where an alarm was raised.

        The result is the same as calling :meth:`update` on each value in turn.
        """
        arr = self._check(xs)
        alarms: list[int] = []
        start, n = 0, arr.size
        while start < n:
            stop = min(n, start + _CHUNK)
            hit = self._scan(arr[start:stop])
            if hit < 0:
                self._n_seen += stop - start
                start = stop
            else:
                alarms.append(start + hit)
                self._changes.append(self._n_seen + hit)
                self._n_seen += hit + 1
                start += hit + 1
        return np.asarray(alarms, dtype=np.intp)

    def reset(self) -> None:
        """Forget the stream: the detector is as new (``n_seen`` and ``changes`` cleared)."""
        self._n_seen = 0
        self._changes = []
        self._reset_state()

    def _check(self, xs: Any) -> np.ndarray:
        return as_stream(xs)

    @abstractmethod
    def _reset_state(self) -> None:
        """Forget the statistics of the stream (the restart after an alarm, too)."""

    @abstractmethod
    def _scan(self, xs: np.ndarray) -> int:
        """Consume ``xs`` up to its first alarm; that alarm's offset, or -1 if none.

        On an alarm the state is left restarted after that sample; the rest of ``xs`` is
        not consumed.
        """
