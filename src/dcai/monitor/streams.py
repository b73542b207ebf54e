"""Concept drift on streams: change detectors and the shape of a change.

Detectors share one interface (:class:`StreamDetector`): ``update(x) -> bool`` is True when
a change is detected at that sample, ``update_many(xs)`` returns the positions in ``xs``
where alarms were raised (identical to calling ``update`` in a loop, vectorised with numpy,
well under 1 µs per sample), ``reset()``, ``n_seen`` and ``changes`` (alarm positions in the
whole stream). After an alarm each detector restarts as its method prescribes.

* :class:`PageHinkley` — real-valued streams; ``delta`` and ``threshold`` in units of the
  stream's SD, so the defaults work on any scale (Page 1954; Hinkley 1971).
* :class:`ADWIN` — real-valued streams in [0, 1]; adaptive window (Bifet & Gavaldà 2007).
* :class:`DDM` and :class:`HDDM_A` — 0/1 error streams of a deployed model (Gama et al. 2004;
  Frías-Blanco et al. 2015).
* :func:`classify_change` — label a detected change ``"sudden"`` or ``"gradual"``.

Methods, defaults, measured false-alarm rates and delays: ``docs/monitor-streams.md``.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> stream = np.r_[rng.normal(50, 5, 5000), rng.normal(55, 5, 2000)]
>>> ph = PageHinkley()
>>> alarms = ph.update_many(stream)
>>> [int(a) for a in alarms], classify_change(stream, int(alarms[0]))
([5035], 'sudden')
"""

from __future__ import annotations

from dcai.monitor._stream_adwin import ADWIN
from dcai.monitor._stream_base import StreamDetector
from dcai.monitor._stream_error import DDM, HDDM_A
from dcai.monitor._stream_ph import PageHinkley
from dcai.monitor._stream_shape import ChangeShape, classify_change

__all__ = [
    "ADWIN",
    "DDM",
    "HDDM_A",
    "ChangeShape",
    "PageHinkley",
    "StreamDetector",
    "classify_change",
]
