"""Alert rules: strict parsing, episodes over windows, calibrated limits, de-duplication, sinks."""

from __future__ import annotations

import json
import logging
import math
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcai.errors import InvalidInputError, SchemaError
from dcai.monitor.alerts import (
    Alert,
    AlertSinks,
    Rule,
    evaluate,
    firing_count,
    parse_rules,
)


def _stamp(hour: int) -> str:
    return str((pd.Timestamp("2026-12-07T00:00:00+00:00") + pd.Timedelta(hours=hour)).isoformat())


def _windows(**metrics: list[float]) -> pd.DataFrame:
    n = len(next(iter(metrics.values())))
    return pd.DataFrame(
        {
            "window_start": [_stamp(h) for h in range(n)],
            "window_end": [_stamp(h + 1) for h in range(n)],
            "requests": [100] * n,
            **{name: np.asarray(values, dtype=float) for name, values in metrics.items()},
        }
    )


def _rule(**kwargs: Any) -> Rule:
    table = {"metric": "error_rate", "op": ">", "threshold": 0.01, **kwargs}
    return parse_rules([table])[0]


# --- parsing -------------------------------------------------------------------------------

GOOD = {"name": "errors", "metric": "error_rate", "op": ">", "threshold": 0.01}


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"treshold": 0.1}, "treshold"),
        ({"metric": None}, "metric"),
        ({"metric": 3}, "metric"),
        ({"op": None}, "op"),
        ({"op": "=>"}, "op"),
        ({"op": "=="}, "op"),
        ({"threshold": None}, "threshold"),
        ({"calibrated": True}, "threshold"),
        ({"threshold": math.nan}, "threshold"),
        ({"threshold": math.inf}, "threshold"),
        ({"threshold": "0.1"}, "threshold"),
        ({"threshold": True}, "threshold"),
        ({"calibrated": "yes"}, "calibrated"),
        ({"consecutive": 0}, "consecutive"),
        ({"consecutive": 1.5}, "consecutive"),
        ({"consecutive": True}, "consecutive"),
        ({"name": ""}, "name"),
        ({"name": 7}, "name"),
        ({"k": 2}, "k"),
        ({"baseline": 5}, "baseline"),
        ({"threshold": None, "calibrated": True, "k": 0}, "k"),
        ({"threshold": None, "calibrated": True, "k": -1.0}, "k"),
        ({"threshold": None, "calibrated": True, "k": math.nan}, "k"),
        ({"threshold": None, "calibrated": True, "baseline": 0}, "baseline"),
    ],
)
def test_parse_rules_names_the_bad_key(changes: dict[str, Any], key: str) -> None:
    table = {**GOOD, **changes}
    table = {k: v for k, v in table.items() if v is not None}
    with pytest.raises(InvalidInputError) as info:
        parse_rules([{"metric": "latency_p95", "op": ">", "threshold": 1.0}, table])
    err = info.value
    assert f'key "{key}"' in err.message
    assert err.message.startswith("rule 2 (")
    assert err.path == "dcai.toml [[monitor.rules]]"
    assert err.hint
    assert "\n" not in str(err)


def test_parse_error_names_the_rule_and_suggests_a_key() -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_rules([{**GOOD, "treshold": 0.1}], where="ws/dcai.toml [[monitor.rules]]")
    assert 'rule 1 ("errors"), key "treshold": unknown key' in str(info.value)
    assert str(info.value).startswith("ws/dcai.toml [[monitor.rules]]: ")
    assert 'Did you mean "threshold"?' in (info.value.hint or "")


def test_parse_rules_refuses_duplicate_names_and_non_tables() -> None:
    with pytest.raises(InvalidInputError, match=r'rule 2 \("errors"\), key "name".*rule 1'):
        parse_rules([GOOD, {**GOOD, "threshold": 0.5}])
    # default names collide too
    unnamed = {"metric": "error_rate", "op": ">", "threshold": 0.01}
    with pytest.raises(InvalidInputError, match=r'rule 2 \("error_rate > 0.01"\)'):
        parse_rules([unnamed, unnamed])
    with pytest.raises(InvalidInputError, match="rule 1"):
        parse_rules(["error_rate > 0.01"])  # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match="list of tables"):
        parse_rules({"metric": "error_rate"})  # type: ignore[arg-type]


def test_parse_rules_defaults() -> None:
    fixed, calibrated = parse_rules(
        [
            {"metric": "error_rate", "op": ">=", "threshold": 1},
            {"metric": "class_share:3", "op": "<", "calibrated": True, "k": 2, "baseline": 4},
        ]
    )
    assert fixed == Rule("error_rate >= 1", "error_rate", ">=", 1.0, False, 3.0, 10, 1)
    assert isinstance(fixed.threshold, float)
    assert calibrated == Rule(
        "class_share:3 < calibrated", "class_share:3", "<", None, True, 2.0, 4, 1
    )
    assert parse_rules([]) == []


# --- fixed thresholds ----------------------------------------------------------------------


def test_fixed_threshold_fires_after_consecutive_windows_and_resolves() -> None:
    rule = _rule(name="errors", consecutive=2)
    windows = _windows(error_rate=[0.0, 0.02, 0.0, 0.02, 0.03, 0.04, 0.0, 0.0])
    result = evaluate([rule], windows)
    assert result.limits == {"errors": 0.01}
    assert result.skipped == {}
    assert result.alerts == [
        Alert(
            "errors",
            "error_rate",
            ">",
            0.04,
            0.01,
            _stamp(4),
            _stamp(5),
            "resolved",
            since=_stamp(3),
            resolved_at=_stamp(6),
        )
    ]
    firing, resolved = result.events
    assert (firing.state, firing.value, firing.window, firing.resolved_at) == (
        "firing",
        0.03,
        _stamp(4),
        None,
    )
    assert resolved == result.alerts[0]
    assert firing_count(result.alerts) == 0


def test_still_firing_at_the_last_window() -> None:
    result = evaluate([_rule(name="e")], _windows(error_rate=[0.0, 0.5, 0.7]))
    (alert,) = result.alerts
    assert (alert.state, alert.since, alert.window, alert.value) == (
        "firing",
        _stamp(1),
        _stamp(1),
        0.7,
    )
    assert result.events == result.alerts
    assert firing_count(result.alerts) == 1


def test_nan_windows_neither_breach_nor_clear() -> None:
    rule = _rule(name="e", consecutive=2)
    # breach, NaN, breach: the count survives the gap and fires at row 2
    result = evaluate([rule], _windows(error_rate=[0.02, math.nan, 0.02, math.nan, math.nan]))
    (alert,) = result.alerts
    assert (alert.state, alert.since, alert.window) == ("firing", _stamp(0), _stamp(2))
    # a firing alert is not resolved by NaN (or ±inf) windows, only by a judged clear one
    result = evaluate([rule], _windows(error_rate=[0.02, 0.02, math.nan, math.inf, 0.0]))
    (alert,) = result.alerts
    assert (alert.state, alert.resolved_at) == ("resolved", _stamp(4))


def test_boundaries_of_each_op() -> None:
    windows = _windows(m=[1.0, 2.0, 3.0])
    fired = {}
    for op in (">", ">=", "<", "<="):
        rule = parse_rules([{"metric": "m", "op": op, "threshold": 2}])[0]
        fired[op] = [a.since for a in evaluate([rule], windows).alerts]
    assert fired == {">": [_stamp(2)], ">=": [_stamp(1)], "<": [_stamp(0)], "<=": [_stamp(0)]}


def test_alerts_of_several_rules_are_in_firing_order() -> None:
    rules = parse_rules(
        [
            {"name": "late", "metric": "latency_p95", "op": ">", "threshold": 1.0},
            {"name": "errors", "metric": "error_rate", "op": ">", "threshold": 0.01},
        ]
    )
    windows = _windows(error_rate=[0.0, 0.1, 0.1, 0.1], latency_p95=[0.1, 0.1, 0.1, 5.0])
    assert [a.rule for a in evaluate(rules, windows).alerts] == ["errors", "late"]


def test_unsorted_windows_and_timestamp_columns() -> None:
    windows = _windows(error_rate=[0.0, 0.5, 0.0])
    windows["window_start"] = pd.to_datetime(windows["window_start"])
    windows["window_end"] = pd.to_datetime(windows["window_end"])
    (alert,) = evaluate([_rule(name="e")], windows.iloc[::-1]).alerts
    assert (alert.since, alert.resolved_at) == (_stamp(1), _stamp(2))
    assert json.loads(json.dumps(alert.to_dict()))["window_end"] == _stamp(2)


def test_missing_metric_is_skipped_with_a_reason() -> None:
    rules = parse_rules(
        [
            {"name": "drift", "metric": "drift_share", "op": ">", "threshold": 0.3},
            {"name": "errors", "metric": "error_rate", "op": ">", "threshold": 0.01},
        ]
    )
    result = evaluate(rules, _windows(error_rate=[0.5], latency_p95=[0.2]))
    assert result.limits == {"drift": None, "errors": 0.01}
    reason = result.skipped["drift"]
    assert '"drift_share"' in reason
    assert "error_rate" in reason and "latency_p95" in reason
    assert [a.rule for a in result.alerts] == ["errors"]


def test_windows_without_window_columns_are_refused() -> None:
    with pytest.raises(SchemaError) as info:
        evaluate([_rule()], pd.DataFrame({"error_rate": [0.1]}))
    assert info.value.column == "window_start"
    empty = evaluate([_rule(name="e")], _windows(error_rate=[])[:0])
    assert (empty.alerts, empty.events) == ([], [])


# --- calibrated limits ---------------------------------------------------------------------


def test_calibrated_limits_match_numpy(rng: np.random.Generator) -> None:
    base = rng.normal(0.9, 0.02, size=10)
    values = np.r_[math.nan, base[:4], math.nan, base[4:], 0.9, 0.5, 0.9, 1.5, 0.9]
    rules = parse_rules(
        [
            {"name": "low", "metric": "confidence_mean", "op": "<", "calibrated": True},
            {
                "name": "high",
                "metric": "confidence_mean",
                "op": ">=",
                "calibrated": True,
                "k": 2.5,
                "baseline": 10,
            },
        ]
    )
    result = evaluate(rules, _windows(confidence_mean=values.tolist()))
    mean, sd = np.mean(base), np.std(base, ddof=1)
    assert result.limits["low"] == pytest.approx(mean - 3 * sd, rel=1e-12)
    assert result.limits["high"] == pytest.approx(mean + 2.5 * sd, rel=1e-12)
    low, high = result.alerts
    assert (low.rule, low.since, low.value, low.resolved_at) == ("low", _stamp(13), 0.5, _stamp(14))
    assert (high.rule, high.since, high.value) == ("high", _stamp(15), 1.5)
    assert low.threshold == result.limits["low"]


def test_baseline_windows_are_never_judged() -> None:
    rule = parse_rules(
        [{"name": "c", "metric": "m", "op": "<", "calibrated": True, "baseline": 3}]
    )[0]
    # the 0.0 is extreme, but it is part of the baseline
    result = evaluate([rule], _windows(m=[1.0, 0.0, 1.0, 0.9]))
    assert result.alerts == []
    limit = result.limits["c"]
    assert limit == pytest.approx(np.mean([1.0, 0.0, 1.0]) - 3 * np.std([1.0, 0.0, 1.0], ddof=1))


def test_calibrated_rule_with_too_short_a_baseline_is_skipped() -> None:
    rule = parse_rules([{"name": "c", "metric": "m", "op": ">", "calibrated": True}])[0]
    result = evaluate([rule], _windows(m=[math.nan, 0.4, math.nan]))
    assert result.limits == {"c": None}
    assert "found 1" in result.skipped["c"] and '"m"' in result.skipped["c"]
    # constant baseline: sd = 0, the limit is the mean and any departure breaches
    result = evaluate([rule], _windows(m=[0.4] * 10 + [0.4, 0.41]))
    assert result.limits == {"c": 0.4}
    assert [a.since for a in result.alerts] == [_stamp(11)]


# --- de-duplication ------------------------------------------------------------------------


def test_second_run_over_more_windows_reports_only_new_transitions() -> None:
    rules = parse_rules(
        [{"name": "e", "metric": "error_rate", "op": ">", "threshold": 0.01, "consecutive": 2}]
    )
    values = [0.0, 0.5, 0.5, 0.5, 0.0, 0.0, 0.5, 0.5, 0.5]
    first = evaluate(rules, _windows(error_rate=values[:4]))
    assert [(e.state, e.since) for e in first.events] == [("firing", _stamp(1))]

    second = evaluate(rules, _windows(error_rate=values), previous=first.alerts)
    assert [(e.state, e.since) for e in second.events] == [
        ("resolved", _stamp(1)),
        ("firing", _stamp(6)),
    ]
    assert [(a.state, a.since) for a in second.alerts] == [
        ("resolved", _stamp(1)),
        ("firing", _stamp(6)),
    ]

    # nothing new the third time, whether previous is the state or the alerts file's history
    assert evaluate(rules, _windows(error_rate=values), previous=second.alerts).events == []
    history = [
        Alert.from_dict({**e.to_dict(), "deployment": "d", "time": "t"})
        for e in first.events + second.events
    ]
    assert evaluate(rules, _windows(error_rate=values), previous=history).events == []


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.floats(0, 1)), min_size=1, max_size=30),
    cut=st.integers(0, 30),
    consecutive=st.integers(1, 3),
)
def test_incremental_evaluation_reports_each_transition_once(
    values: list[float | None], cut: int, consecutive: int
) -> None:
    rules = parse_rules(
        [{"name": "r", "metric": "m", "op": ">=", "threshold": 0.5, "consecutive": consecutive}]
    )
    full = [math.nan if v is None else v for v in values]
    windows = _windows(m=full)
    first = evaluate(rules, windows.iloc[: min(cut, len(full))])
    second = evaluate(rules, windows, previous=first.alerts)
    at_once = evaluate(rules, windows)
    key = [(e.since, e.state) for e in first.events + second.events]
    assert sorted(key) == sorted((e.since, e.state) for e in at_once.events)
    assert len(set(key)) == len(key)
    assert firing_count(at_once.alerts) <= 1
    assert all(a.state == "resolved" for a in at_once.alerts[:-1])


def test_alert_to_dict_is_strict_json_and_round_trips() -> None:
    alert = Alert("r", "m", ">", math.nan, 0.5, "a", "b", "firing", "a")
    text = json.dumps(alert.to_dict(), allow_nan=False)
    assert json.loads(text)["value"] is None
    back = Alert.from_dict(json.loads(text))
    assert math.isnan(back.value) and back.key == ("r", "a")
    with pytest.raises(InvalidInputError):
        Alert.from_dict({"rule": "r", "state": "burning"})


# --- sinks ---------------------------------------------------------------------------------

FIRING = Alert("errors", "error_rate", ">", 0.05, 0.01, _stamp(2), _stamp(3), "firing", _stamp(1))
RESOLVED = Alert(
    "errors", "error_rate", ">", 0.07, 0.01, _stamp(2), _stamp(3), "resolved", _stamp(1), _stamp(5)
)


def test_console_and_jsonl_sinks(tmp_path: Path) -> None:
    path = tmp_path / "ws" / "monitor" / "alerts.jsonl"
    lines: list[str] = []
    sinks = AlertSinks(jsonl_path=path, console=lines.append)
    sinks.deliver([FIRING], deployment="digits")
    sinks.deliver([], deployment="digits")
    sinks.deliver([RESOLVED], deployment="digits")
    assert sinks.close(1)
    assert len(lines) == 2
    assert lines[0].startswith("[digits] FIRING errors: error_rate = 0.05 > 0.01")
    assert lines[1].startswith("[digits] RESOLVED errors")
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["state"] for r in records] == ["firing", "resolved"]
    for record, alert in zip(records, [FIRING, RESOLVED], strict=True):
        assert record["deployment"] == "digits"
        assert pd.Timestamp(record.pop("time")).tzinfo is not None
        assert record.pop("deployment") == "digits"
        assert record == alert.to_dict()


@pytest.mark.parametrize(
    "url", ["ftp://hooks.example.com/x", "hooks.example.com/x", "file:///tmp/x", "https://"]
)
def test_webhook_must_be_http(url: str) -> None:
    with pytest.raises(InvalidInputError, match="http"):
        AlertSinks(webhook=url)


@pytest.mark.parametrize(("option", "value"), [("timeout", 0), ("retries", -1), ("backoff", -0.1)])
def test_sink_options_are_checked(option: str, value: float) -> None:
    with pytest.raises(InvalidInputError, match=option):
        options: dict[str, Any] = {option: value}
        AlertSinks(**options)


Behaviour = Callable[[int], int | None]  # attempt number -> status to answer, None = hang


class _Hook:
    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.bodies: list[dict[str, Any]] = []
        self.release = threading.Event()
        self.lock = threading.Lock()


@pytest.fixture
def hook_server(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[[Behaviour], tuple[str, _Hook]]]:
    """A real HTTP server on 127.0.0.1 answering as the test says."""
    for name in (
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    servers: list[tuple[ThreadingHTTPServer, threading.Thread, _Hook]] = []

    def start(behaviour: Behaviour) -> tuple[str, _Hook]:
        hook = _Hook(behaviour)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with hook.lock:
                    hook.bodies.append(json.loads(body))
                    attempt = len(hook.bodies)
                status = hook.behaviour(attempt)
                if status is None:
                    hook.release.wait(10)
                    return
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread, hook))
        return f"http://127.0.0.1:{server.server_address[1]}/hooks/secret-token", hook

    yield start
    for server, thread, hook in servers:
        hook.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_webhook_retries_5xx_then_delivers(
    hook_server: Callable[[Behaviour], tuple[str, _Hook]],
) -> None:
    url, hook = hook_server(lambda attempt: 500 if attempt <= 2 else 200)
    sinks = AlertSinks(webhook=url, retries=4, backoff=0.01, timeout=2)
    sinks.deliver([FIRING, RESOLVED], deployment="digits")
    assert sinks.close(10)
    assert len(hook.bodies) == 3
    assert (sinks.webhook_attempts, sinks.webhook_deliveries, sinks.webhook_failures) == (3, 1, 0)
    assert hook.bodies[-1] == {
        "deployment": "digits",
        "alerts": [FIRING.to_dict(), RESOLVED.to_dict()],
    }


def test_webhook_4xx_is_not_retried(
    hook_server: Callable[[Behaviour], tuple[str, _Hook]], caplog: pytest.LogCaptureFixture
) -> None:
    url, hook = hook_server(lambda attempt: 404)
    sinks = AlertSinks(webhook=url, retries=4, backoff=0.01, timeout=2)
    with caplog.at_level(logging.WARNING, logger="dcai"):
        sinks.deliver([FIRING], deployment="digits")
        assert sinks.close(10)
    assert len(hook.bodies) == 1
    assert sinks.webhook_failures == 1
    assert "404" in caplog.text and "secret-token" not in caplog.text


def test_webhook_that_never_answers_does_not_block(
    hook_server: Callable[[Behaviour], tuple[str, _Hook]],
) -> None:
    url, hook = hook_server(lambda attempt: None)
    sinks = AlertSinks(webhook=url, retries=1, backoff=0.01, timeout=0.3)
    start = time.perf_counter()
    sinks.deliver([FIRING], deployment="digits")
    assert time.perf_counter() - start < 0.2
    assert sinks.close(10)
    assert (sinks.webhook_attempts, sinks.webhook_failures, sinks.webhook_deliveries) == (2, 1, 0)
    assert len(hook.bodies) == 2


def test_webhook_connection_refused_is_retried_then_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("no_proxy", "*")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sinks = AlertSinks(webhook=f"http://127.0.0.1:{port}/x", retries=2, backoff=0.01, timeout=1)
    sinks.deliver([FIRING], deployment="digits")
    assert sinks.close(10)
    assert (sinks.webhook_attempts, sinks.webhook_failures) == (3, 1)
