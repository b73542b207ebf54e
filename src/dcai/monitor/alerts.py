"""Alert rules of ``dcai monitor``: judge monitoring windows, keep alert state, deliver alerts.

A *rule* (one ``[[monitor.rules]]`` table of ``dcai.toml``, checked by :func:`parse_rules`)
compares one metric column of the monitoring windows with a limit, ``value <op> limit`` with
``op`` one of ``>``, ``>=``, ``<``, ``<=``. A window whose value satisfies the comparison is
*in breach*. The limit is either

* fixed (``threshold = 0.01``), or
* calibrated (``calibrated = true``): learned from the first ``baseline`` windows (default 10)
  that have the metric, as ``mean + k·sd`` for ``>``/``>=`` and ``mean - k·sd`` for
  ``<``/``<=`` (sample sd, ``ddof=1``; ``k`` defaults to 3). These are the control limits of
  a Shewhart chart: under a stable process a window falls outside mean ± 3 sd rarely (about
  0.1 % per side for a normal metric), so a breach means the process changed. The baseline
  windows are never judged themselves; with fewer than 2 of them the rule is skipped.

:func:`evaluate` judges the windows in order, rule by rule:

* a window whose metric is missing, NaN or infinite neither breaches nor clears: it is
  skipped and the count of breaches in a row is kept;
* an *episode* fires at the ``consecutive``-th breaching window in a row (default 1), stays
  firing while breaches continue (its ``value`` follows the latest breach) and resolves at the
  first judged window that is not in breach;
* events are the transitions that are new relative to ``previous`` (the alerts of an earlier
  run, or every record of the alerts file): an episode is known by its rule and ``since``
  (the first breaching window), so re-running over overlapping windows never repeats an alert.

:class:`AlertSinks` delivers events: one line each to the console, one JSON object each
appended (and fsync'd) to a JSON Lines file, and one POST per batch to a webhook, sent from a
daemon thread with retries and exponential back-off so that monitoring never waits on it.

References
----------
Shewhart, W. A. (1931). *Economic Control of Quality of Manufactured Product*. Van Nostrand.
Montgomery, D. C. (2019). *Introduction to Statistical Quality Control*, 8th ed., ch. 6. Wiley.

Examples
--------
>>> import pandas as pd
>>> rules = parse_rules([{"name": "errors", "metric": "error_rate", "op": ">",
...                       "threshold": 0.01, "consecutive": 2}])
>>> windows = pd.DataFrame({
...     "window_start": [f"2026-12-07T{h:02d}:00:00+00:00" for h in range(10, 15)],
...     "window_end": [f"2026-12-07T{h:02d}:00:00+00:00" for h in range(11, 16)],
...     "requests": [100, 100, 100, 100, 100],
...     "error_rate": [0.0, 0.02, 0.03, 0.05, 0.0]})
>>> result = evaluate(rules, windows)
>>> [(e.state, e.since, e.window) for e in result.events]  # doctest: +NORMALIZE_WHITESPACE
[('firing', '2026-12-07T11:00:00+00:00', '2026-12-07T12:00:00+00:00'),
 ('resolved', '2026-12-07T11:00:00+00:00', '2026-12-07T12:00:00+00:00')]
>>> result.alerts[0].value, result.alerts[0].resolved_at
(0.05, '2026-12-07T14:00:00+00:00')
"""

from __future__ import annotations

from dcai.monitor._alert_rules import (
    OPS,
    Alert,
    AlertResult,
    Rule,
    evaluate,
    firing_count,
    parse_rules,
)
from dcai.monitor._alert_sinks import AlertSinks

__all__ = [
    "OPS",
    "Alert",
    "AlertResult",
    "AlertSinks",
    "Rule",
    "evaluate",
    "firing_count",
    "parse_rules",
]
