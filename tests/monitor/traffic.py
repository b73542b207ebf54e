"""Simulated production traffic for monitoring tests: real answers of a deployed model written
to the prediction, feedback and error logs with the server's own log writer, at chosen times."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

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


def send(
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
    review_below: float | None = None,
    errors_every: int = 0,
    shadow: str | None = None,
    seed: int = 0,
) -> list[str]:
    """Answer ``rows`` (one request each, ``spacing`` apart from ``start``) with ``model`` and log
    them; a ``feedback`` share of them gets its true label back; every ``errors_every``-th
    request is also logged as a failed one. Returns the request ids."""
    rng = np.random.default_rng(seed)
    with dcai.Workspace(ws_path) as ws:
        stores = ws.stores
        loaded = load_pinned(stores, model)
        probs = loaded.predict(rows[loaded.features])
        answered = answers(loaded, probs)
        shadow_answers = None
        if shadow is not None:
            other = load_pinned(stores, shadow)
            shadow_answers = answers(other, other.predict(rows[other.features]))
    log = PartitionedLog(prediction_log_dir(ws_path))
    feedback_log = PartitionedLog(feedback_log_dir(ws_path), FEEDBACK_FIELDS)
    error_log = PartitionedLog(error_log_dir(ws_path), ERROR_FIELDS)
    ids = []
    records = rows[loaded.features].to_dict(orient="records")
    for i, (record, answer) in enumerate(zip(records, answered, strict=True)):
        at = (start + spacing * i).isoformat(timespec="microseconds")
        request_id = uuid.UUID(int=int(rng.integers(0, 2**63)) + i).hex
        ids.append(request_id)
        base = {
            "request_id": request_id,
            "index": 0,
            "time": at,
            "deployment": deployment,
            "revision": 1,
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
                    "time": (start + spacing * i + timedelta(minutes=30)).isoformat(),
                    "deployment": deployment,
                    "label": json.dumps(label.item() if hasattr(label, "item") else label),
                    "outcome": None,
                    "source": "review" if review else "api",
                }
            )
        if errors_every and i % errors_every == 0:
            error_log.append(
                {
                    "request_id": uuid.uuid4().hex,
                    "time": at,
                    "deployment": deployment,
                    "revision": 1,
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
