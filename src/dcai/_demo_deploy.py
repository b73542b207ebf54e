"""The demo's last act: deploy the production model, canary the other one, serve simulated
traffic through a real server, take feedback, roll back, and bring production data back.

Runs ``dcai serve``'s app on uvicorn in a background thread on a free local port, so every
request goes through HTTP exactly as a client's would. Needs the ``serve`` extra; without it the
demo skips this part and says so.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from dcai.experiments.registry import ModelVersion
    from dcai.workspace import Workspace

__all__ = ["DEPLOYMENT", "deploy_and_serve"]

DEPLOYMENT = "digits-web"
CANARY_PERCENT = 30
REVIEW_BELOW = 0.6
REQUESTS = 240
USERS = 120


def _post(url: str, body: Any) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def deploy_and_serve(
    ws: Workspace,
    production: ModelVersion,
    candidate: ModelVersion,
    rows: pd.DataFrame,
    truth: pd.Series,
    *,
    seed: int = 0,
) -> dict[str, Any] | None:
    """Create ``digits-web`` on ``production``, canary ``candidate``, send ``REQUESTS`` requests
    (``rows``, keyed by simulated user) with the true label as feedback for every other one,
    roll the canary back, and commit the labeled production rows as ``digits-production``.

    Returns what the demo prints, or None without the ``serve`` extra.
    """
    try:
        import uvicorn

        from dcai.serve.app import create_app
    except ImportError:
        return None
    ws.deployments.create(DEPLOYMENT, model=production.ref, reason="demo: the production model")
    ws.deployments.set_mode(
        DEPLOYMENT,
        mode="partial",
        review_below=REVIEW_BELOW,
        reason="demo: unsure answers to a person",
    )
    ws.deployments.canary(
        DEPLOYMENT,
        model=candidate.ref,
        percent=CANARY_PERCENT,
        reason=f"demo: try {candidate.ref} on {CANARY_PERCENT} % of users",
    )
    app = create_app(ws.stores, poll_interval=0.1)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, name="dcai-demo-server", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}/v1/deployments/{DEPLOYMENT}"
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the demo server did not start")
        time.sleep(0.05)
    features = [c for c in rows.columns if c != "label"]
    sample = rows.sample(n=REQUESTS, replace=len(rows) < REQUESTS, random_state=seed)
    routes: dict[str, int] = {}
    right: dict[str, list[int]] = {}
    review = 0
    try:
        for i, (example_id, row) in enumerate(sample.iterrows()):
            instance = {f: int(row[f]) for f in features}
            answer = _post(f"{base}/predict", {"instances": [instance], "key": f"user-{i % USERS}"})
            route = answer["route"]
            routes[route] = routes.get(route, 0) + 1
            prediction = answer["predictions"][0]
            review += bool(prediction["needs_review"])
            if i % 2 == 0:  # ground truth comes back for half of the requests
                label = int(truth.loc[example_id])
                _post(f"{base}/feedback", {"request_id": answer["request_id"], "label": label})
                right.setdefault(route, []).append(int(prediction["label"] == label))
        accuracy = {r: sum(v) / len(v) for r, v in right.items() if v}
        primary, canary = accuracy.get("primary"), accuracy.get("canary")
        reason = (
            f"demo: canary accuracy {canary:.2f} vs primary {primary:.2f} on feedback"
            if primary is not None and canary is not None
            else "demo: end the canary"
        )
        rolled = ws.deployments.rollback(DEPLOYMENT, reason=reason)
        while _get(base)["revision"] != rolled.revision:  # picked up without a restart
            if time.monotonic() > deadline + 30:
                raise RuntimeError("the demo server did not pick up the rollback")
            time.sleep(0.05)
        after = _post(f"{base}/predict", {"instances": [instance], "key": "user-0"})["route"]
    finally:
        server.should_exit = True
        thread.join(30)
    logged = ws.deployments.logs(DEPLOYMENT, limit=5)
    queue = ws.deployments.review_queue(DEPLOYMENT, limit=None)
    production_data = ws.deployments.to_dataset(
        DEPLOYMENT,
        dataset="digits-production",
        only_labeled=True,
        message="demo: labeled production rows of digits-web",
    )
    return {
        "deployment": ws.deployments.get(DEPLOYMENT),
        "requests": REQUESTS,
        "routes": routes,
        "accuracy": accuracy,
        "needs_review": review,
        "review_queue": len(queue),
        "route_after_rollback": after,
        "logged": logged,
        "production_data": production_data,
    }
