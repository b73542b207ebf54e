"""The demo's closing act: six hours of production traffic with a sudden and a gradual change,
monitoring that raises alerts, late feedback, retraining into a new data version, a canary
that ramps up and is promoted, and the HTML report.

Traffic is *simulated in time*: answers of the deployed model are written to the prediction
log with the server's own log writer (:func:`log_traffic`), dated over the six hours before
now, so the monitoring windows are real hours; the labels come back 45 minutes after each
answer (delayed ground truth). The previous act served real HTTP requests; this one shows
what hours of it look like.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from dcai.workspace import Workspace

__all__ = ["RULES", "log_traffic", "monitor_and_retrain"]

#: The alert rules the demo writes into its workspace's dcai.toml.
RULES = """
[[monitor.rules]]
name = "inputs drifted"
metric = "drift_share"
op = ">="
threshold = 0.2

[[monitor.rules]]
name = "pixels out of range"
metric = "out_of_range_rate"
op = ">"
threshold = 0.002

[[monitor.rules]]
name = "confidence fell"
metric = "confidence_mean"
op = "<"
calibrated = true
k = 3
baseline = 2
"""
REQUESTS_PER_HOUR = 150
HOURS = 6


def log_traffic(
    ws_path: Path,
    rows: pd.DataFrame,
    truth: pd.Series | None,
    *,
    start: datetime,
    spacing: timedelta,
    model: str = "digits/1",
    deployment: str = "web",
    route: str = "primary",
    feedback: float = 0.0,
    feedback_delay: timedelta = timedelta(minutes=30),
    review_below: float | None = None,
    errors_every: int = 0,
    shadow: str | None = None,
    revision: int = 1,
    seed: int = 0,
) -> list[str]:
    """Answer ``rows`` (one request each, ``spacing`` apart from ``start``) with ``model`` and
    log them as ``dcai serve`` would; a ``feedback`` share gets its ``truth`` back
    ``feedback_delay`` later; every ``errors_every``-th request is also logged as failed.
    Returns the request ids."""
    import dcai
    from dcai.deploy._models import answers, load_pinned
    from dcai.deploy.prediction_log import (
        ERROR_FIELDS,
        FEEDBACK_FIELDS,
        PartitionedLog,
        error_log_dir,
        feedback_log_dir,
        inputs_json,
        prediction_log_dir,
    )

    rng = np.random.default_rng(seed)
    with dcai.Workspace(ws_path, create=False) as ws:
        loaded = load_pinned(ws.stores, model)
        answered = answers(loaded, loaded.predict(rows[loaded.features]))
        shadow_answers = None
        if shadow is not None:
            other = load_pinned(ws.stores, shadow)
            shadow_answers = answers(other, other.predict(rows[other.features]))
    log = PartitionedLog(prediction_log_dir(ws_path))
    feedback_log = PartitionedLog(feedback_log_dir(ws_path), FEEDBACK_FIELDS)
    error_log = PartitionedLog(error_log_dir(ws_path), ERROR_FIELDS)
    ids = []
    records = rows[loaded.features].to_dict(orient="records")
    for i, (record, answer) in enumerate(zip(records, answered, strict=True)):
        moment = start + spacing * i
        at = moment.isoformat(timespec="microseconds")
        request_id = uuid.UUID(int=int(rng.integers(0, 2**63)) + i).hex
        ids.append(request_id)
        base = {
            "request_id": request_id,
            "index": 0,
            "time": at,
            "deployment": deployment,
            "revision": revision,
            "inputs": inputs_json(record),
            "latency_ms": float(5 + rng.exponential(3)),
        }
        review = review_below is not None and answer["confidence"] < review_below
        log.append(
            base
            | {
                "route": route,
                "model_version": model,
                "label": json.dumps(answer["label"]),
                "confidence": answer["confidence"],
                "probabilities": json.dumps(answer["probabilities"]),
                "needs_review": review,
            }
        )
        if shadow_answers is not None:
            other_answer = shadow_answers[i]
            log.append(
                base
                | {
                    "route": "shadow",
                    "model_version": shadow,
                    "label": json.dumps(other_answer["label"]),
                    "confidence": other_answer["confidence"],
                    "probabilities": json.dumps(other_answer["probabilities"]),
                    "needs_review": False,
                }
            )
        if truth is not None and rng.random() < feedback:
            label: Any = truth.iloc[i]
            feedback_log.append(
                {
                    "request_id": request_id,
                    "index": 0,
                    "time": (moment + feedback_delay).isoformat(timespec="microseconds"),
                    "deployment": deployment,
                    "label": json.dumps(label.item() if hasattr(label, "item") else label),
                    "outcome": None,
                    "source": "review" if review else "api",
                }
            )
        if errors_every and i % errors_every == 0:
            error_log.append(
                {
                    "request_id": uuid.UUID(int=int(rng.integers(0, 2**63))).hex,
                    "time": at,
                    "deployment": deployment,
                    "revision": revision,
                    "route": route,
                    "model_version": model,
                    "instances": 1,
                    "error": "ValueError: simulated",
                    "latency_ms": 1.0,
                }
            )
    for writer in (log, feedback_log, error_log):
        writer.close()
    return ids


def _hours(pool: pd.DataFrame, features: list[str], seed: int) -> pd.DataFrame:
    """Six hours of requests drawn from ``pool``: two as usual, two after a sudden change
    (pixels x 1.6, like a brighter camera), two of a gradual one (the scale ramps up)."""
    rng = np.random.default_rng(seed)
    parts = []
    for hour in range(HOURS):
        take = pool.sample(n=REQUESTS_PER_HOUR, replace=True, random_state=seed + hour).copy()
        if hour in (2, 3):
            scale = np.full(len(take), 1.6)
        elif hour in (4, 5):
            scale = 1.0 + 0.6 * rng.uniform(0, 1, len(take)) * (hour - 3) / 2
        else:
            scale = np.ones(len(take))
        pixels = take[features].to_numpy(dtype=float) * scale[:, None]
        take[features] = np.clip(pixels, 0, 16).round().astype(take[features].dtypes.iloc[0])
        parts.append(take)
    return pd.concat(parts, ignore_index=True)


def monitor_and_retrain(
    ws: Workspace, deployment: str, pool: pd.DataFrame, *, seed: int = 0
) -> dict[str, Any]:
    """Simulate six hours of ``deployment``'s traffic from the labelled ``pool`` (features and
    ``label``), monitor it hourly, retrain from its labelled rows, canary, ramp and promote
    the candidate, and write the HTML report. Returns what the demo prints."""
    from dcai._atomic import atomic_write_bytes
    from dcai.monitor.deployment import report_page

    config = ws.stores.path / "dcai.toml"
    text = config.read_text(encoding="utf-8")
    if not re.search(r"^\[\[monitor\.rules\]\]", text, re.M):  # not only the commented example
        config.write_text(text.rstrip() + "\n" + RULES, encoding="utf-8")
    live = ws.deployments.get(deployment)
    features = [c for c in pool.columns if c != "label"]
    traffic = _hours(pool, features, seed)
    from dcai.deploy.logs import read_log

    # Six whole hours that end before the first logged request (the live act's): hourly
    # windows, and the simulated past never mixes with what was really served.
    logged = read_log(ws.stores, deployment, limit=None)
    first = pd.Timestamp(logged["time"].min()).to_pydatetime() if len(logged) else datetime.now(UTC)
    end = first.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=HOURS)
    log_traffic(
        ws.stores.path,
        traffic[features],
        traffic["label"],
        start=start,
        spacing=timedelta(hours=1) / REQUESTS_PER_HOUR,
        model=live.primary,
        deployment=deployment,
        feedback=0.6,
        feedback_delay=timedelta(minutes=45),
        revision=live.revision,
        seed=seed,
    )
    report = ws.monitor(deployment, window="1h", since=start.isoformat())
    report.wait_for_delivery(10.0)
    retrained = ws.monitor.retrain(
        deployment, canary=20, holdout="1h", reason="demo: inputs drifted"
    )
    ws.deployments.canary(
        deployment, percent=50, reason="demo: the candidate holds up, ramp to 50 %"
    )
    promoted = ws.deployments.promote(deployment, reason="demo: promote the retrained model")
    page = ws.stores.path / "reports" / f"monitor-{deployment}.html"
    atomic_write_bytes(page, report_page(ws.stores, report).encode("utf-8"))
    dataset = ws.data.version(retrained.dataset)
    return {
        "windows": report.windows,
        "alerts": report.alerts,
        "retrained": retrained,
        "dataset": dataset,
        "deployment": promoted,
        "report": page,
        "requests": len(traffic),
    }
