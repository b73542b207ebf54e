"""Ramp with guard-rails: steps as revisions, guards on the logged canary traffic, automatic
rollback with the reason, promotion at 100 %, waiting for traffic, stopping on other changes."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dcai
from dcai.demo import digits_frame
from dcai.deploy._models import answers, load_pinned
from dcai.deploy.prediction_log import (
    ERROR_FIELDS,
    PREDICTION_FIELDS,
    error_log_dir,
    prediction_log_dir,
)
from dcai.deploy.ramp import (
    Guard,
    RampEvent,
    RampResult,
    canary_health,
    parse_guard,
    parse_steps,
    run_ramp,
)
from dcai.errors import InvalidInputError
from dcai.store import Stores

FEATURES = [c for c in digits_frame().columns if c != "label"]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ramp") / "ws"
    with dcai.Workspace(root) as ws:
        ws.data.add("digits", digits_frame().head(300), label="label")
        ws.data.split("digits", dev=0.2, test=0.0, seed=0)
        for C in (1.0, 0.001):
            run = ws.runs.train("digits", params={"C": C}, n_boot=0, capture_code=False).run
            ws.models.register(run, name="digits")
        ws.deployments.create("web", model="digits/1")
    return root


@pytest.fixture
def stores(template: Path, tmp_path: Path) -> Stores:
    shutil.copytree(template, tmp_path / "ws")
    opened = Stores.open(tmp_path / "ws", create=False)
    yield opened
    opened.close()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _write(folder: Path, fields: tuple[tuple[str, str], ...], rows: list[dict[str, Any]]) -> None:
    part = folder / "deployment=web" / f"date={_now()[:10]}"
    part.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([(n, pa.type_for_alias(k)) for n, k in fields])
    table = pa.Table.from_pylist([{n: r.get(n) for n, _ in fields} for r in rows], schema=schema)
    pq.write_table(table, part / f"part-{uuid.uuid4().hex}.parquet")


def log_canary(
    stores: Stores,
    requests: int,
    *,
    model: str = "digits/2",
    latency_ms: float = 2.0,
    labels: Callable[[Any], list[Any]] | None = None,
    route: str = "canary",
) -> None:
    """``requests`` one-instance requests answered by ``model``, logged as the server does."""
    frame = digits_frame().iloc[:requests]
    given = labels(frame) if labels is not None else list(frame["label"])
    rows = [
        {
            "request_id": uuid.uuid4().hex,
            "index": 0,
            "time": _now(),
            "revision": 2,
            "route": route,
            "model_version": model,
            "inputs": json.dumps({f: int(row[f]) for f in FEATURES}),
            "label": json.dumps(int(label)),
            "confidence": 0.9,
            "probabilities": "{}",
            "needs_review": False,
            "latency_ms": latency_ms,
        }
        for (_, row), label in zip(frame.iterrows(), given, strict=True)
    ]
    _write(prediction_log_dir(stores.path), PREDICTION_FIELDS, rows)


def log_errors(stores: Stores, n: int, *, model: str = "digits/2") -> None:
    rows = [
        {
            "request_id": uuid.uuid4().hex,
            "time": _now(),
            "revision": 2,
            "route": "canary",
            "model_version": model,
            "instances": 1,
            "error": "ValueError: boom",
            "latency_ms": 1.0,
        }
        for _ in range(n)
    ]
    _write(error_log_dir(stores.path), ERROR_FIELDS, rows)


class FakeTime:
    """A clock that moves only when the ramp sleeps; ``traffic`` runs at every sleep."""

    def __init__(self, traffic: Callable[[int], None] = lambda i: None) -> None:
        self.now = 0.0
        self.sleeps = 0
        self.traffic = traffic

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.sleeps += 1
        if self.sleeps > 200:
            raise AssertionError("the ramp did not end")
        self.traffic(self.sleeps)


def ramp(stores: Stores, fake: FakeTime, guards: list[str], **kw: Any) -> RampResult:
    events: list[RampEvent] = kw.pop("events", [])
    return run_ramp(
        stores,
        "web",
        model="digits/2",
        steps=kw.pop("steps", [10, 50, 100]),
        every=10,
        poll=5,
        guards=[parse_guard(g) for g in guards],
        min_requests=kw.pop("min_requests", 20),
        clock=fake.clock,
        sleep=fake.sleep,
        on_event=events.append,
        **kw,
    )


def test_guards_that_hold_take_every_step_then_promote(stores: Stores) -> None:
    fake = FakeTime(lambda i: log_canary(stores, 15))
    events: list[RampEvent] = []
    result = ramp(
        stores, fake, ["error_rate<0.01", "latency_p95<0.1", "disagreement<0.5"], events=events
    )
    assert result.outcome == "promoted", result
    d = dcai.Workspace(stores.path, create=False).deployments.get("web")
    assert (d.primary, d.canary) == ("digits/2", None)
    assert [r.action for r in d.history] == ["create", "ramp", "ramp", "ramp", "promote"]
    assert [r.canary_percent for r in d.history[1:4]] == [10.0, 50.0, 100.0]
    assert "step 2/3 at 50 %" in d.history[2].reason
    assert [s["outcome"] for s in result.steps] == ["passed"] * 3
    assert result.steps[0]["health"]["requests"] >= 20
    assert {e.kind for e in events} >= {"step", "check", "passed", "promoted"}
    # Each step lasted at least `every` (10 s of the fake clock at 5 s polls).
    assert fake.now >= 30


def test_a_failing_guard_rolls_back_to_the_routing_before_the_ramp(stores: Stores) -> None:
    ws = dcai.Workspace(stores.path, create=False)
    ws.deployments.set_mode("web", mode="partial", review_below=0.6)  # revision 2: the base
    slow = {"on": False}

    def traffic(i: int) -> None:
        log_canary(stores, 15, latency_ms=250.0 if slow["on"] else 3.0)

    fake = FakeTime(traffic)
    events: list[RampEvent] = []

    def watch(event: RampEvent) -> None:
        events.append(event)
        if event.kind == "passed":
            slow["on"] = True  # the second step gets slow

    result = run_ramp(
        stores,
        "web",
        model="digits/2",
        steps=[10, 50, 100],
        every=10,
        poll=5,
        guards=[parse_guard("latency_p95<0.1")],
        min_requests=20,
        clock=fake.clock,
        sleep=fake.sleep,
        on_event=watch,
    )
    assert result.outcome == "rolled_back"
    assert "step 2/3 at 50 %" in result.reason and "latency_p95 0.25" in result.reason
    d = ws.deployments.get("web")
    assert (d.primary, d.canary, d.mode, d.review_below) == ("digits/1", None, "partial", 0.6)
    assert d.live.action == "rollback" and "latency_p95" in d.live.reason
    assert [s.get("outcome") for s in result.steps] == ["passed", "failed"]
    assert events[-1].kind == "failed"
    ws.close()


def test_error_rate_counts_the_error_log(stores: Stores) -> None:
    def traffic(i: int) -> None:
        log_canary(stores, 10)
        log_errors(stores, 1)

    result = ramp(stores, FakeTime(traffic), ["error_rate<0.05"])
    assert result.outcome == "rolled_back"
    assert "error_rate 0.0909" in result.reason


def test_disagreement_reanswers_the_canary_inputs_with_the_primary(stores: Stores) -> None:
    primary = load_pinned(stores, "digits/1")
    frame = digits_frame().iloc[:40]
    agreeing = [a["label"] for a in answers(primary, primary.predict(frame))]
    log_canary(stores, 40, labels=lambda f: agreeing)
    since = "2000-01-01"
    health = canary_health(stores, "web", model_version="digits/2", since=since, primary=primary)
    assert (health.requests, health.compared, health.disagreement) == (40, 40, 0.0)
    log_canary(stores, 40, labels=lambda f: [(a + 1) % 10 for a in agreeing])
    health = canary_health(stores, "web", model_version="digits/2", since=since, primary=primary)
    assert health.compared == 80 and health.disagreement == pytest.approx(0.5)
    # Only the canary of that model counts: primary rows and other versions are left out.
    log_canary(stores, 30, route="primary", model="digits/1")
    log_canary(stores, 30, model="digits/9")
    again = canary_health(stores, "web", model_version="digits/2", since=since)
    assert again.requests == 80 and again.disagreement is None
    assert again.latency_p95 == pytest.approx(0.002)
    assert np.isclose(again.error_rate or 0.0, 0.0)


def test_a_step_without_enough_traffic_waits_and_ctrl_c_leaves_the_canary(
    stores: Stores,
) -> None:
    def traffic(i: int) -> None:
        if i > 6:
            raise KeyboardInterrupt

    events: list[RampEvent] = []
    result = ramp(stores, FakeTime(traffic), ["error_rate<0.01"], events=events)
    assert result.outcome == "interrupted"
    assert "--to 1" in result.reason
    assert [e.kind for e in events].count("waiting") >= 3
    d = dcai.Workspace(stores.path, create=False).deployments.get("web")
    assert (d.canary, d.canary_percent) == ("digits/2", 10.0)


def test_a_change_by_someone_else_stops_the_ramp_untouched(stores: Stores) -> None:
    ws = dcai.Workspace(stores.path, create=False)

    def traffic(i: int) -> None:
        if i == 2:
            ws.deployments.canary("web", percent=30, author="alice")

    result = ramp(stores, FakeTime(traffic), [])
    assert result.outcome == "superseded"
    assert "alice" in result.reason
    d = ws.deployments.get("web")
    assert (d.canary_percent, d.live.author) == (30.0, "alice")
    ws.close()


def test_steps_below_100_end_with_the_canary_held(stores: Stores) -> None:
    result = ramp(stores, FakeTime(lambda i: log_canary(stores, 25)), [], steps=[5, 20])
    assert result.outcome == "completed"
    d = dcai.Workspace(stores.path, create=False).deployments.get("web")
    assert (d.canary, d.canary_percent) == ("digits/2", 20.0)


@pytest.mark.parametrize(
    "text",
    ["__import__('os').system('true')<1", "error_rate<abc", "accuracy>0.9", "error_rate", ""],
)
def test_guards_are_parsed_never_evaluated(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_guard(text)


def test_guard_parsing_and_comparison() -> None:
    guard = parse_guard(" disagreement <= 2e-1 ")
    assert guard == Guard("disagreement", "<=", 0.2)
    assert guard.holds(0.2) and not guard.holds(0.21)
    assert str(parse_guard("latency_p99>0.5")) == "latency_p99>0.5"


@pytest.mark.parametrize("text", ["50,10", "0,100", "5,101", "", "5,5", "a,b", "nan"])
def test_bad_step_lists_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_steps(text)


def test_bad_ramp_settings_change_nothing(stores: Stores) -> None:
    fake = FakeTime()
    with pytest.raises(InvalidInputError):
        ramp(stores, fake, [], min_requests=0)
    with pytest.raises(InvalidInputError):
        run_ramp(stores, "web", model="digits/2", steps=[10], every=0, guards=[])
    with pytest.raises(InvalidInputError):  # the primary itself is not a canary
        run_ramp(stores, "web", model="digits/1", steps=[10], every=1, guards=[])
    d = dcai.Workspace(stores.path, create=False).deployments.get("web")
    assert d.revision == 1
