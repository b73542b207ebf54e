"""Shadow answers in micro-batches: one model call for many requests, every row logged with the
right request and index, disagreement counted, a full queue dropped and counted, close drains."""

from __future__ import annotations

import json
import threading
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("prometheus_client")

from dcai.deploy._models import LoadedModel
from dcai.deploy._privacy import Redactor
from dcai.serve._inputs import ParsedRequest, RequestParser
from dcai.serve._metrics import Metrics
from dcai.serve._shadow import ShadowJob, ShadowRunner


class Threshold:
    """Predicts class 1 when x > 0; counts its calls and the rows of each."""

    classes_: ClassVar[list[int]] = [0, 1]

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls: list[int] = []
        self.gate = gate
        self.entered = threading.Event()

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        self.calls.append(len(X))
        p = (X["x"].to_numpy() > 0).astype(float)
        return np.column_stack([1 - p, p])


def _target(model: Threshold) -> Any:
    shadow = LoadedModel("m/2", model, [{"name": "x", "dtype": "float64"}], [0, 1])
    deployment = SimpleNamespace(name="web", revision=3)
    return SimpleNamespace(
        deployment=deployment, shadow=shadow, redact=Redactor(frozenset(), "hash", b"")
    )


PARSER = RequestParser("web", [{"name": "x", "dtype": "float64"}], max_rows=1000)


def _job(target: Any, i: int, n: int) -> ShadowJob:
    xs = [float(i - 5 + j) for j in range(n)]
    inputs = [{"x": x} for x in xs]
    if i % 2:  # a primary whose frame the shadow cannot reuse: built from the dicts
        frame = pd.DataFrame({"x": xs, "other": 0})
        request = ParsedRequest(frame, None, ["x"], records=inputs)
    else:  # the numeric block: the shadow reuses the primary's frame
        request = PARSER.parse({"instances": inputs})
        assert request.values is not None
    logged = [json.dumps(record) for record in inputs]
    return ShadowJob(target, request, logged, [1] * n, f"r{i}", "2026-12-07T00:00")


def _value(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else float(value)


def test_waiting_jobs_are_answered_in_one_call_and_logged_per_request() -> None:
    gate = threading.Event()
    model = Threshold(gate)
    rows: list[dict[str, Any]] = []
    metrics = Metrics()
    runner = ShadowRunner(lambda block: rows.extend(block.rows()), metrics, max_wait=0.05)
    target = _target(model)
    for i in range(30):  # the first job holds the model; the other 29 wait together
        runner.submit(_job(target, i, 2))
    gate.set()
    runner.close()
    assert sum(model.calls) == 60 and len(model.calls) < 30
    assert len(rows) == 60
    assert {(r["request_id"], r["index"]) for r in rows} == {
        (f"r{i}", j) for i in range(30) for j in range(2)
    }
    by_key = {(r["request_id"], r["index"]): r for r in rows}
    assert by_key[("r0", 0)]["label"] == "0" and by_key[("r9", 1)]["label"] == "1"
    assert all(r["route"] == "shadow" and r["revision"] == 3 for r in rows)
    # Primary said 1 everywhere: the shadow disagrees where x <= 0 (i - 5 + j <= 0).
    expected = sum(1 for i in range(30) for j in range(2) if i - 5 + j <= 0)
    assert _value(metrics, "dcai_shadow_disagreements_total", deployment="web") == expected


def test_a_full_queue_drops_jobs_and_counts_them() -> None:
    gate = threading.Event()
    metrics = Metrics()
    runner = ShadowRunner(lambda block: None, metrics, max_jobs=3, max_wait=0.0)
    model = Threshold(gate)
    target = _target(model)
    runner.submit(_job(target, 0, 1))
    assert model.entered.wait(10)  # the thread holds job 0 in the model
    for i in range(1, 20):
        runner.submit(_job(target, i, 1))
    assert runner.dropped_jobs == 19 - 3  # three wait in the queue
    gate.set()
    runner.close()
    labels = {"deployment": "web", "route": "shadow", "model_version": "m/2", "status": "dropped"}
    assert _value(metrics, "dcai_requests_total", **labels) == runner.dropped_jobs


def test_a_failing_shadow_is_counted_and_the_runner_goes_on() -> None:
    class Broken(Threshold):
        def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
            raise ValueError("boom")

    rows: list[dict[str, Any]] = []
    metrics = Metrics()
    runner = ShadowRunner(lambda block: rows.extend(block.rows()), metrics, max_wait=0.0)
    runner.submit(_job(_target(Broken()), 0, 1))
    runner.submit(_job(_target(Threshold()), 1, 1))
    runner.close()
    errors = {"deployment": "web", "route": "shadow", "model_version": "m/2", "status": "error"}
    assert _value(metrics, "dcai_requests_total", **errors) >= 1
    assert len(rows) <= 1
