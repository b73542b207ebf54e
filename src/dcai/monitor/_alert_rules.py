"""Alert rules and their evaluation over monitoring windows (see :mod:`dcai.monitor.alerts`,
which documents the semantics and re-exports these names)."""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn

import numpy as np
import pandas as pd

from dcai.errors import InvalidInputError, SchemaError

__all__ = [
    "OPS",
    "Alert",
    "AlertResult",
    "Rule",
    "evaluate",
    "firing_count",
    "parse_rules",
]

logger = logging.getLogger(__name__)

OPS = (">", ">=", "<", "<=")
_KEYS = ("name", "metric", "op", "threshold", "calibrated", "k", "baseline", "consecutive")
_DEFAULT_K = 3.0
_DEFAULT_BASELINE = 10
_MIN_BASELINE = 2  # a sample sd needs two values
_SHOWN_COLUMNS = 8

State = Literal["firing", "resolved"]


# --- rules ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One alert rule: ``metric <op> limit`` for ``consecutive`` windows in a row.

    ``threshold`` is the fixed limit, or None when ``calibrated`` (the limit is then learned
    as mean ± ``k``·sd of the first ``baseline`` windows having the metric).
    """

    name: str
    metric: str
    op: str
    threshold: float | None
    calibrated: bool
    k: float = _DEFAULT_K
    baseline: int = _DEFAULT_BASELINE
    consecutive: int = 1

    def breaches(self, value: float, limit: float) -> bool:
        """Whether ``value <op> limit``, i.e. the window is in breach.

        >>> Rule("r", "error_rate", ">=", 0.1, False).breaches(0.1, 0.1)
        True
        """
        if self.op == ">":
            return value > limit
        if self.op == ">=":
            return value >= limit
        if self.op == "<":
            return value < limit
        return value <= limit


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _default_name(raw: Mapping[str, Any]) -> str | None:
    metric, op = raw.get("metric"), raw.get("op")
    if not isinstance(metric, str) or not isinstance(op, str):
        return None
    if raw.get("calibrated") is True:
        return f"{metric} {op} calibrated"
    threshold = raw.get("threshold")
    if _is_number(threshold):
        return f"{metric} {op} {threshold:g}"
    return None


def parse_rules(
    raw: Sequence[Mapping[str, Any]], where: str = "dcai.toml [[monitor.rules]]"
) -> list[Rule]:
    """Check the ``[[monitor.rules]]`` tables of ``dcai.toml`` and turn them into rules.

    Parsing is strict so that a typo never silently disables an alert: every problem raises
    with the rule's position and name, the key, what was received and what to write instead.
    Nothing is evaluated as code.

    Parameters
    ----------
    raw : list of dict
        The tables as parsed by :mod:`tomllib` (``settings.monitor.get("rules", [])``).
    where : str
        Where the tables came from, for messages.

    Returns
    -------
    list of Rule
        In the order written. A rule without ``name`` is named ``"<metric> <op> <threshold>"``
        or ``"<metric> <op> calibrated"``.

    Raises
    ------
    InvalidInputError
        An unknown key; ``metric`` or ``op`` missing; an ``op`` outside ``> >= < <=``; neither
        or both of ``threshold`` and ``calibrated = true``; a non-finite threshold; ``k`` or
        ``baseline`` on a fixed rule; ``consecutive`` or ``baseline`` below 1; ``k <= 0``; two
        rules with the same name.

    Examples
    --------
    >>> parse_rules([{"metric": "confidence_mean", "op": "<", "calibrated": True}])[0].name
    'confidence_mean < calibrated'
    >>> try:
    ...     parse_rules([{"name": "errors", "metric": "error_rate", "op": "=>", "threshold": 0.1}])
    ... except InvalidInputError as err:
    ...     print(err.message)
    rule 1 ("errors"), key "op": got '=>', not a comparison
    """
    if not isinstance(raw, list | tuple):
        raise InvalidInputError(
            f"expected a list of tables, got {type(raw).__name__}",
            path=where,
            hint="Write each rule as its own [[monitor.rules]] table with metric, op and threshold.",
        )
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for position, table in enumerate(raw, start=1):
        rule = _parse_one(table, position, where)
        if rule.name in seen:
            _fail(
                where,
                position,
                rule.name,
                "name",
                f'"{rule.name}" is already the name of rule {seen[rule.name]}',
                'Give each rule its own name = "...".',
            )
        seen[rule.name] = position
        rules.append(rule)
    return rules


def _fail(
    where: str, position: int, name: str | None, key: str, problem: str, hint: str
) -> NoReturn:
    label = name if name is not None else "unnamed"
    raise InvalidInputError(
        f'rule {position} ("{label}"), key "{key}": {problem}', path=where, hint=hint
    )


def _parse_one(table: Mapping[str, Any], position: int, where: str) -> Rule:
    if not isinstance(table, Mapping):
        _fail(
            where,
            position,
            None,
            "[[monitor.rules]]",
            f"expected a table, got {type(table).__name__}",
            "Write each rule as a [[monitor.rules]] table with metric, op and threshold.",
        )
    given_name = table.get("name")
    name = given_name if isinstance(given_name, str) and given_name else _default_name(table)

    def fail(key: str, problem: str, hint: str) -> NoReturn:
        _fail(where, position, name, key, problem, hint)

    for key in table:
        if key not in _KEYS:
            close = difflib.get_close_matches(str(key), _KEYS, n=1)
            guess = f'Did you mean "{close[0]}"? ' if close else ""
            fail(str(key), "unknown key", f"{guess}A rule takes only {', '.join(_KEYS)}.")
    if "name" in table and not (isinstance(given_name, str) and given_name.strip()):
        fail("name", f"got {given_name!r}", 'Write a non-empty string, e.g. name = "errors".')

    metric = table.get("metric")
    if metric is None:
        fail("metric", "missing", 'Name the window column to watch, e.g. metric = "error_rate".')
    if not isinstance(metric, str) or not metric:
        fail("metric", f"got {metric!r}", 'Write a column name, e.g. metric = "error_rate".')
    op = table.get("op")
    if op is None:
        fail("op", "missing", 'Write op = ">" (or ">=", "<", "<=").')
    if op not in OPS:
        fail("op", f"got {op!r}, not a comparison", 'Write op = ">" (or ">=", "<", "<=").')

    calibrated = table.get("calibrated", False)
    if not isinstance(calibrated, bool):
        fail("calibrated", f"got {calibrated!r}", "Write calibrated = true (or leave it out).")
    threshold = table.get("threshold")
    if threshold is not None and not _is_number(threshold):
        fail("threshold", f"got {threshold!r}", "Write a number, e.g. threshold = 0.01.")
    if threshold is not None and not math.isfinite(threshold):
        fail(
            "threshold",
            f"got {threshold!r}, not finite",
            "Write a finite number, e.g. threshold = 0.01.",
        )
    if threshold is None and not calibrated:
        fail(
            "threshold",
            "neither threshold nor calibrated is set",
            "Write threshold = <number> for a fixed limit, or calibrated = true to learn it.",
        )
    if threshold is not None and calibrated:
        fail(
            "threshold",
            "both threshold and calibrated = true are set",
            "Keep threshold for a fixed limit, or calibrated = true to learn it, not both.",
        )

    for key in ("k", "baseline"):
        if key in table and not calibrated:
            fail(
                key,
                "only a calibrated rule takes it",
                f"Remove {key}, or replace threshold with calibrated = true.",
            )
    k = table.get("k", _DEFAULT_K)
    if not _is_number(k) or not math.isfinite(k) or k <= 0:
        fail("k", f"got {k!r}", "Write a positive number of standard deviations, e.g. k = 3.")
    counts: dict[str, int] = {}
    for key, default in (("baseline", _DEFAULT_BASELINE), ("consecutive", 1)):
        value = table.get(key, default)
        if not _is_int(value) or value < 1:
            fail(
                key,
                f"got {value!r}",
                f"Write a whole number of windows, at least 1, e.g. {key} = {default}.",
            )
        counts[key] = int(value)

    return Rule(
        name=name or _default_name(table) or metric,
        metric=metric,
        op=op,
        threshold=float(threshold) if threshold is not None else None,
        calibrated=calibrated,
        k=float(k),
        baseline=counts["baseline"],
        consecutive=counts["consecutive"],
    )


# --- alerts --------------------------------------------------------------------------------


def _json_float(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


@dataclass(frozen=True)
class Alert:
    """One episode of a rule in breach, firing or resolved.

    ``window`` / ``window_end`` bound the window where it fired; ``since`` is the start of the
    first breaching window of the episode (with ``consecutive > 1`` it precedes ``window``);
    ``resolved_at`` is the start of the first judged window back within the limit; ``value``
    is the metric in the latest breaching window and ``threshold`` the limit it broke.
    """

    rule: str
    metric: str
    op: str
    value: float
    threshold: float
    window: str
    window_end: str
    state: State
    since: str
    resolved_at: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """What identifies the episode across runs: ``(rule, since)``."""
        return (self.rule, self.since)

    def to_dict(self) -> dict[str, Any]:
        """The alert as strict-JSON-safe values (None instead of NaN or infinity)."""
        return {
            "rule": self.rule,
            "metric": self.metric,
            "op": self.op,
            "value": _json_float(self.value),
            "threshold": _json_float(self.threshold),
            "window": self.window,
            "window_end": self.window_end,
            "state": self.state,
            "since": self.since,
            "resolved_at": self.resolved_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        """Read an alert back from :meth:`to_dict` output (extra keys such as
        ``deployment`` and ``time`` of an alerts-file record are ignored)."""
        try:
            state = data["state"]
            if state not in ("firing", "resolved"):
                raise ValueError(state)
            value, threshold = data["value"], data["threshold"]
            return cls(
                rule=str(data["rule"]),
                metric=str(data["metric"]),
                op=str(data["op"]),
                value=math.nan if value is None else float(value),
                threshold=math.nan if threshold is None else float(threshold),
                window=str(data["window"]),
                window_end=str(data["window_end"]),
                state=state,
                since=str(data["since"]),
                resolved_at=None if data.get("resolved_at") is None else str(data["resolved_at"]),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise InvalidInputError(
                f"not an alert record ({type(err).__name__}: {err})",
                hint="Pass records written by dcai monitor (one JSON object per line).",
            ) from err

    def describe(self) -> str:
        """One line for the console.

        >>> Alert("errors", "error_rate", ">", 0.05, 0.01, "t1", "t2", "firing", "t0").describe()
        'FIRING errors: error_rate = 0.05 > 0.01 in window t1 (since t0)'
        """
        if self.state == "firing":
            return (
                f"FIRING {self.rule}: {self.metric} = {self.value:.4g} {self.op} "
                f"{self.threshold:.4g} in window {self.window} (since {self.since})"
            )
        return (
            f"RESOLVED {self.rule}: {self.metric} back within {self.op} {self.threshold:.4g} "
            f"at {self.resolved_at} (firing since {self.since})"
        )


@dataclass(frozen=True)
class AlertResult:
    """What :func:`evaluate` found.

    ``alerts`` is the current state (every episode in the windows, newest last); ``events``
    the transitions new relative to ``previous``; ``limits`` the limit each rule used (None
    when skipped); ``skipped`` why a rule could not be judged.
    """

    alerts: list[Alert] = field(default_factory=list)
    events: list[Alert] = field(default_factory=list)
    limits: dict[str, float | None] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def firing_count(alerts: Iterable[Alert]) -> int:
    """How many of ``alerts`` are firing (e.g. for the CLI's exit status).

    >>> firing_count([])
    0
    """
    return sum(1 for alert in alerts if alert.state == "firing")


def _stamp(value: object) -> str:
    iso = getattr(value, "isoformat", None)
    return str(iso()) if callable(iso) else str(value)


def _metric_values(windows: pd.DataFrame, metric: str) -> np.ndarray:
    values: np.ndarray = np.array(
        pd.to_numeric(windows[metric], errors="coerce").to_numpy(dtype=float, na_value=np.nan),
        dtype=float,
    )  # a copy: pandas may hand out a read-only view
    values[~np.isfinite(values)] = np.nan  # missing and infinite windows are not judged
    return values


def _limit(rule: Rule, values: np.ndarray) -> tuple[float | None, int, str | None]:
    """The rule's limit, the first row judged, and why the rule is skipped (or None)."""
    if not rule.calibrated:
        assert rule.threshold is not None
        return rule.threshold, 0, None
    present = np.flatnonzero(~np.isnan(values))[: rule.baseline]
    if present.size < _MIN_BASELINE:
        return (
            None,
            0,
            (
                f"calibrated limit needs at least {_MIN_BASELINE} baseline windows with "
                f'"{rule.metric}", found {present.size}'
            ),
        )
    base = values[present]
    # Shewhart control limit: mean ± k sample sd of the baseline windows.
    spread = rule.k * float(np.std(base, ddof=1))
    mean = float(np.mean(base))
    limit = mean + spread if rule.op in (">", ">=") else mean - spread
    return limit, int(present[-1]) + 1, None


@dataclass
class _Episode:
    since: int
    fired: int
    fired_value: float
    value: float


def _episodes(
    rule: Rule, values: np.ndarray, limit: float, start: int
) -> list[tuple[_Episode, int | None]]:
    """Episodes of one rule as (episode, row where it resolved or None)."""
    found: list[tuple[_Episode, int | None]] = []
    streak, streak_start = 0, 0
    current: _Episode | None = None
    for row in range(start, values.size):
        value = float(values[row])
        if math.isnan(value):
            continue  # neither breaches nor clears
        if rule.breaches(value, limit):
            if streak == 0:
                streak_start = row
            streak += 1
            if current is not None:
                current.value = value
            elif streak >= rule.consecutive:
                current = _Episode(since=streak_start, fired=row, fired_value=value, value=value)
        else:
            if current is not None:
                found.append((current, row))
                current = None
            streak = 0
    if current is not None:
        found.append((current, None))
    return found


def evaluate(
    rules: Sequence[Rule], windows: pd.DataFrame, previous: Sequence[Alert] | None = None
) -> AlertResult:
    """Judge the monitoring windows against the rules, and say what is new since last time.

    Parameters
    ----------
    rules : list of Rule
        From :func:`parse_rules`.
    windows : DataFrame
        One row per window with ``window_start``, ``window_end`` and the metric columns
        (NaN where a metric could not be computed). Judged in ``window_start`` order.
    previous : list of Alert, optional
        Alerts already reported: the ``alerts`` of an earlier call or every record of the
        alerts file (:meth:`Alert.from_dict`). An episode is matched by ``(rule, since)``;
        one that is resolved anywhere in ``previous`` counts as resolved.

    Returns
    -------
    AlertResult
        ``alerts``: every episode in the windows, in the order they fired (newest last).
        ``events``: new transitions, in the order they happened; an episode that both fired
        and resolved since ``previous`` gives two events (the firing one carries the value
        that fired it). ``limits`` and ``skipped`` by rule name.

    Raises
    ------
    SchemaError
        ``windows`` lacks ``window_start`` or ``window_end``.

    Notes
    -----
    Semantics, and the calibrated limits after Shewhart, in the module docstring.
    """
    for column in ("window_start", "window_end"):
        if column not in windows.columns:
            raise SchemaError(
                "the monitoring windows have no such column",
                column=column,
                hint="Pass the windows computed by dcai monitor.",
            )
    windows = windows.sort_values("window_start", kind="stable").reset_index(drop=True)
    starts = [_stamp(v) for v in windows["window_start"]]
    ends = [_stamp(v) for v in windows["window_end"]]
    previous_states: dict[tuple[str, str], str] = {}
    for alert in previous or ():
        if previous_states.get(alert.key) != "resolved":
            previous_states[alert.key] = alert.state

    result = AlertResult()
    ordered_alerts: list[tuple[int, int, Alert]] = []
    ordered_events: list[tuple[int, int, int, Alert]] = []
    for index, rule in enumerate(rules):
        if rule.metric not in windows.columns:
            available = [str(c) for c in windows.columns if c not in ("window_start", "window_end")]
            shown = ", ".join(available[:_SHOWN_COLUMNS]) + (
                ", …" if len(available) > _SHOWN_COLUMNS else ""
            )
            result.limits[rule.name] = None
            result.skipped[rule.name] = (
                f'no metric "{rule.metric}" in the windows (available: {shown or "none"})'
            )
            continue
        values = _metric_values(windows, rule.metric)
        limit, start, reason = _limit(rule, values)
        result.limits[rule.name] = limit
        if limit is None:
            result.skipped[rule.name] = reason or "no limit"
            continue
        for episode, resolved in _episodes(rule, values, limit, start):
            alert = Alert(
                rule=rule.name,
                metric=rule.metric,
                op=rule.op,
                value=episode.value,
                threshold=limit,
                window=starts[episode.fired],
                window_end=ends[episode.fired],
                state="firing" if resolved is None else "resolved",
                since=starts[episode.since],
                resolved_at=None if resolved is None else starts[resolved],
            )
            ordered_alerts.append((episode.fired, index, alert))
            known = previous_states.get(alert.key)
            if known is None:
                fired = (
                    alert
                    if resolved is None
                    else dataclasses.replace(
                        alert, value=episode.fired_value, state="firing", resolved_at=None
                    )
                )
                ordered_events.append((episode.fired, index, 0, fired))
            if resolved is not None and known != "resolved":
                ordered_events.append((resolved, index, 1, alert))
    result.alerts.extend(a for *_, a in sorted(ordered_alerts, key=lambda t: t[:2]))
    result.events.extend(a for *_, a in sorted(ordered_events, key=lambda t: t[:3]))
    return result
