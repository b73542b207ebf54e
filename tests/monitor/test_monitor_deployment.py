"""Monitoring a deployment end to end through the library: windows from the logs, input drift
against the training data, realised and estimated accuracy, the stored series."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dcai
from dcai._demo_monitor import log_traffic as send
from dcai.errors import InvalidInputError
from dcai.monitor.deployment import monitor_deployment, stored_windows
from tests.e2e.conftest import build_deploy_workspace, shuffled_digits

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Digits deployed; hour 8 normal traffic, hour 9 brighter images (pixels x 1.6, clipped
    at 16), both with feedback on 60 % of requests, errors on every 20th request in hour 9."""
    ws = build_deploy_workspace(tmp_path_factory.mktemp("mon") / "ws", rows=900, shuffle=0)
    frame = shuffled_digits(0).iloc[900:1500].reset_index(drop=True)
    features = [c for c in frame.columns if c != "label"]
    normal, shifted = frame.iloc[:300], frame.iloc[300:].copy()
    shifted[features] = np.clip(shifted[features] * 1.6, 0, 16).round()
    minute = timedelta(seconds=10)
    send(ws, normal, normal["label"], start=T0, spacing=minute, feedback=0.6, seed=1)
    send(
        ws,
        shifted,
        shifted["label"],
        start=T0 + timedelta(hours=1),
        spacing=minute,
        feedback=0.6,
        errors_every=20,
        seed=2,
    )
    return ws


def test_windows_measure_software_input_output_and_performance(served: Path) -> None:
    with dcai.Workspace(served) as ws:
        report = monitor_deployment(ws.stores, "web", window="1h", now=NOW)
    w = report.windows
    assert list(w["window_start"]) == [
        "2026-11-02T08:00:00+00:00",
        "2026-11-02T09:00:00+00:00",
    ]
    assert w["requests"].tolist() == [300, 300] and w["complete"].all()
    assert w["errors"].tolist() == [0, 15]
    assert w["error_rate"].iloc[1] == pytest.approx(15 / 315)
    assert (w["latency_p50"] > 0.004).all() and (w["latency_p99"] >= w["latency_p95"]).all()
    assert w["request_rate"].iloc[0] == pytest.approx(300 / 3600)
    # Inputs: the first hour looks like training; the brighter hour drifts, out of range too.
    assert w["drifted_columns"].iloc[0] <= 2
    assert w["drifted_columns"].iloc[1] >= 10
    assert w["out_of_range_rate"].iloc[1] > w["out_of_range_rate"].iloc[0]
    assert w["missing_rate"].tolist() == [0.0, 0.0]
    assert w["schema_violation_rate"].tolist() == [0.0, 0.0]
    # Outputs: class shares sum to one.
    shares = w[[c for c in w.columns if c.startswith("class_share:")]]
    assert np.allclose(shares.sum(axis=1), 1.0)
    # Performance: the shift hurts realised accuracy; estimated accuracy brackets the first.
    assert (w["labeled"] > 150).all()
    assert w["accuracy"].iloc[1] < w["accuracy"].iloc[0]
    first = w.iloc[0]
    assert first["accuracy_low"] <= first["accuracy"] <= first["accuracy_high"]
    assert abs(first["estimated_accuracy"] - first["accuracy"]) < 0.08
    assert set(report.columns["column"]) >= {"px00", "px36"}
    drifted = report.columns[report.columns["window_start"] == w["window_start"].iloc[1]]
    assert drifted["drift"].fillna(False).astype(bool).sum() == w["drifted_columns"].iloc[1]


def test_the_series_is_stored_and_recomputing_replaces_windows(served: Path) -> None:
    with dcai.Workspace(served) as ws:
        monitor_deployment(ws.stores, "web", window="30m", now=NOW)
        monitor_deployment(ws.stores, "web", window="30m", now=NOW)
        stored = stored_windows(ws.stores, "web", "1800s")
    assert len(stored) == 4
    assert stored["requests"].tolist() == [180.0, 120.0, 180.0, 120.0]


def test_request_count_windows(served: Path) -> None:
    with dcai.Workspace(served) as ws:
        report = monitor_deployment(ws.stores, "web", every=250, store=False, now=NOW)
    w = report.windows
    assert w["requests"].tolist() == [250, 250, 100]
    assert w["complete"].tolist() == [True, True, False]
    json.dumps(report.to_dict(), allow_nan=False)


def test_since_and_an_empty_log(served: Path, tmp_path: Path) -> None:
    with dcai.Workspace(served) as ws:
        late = monitor_deployment(ws.stores, "web", since="2026-11-02T09:00:00", store=False)
    assert late.windows["requests"].tolist() == [300]
    empty = build_deploy_workspace(tmp_path / "ws", rows=300)
    with dcai.Workspace(empty) as ws:
        report = monitor_deployment(ws.stores, "web")
    assert report.windows.empty and any("no logged predictions" in n for n in report.notes)
    assert report.to_dict()["windows"] == []


def test_bad_windows_are_refused(served: Path) -> None:
    with dcai.Workspace(served) as ws:
        with pytest.raises(InvalidInputError, match="--window"):
            monitor_deployment(ws.stores, "web", window="soon")
        with pytest.raises(InvalidInputError, match="not both"):
            monitor_deployment(ws.stores, "web", window="1h", every=10)
        with pytest.raises(InvalidInputError, match="--every"):
            monitor_deployment(ws.stores, "web", every=0)


def _with_rules(served: Path, tmp_path: Path, rules: str) -> Path:
    import shutil

    ws = tmp_path / "ws"
    shutil.copytree(served, ws)
    config = ws / "dcai.toml"
    config.write_text(config.read_text() + "\n" + rules, encoding="utf-8")
    return ws


RULES = """
[[monitor.rules]]
name = "errors"
metric = "error_rate"
op = ">"
threshold = 0.01

[[monitor.rules]]
name = "drift"
metric = "drift_share"
op = ">="
threshold = 0.25
"""


def test_rules_fire_once_are_stored_and_delivered(served: Path, tmp_path: Path) -> None:
    ws_path = _with_rules(served, tmp_path, RULES)
    lines: list[str] = []
    with dcai.Workspace(ws_path) as ws:
        report = monitor_deployment(ws.stores, "web", window="1h", now=NOW, console=lines.append)
        assert report.wait_for_delivery(5)
        again = monitor_deployment(ws.stores, "web", window="1h", now=NOW, console=lines.append)
        from dcai.monitor.deployment import firing_alerts

        firing = firing_alerts(ws.stores)
    assert {(a["rule"], a["state"], a["window"]) for a in report.alerts} == {
        ("errors", "firing", "2026-11-02T09:00:00+00:00"),
        ("drift", "firing", "2026-11-02T09:00:00+00:00"),
    }
    assert {e["rule"] for e in report.events} == {"errors", "drift"}
    assert again.events == [] and len(again.alerts) == 2  # de-duplicated across runs
    assert len(lines) == 2 and all("FIRING" in line for line in lines)
    records = (ws_path / "monitor" / "alerts.jsonl").read_text().splitlines()
    assert len(records) == 2 and json.loads(records[0])["deployment"] == "web"
    assert firing == {"web": 2}


def test_a_bad_rule_is_refused_naming_it(served: Path, tmp_path: Path) -> None:
    ws_path = _with_rules(
        served, tmp_path, '[[monitor.rules]]\nmetric = "error_rate"\nop = "=>"\nthreshold = 1\n'
    )
    with dcai.Workspace(ws_path) as ws, pytest.raises(InvalidInputError, match="op"):
        monitor_deployment(ws.stores, "web", window="1h", now=NOW)


def test_reading_inputs_in_duckdb_matches_parsing_them_in_python(served: Path) -> None:
    from dcai.monitor.deployment import _read_logs, reference_for
    from dcai.monitor.windows import compute_windows

    with dcai.Workspace(served) as ws:
        reference, _ = reference_for(ws.stores, "digits/1")
        rows, errors, parsed, _ = _read_logs(ws.stores, "web", None, reference)
        raw, _, none, _ = _read_logs(ws.stores, "web", None, None)
    assert none is None and "inputs" in raw and "inputs" not in rows and parsed is not None
    moment = NOW.timestamp()
    python = compute_windows(
        raw, errors=errors, reference=reference, window_seconds=1800, now=moment
    )
    duck = compute_windows(
        rows,
        errors=errors,
        reference=reference,
        window_seconds=1800,
        now=moment,
        parsed_inputs=parsed,
    )
    pd.testing.assert_frame_equal(python.windows, duck.windows)
    pd.testing.assert_frame_equal(python.columns, duck.columns)


@pytest.mark.parametrize("key", ["px.0", 'a"b', "it's", "naïve key", "back\\slash", "$.x"])
def test_any_column_name_is_read_out_of_the_json(key: str) -> None:
    import duckdb

    from dcai.deploy.prediction_log import inputs_json
    from dcai.monitor.deployment import _extraction, _parsed
    from dcai.monitor.windows import Reference

    reference = Reference("m/1", {key: (0.0, 1.0)}, {"other": frozenset()}, (), (), None, None, 1)
    select, params, parse, features = _extraction(reference)
    query = f"SELECT {', '.join(select)} FROM (SELECT ? AS inputs, from_json(?, ?) AS _s) p"
    with duckdb.connect(":memory:") as conn:
        for record, expected in (
            ({key: 2.5, "other": 1}, [2.5, "1", False]),
            ({key: "0.5", "other": "a"}, [0.5, "a", False]),  # text that is a number
            ({key: None, "other": 1}, [None, "1", False]),  # missing, not a violation
            ({key: "x", "other": 1}, [None, "1", True]),  # not a number
            ({key: [1], "other": 1}, [None, "1", True]),  # not a number either
            ({"other": 1}, [None, "1", True]),  # absent
            ({key: 1, "other": 1, "new": 0}, [1.0, "1", True]),  # a key the model lacks
        ):
            text = inputs_json(record)
            rows = conn.execute(query, [*params, text, text, parse[0]]).df()
            got = _parsed(rows, reference, features).iloc[0].tolist()
            got = [None if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in got]
            assert got == expected, record


def test_sensitive_inputs_are_known_keys() -> None:
    import duckdb

    from dcai.deploy.prediction_log import inputs_json
    from dcai.monitor.deployment import _extraction, _parsed
    from dcai.monitor.windows import Reference

    reference = Reference("m/1", {"x": (0.0, 1.0)}, {}, (), (), None, None, 1, ignored=("email",))
    select, params, parse, features = _extraction(reference)
    query = f"SELECT {', '.join(select)} FROM (SELECT ? AS inputs, from_json(?, ?) AS _s) p"
    with duckdb.connect(":memory:") as conn:
        for record, clean, violation in (
            ({"x": 0.5, "email": "9f2c"}, True, False),  # its hash logged: not even re-read
            ({"x": 0.5}, False, False),  # no hash: read again, still no violation
            ({"x": 0.5, "new": 1}, False, True),  # as many keys, one unknown
        ):
            text = inputs_json(record)
            rows = conn.execute(query, [*params, text, text, parse[0]]).df()
            assert rows["_raw"].isna().iloc[0] == clean, record
            assert bool(_parsed(rows, reference, features)["_violation"].iloc[0]) == violation


def test_inputs_the_model_was_not_trained_on_are_named(served: Path, tmp_path: Path) -> None:
    import shutil

    from dcai.deploy.prediction_log import PartitionedLog, inputs_json, prediction_log_dir

    ws_path = tmp_path / "ws"
    shutil.copytree(served, ws_path)
    record = {f"px{i:02d}": 0 for i in range(64)} | {"camera": "new"}
    log = PartitionedLog(prediction_log_dir(ws_path))
    log.append(
        {
            "request_id": "f" * 32,
            "index": 0,
            "time": "2026-11-02T10:30:00+00:00",
            "deployment": "web",
            "revision": 1,
            "route": "batch",
            "model_version": "digits/1",
            "inputs": inputs_json(record),
            "label": "0",
            "confidence": 0.9,
            "probabilities": "{}",
            "needs_review": False,
            "latency_ms": 1.0,
        }
    )
    log.close()
    with dcai.Workspace(ws_path) as ws:
        report = monitor_deployment(ws.stores, "web", window="1h", now=NOW, store=False)
    assert any("'camera' (1 rows)" in note for note in report.notes), report.notes
    assert report.windows["schema_violation_rate"].iloc[-1] == 1.0
