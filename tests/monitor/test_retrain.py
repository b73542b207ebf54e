"""Retraining from production: labelled production rows join the training data as a new
version, the same recipe is retrained, candidate and production are compared on the dev split
and on the held-out newest production window, and a canary starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

import dcai
from dcai._demo_monitor import log_traffic as send
from dcai.errors import InvalidInputError
from dcai.monitor.retrain import due_for_retraining, retrain, retrain_policy
from tests.e2e.conftest import build_deploy_workspace, shuffled_digits

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def shifted(tmp_path: Path) -> Path:
    """Digits deployed; then 3 hours of brighter images (x 1.6) with feedback on 70 %."""
    ws = build_deploy_workspace(tmp_path / "ws", rows=700, shuffle=3)
    frame = shuffled_digits(3).iloc[700:1600].reset_index(drop=True)
    features = [c for c in frame.columns if c != "label"]
    frame[features] = np.clip(frame[features] * 1.6, 0, 16).round()
    send(ws, frame, frame["label"], start=T0, spacing=timedelta(seconds=12), feedback=0.7, seed=4)
    return ws


def test_retrain_adds_rows_compares_and_canaries(shifted: Path) -> None:
    with dcai.Workspace(shifted) as ws:
        result = retrain(ws.stores, "web", canary=20, holdout="30m", n_boot=0)
        version = ws.data.version(result.dataset)
        base = ws.data.version("digits@v2")
        deployment = ws.deployments.get("web")
    assert result.model == "digits/3" and result.canary == {
        "revision": 2,
        "model": "digits/3",
        "percent": 20,
    }
    assert deployment.canary == "digits/3" and deployment.canary_percent == 20
    assert version.rows == base.rows + result.added_rows
    assert version.operation == "retrain" and version.params["deployment"] == "web"
    assert version.parent_ids == (base.id,)
    assert 300 < result.added_rows < 600 and 80 < result.held_out_rows < 130
    dev, prod = result.comparison["dev"], result.comparison["production"]
    assert dev["n"] == 140 and prod["n"] == result.held_out_rows
    # The candidate learned the brighter images: better on the held-out production window.
    assert prod["candidate_accuracy"] > prod["production_accuracy"]
    assert prod["low"] <= prod["difference"] <= prod["high"]
    frame = version.to_pandas()
    added = frame[frame["example_id"].str.contains(":")]
    assert (added["split"] == "train").all() and added["label"].dtype == frame["label"].dtype


def test_retrain_without_feedback_says_what_to_do(tmp_path: Path) -> None:
    ws_path = build_deploy_workspace(tmp_path / "ws", rows=300)
    frame = shuffled_digits(0).iloc[:50]
    send(ws_path, frame, None, start=T0, spacing=timedelta(seconds=5))
    with dcai.Workspace(ws_path) as ws, pytest.raises(InvalidInputError, match="feedback label"):
        retrain(ws.stores, "web")


def test_the_policy_triggers_on_its_rules_at_most_every_interval(shifted: Path) -> None:
    policy = retrain_policy({"retrain": {"on": ["drift"], "min_interval": "1d", "canary": 5}})
    assert policy is not None and policy.canary == 5.0 and policy.min_interval == 86400
    firing = [{"rule": "drift"}]
    with dcai.Workspace(shifted) as ws:
        with pytest.raises(InvalidInputError, match="--holdout"):
            retrain(ws.stores, "web", holdout="forever")
        assert due_for_retraining(ws.stores, "web", [{"rule": "errors"}], policy) is None
        assert due_for_retraining(ws.stores, "web", firing, policy) == "alert(s) firing: drift"
        retrain(ws.stores, "web", holdout="30m", n_boot=0)
        assert due_for_retraining(ws.stores, "web", firing, policy) is None  # just retrained
    with pytest.raises(InvalidInputError, match="unknown key"):
        retrain_policy({"retrain": {"on": ["x"], "every": "1d"}})
    with pytest.raises(InvalidInputError, match="on must"):
        retrain_policy({"retrain": {"on": []}})
