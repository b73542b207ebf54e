"""The prediction server: FastAPI routes over the live deployment snapshot.

``create_app(stores)`` builds the app; ``dcai serve`` runs it on uvicorn. Routes:

==========================================  =================================================
``POST /v1/deployments/{name}/predict``     answer a request with the deployment's routing
``GET  /v1/deployments/{name}``             the routing being served (revision, models)
``GET  /v1/deployments``                    every deployment being served
``POST /invocations``                       MLflow's scoring route, for the default deployment
``GET  /healthz``, ``/readyz``, ``/metrics``  liveness, readiness, Prometheus metrics
==========================================  =================================================

A request is routed once: with a ``key`` to the canary when the key's hash falls under the
canary percentage (sticky), without one by an exact counter; the shadow model, if any, runs
after the response is sent (its latency and errors never reach the caller) and its answers are
logged with ``route=shadow`` and counted against the primary's as disagreement. The degree of
automation decides ``needs_review``: ``partial`` below ``review_below``, ``assist`` always,
``shadow`` (human only) always, with no model answer in the response.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import numpy as np
import orjson
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from dcai.deploy import canary_by_key
from dcai.deploy._models import answers as model_answers
from dcai.deploy.prediction_log import (
    ERROR_FIELDS,
    FEEDBACK_FIELDS,
    USAGE_FIELDS,
    PartitionedLog,
    error_log_dir,
    feedback_log_dir,
    prediction_block,
    prediction_log_dir,
    usage_log_dir,
)
from dcai.serve._admin import ERROR_RESPONSES, admin_router, require_client
from dcai.serve._inputs import InputError
from dcai.serve._limits import BodyLimit
from dcai.serve._metrics import Metrics
from dcai.serve._openapi import predict_operation
from dcai.serve._shadow import ShadowJob, ShadowRunner
from dcai.serve._state import Live, SnapshotSource
from dcai.serve._usage import UsageSampler
from dcai.store import Stores

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


__all__ = ["DEFAULT_MAX_BODY_BYTES", "create_app"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (use null for a missing value)")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is too large for a number")
    return value


def _reviews(mode: str, review_below: float | None, answers: list[dict[str, Any]]) -> list[bool]:
    """Which answers go to a person: all of them in ``assist`` and ``shadow`` (human-only),
    those below ``review_below`` in ``partial``, none in ``full``."""
    if mode in ("assist", "shadow"):
        return [True] * len(answers)
    if mode == "partial" and review_below is not None:
        return [a["confidence"] < review_below for a in answers]
    return [False] * len(answers)


def create_app(
    stores: Stores,
    *,
    poll_interval: float = 0.25,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    default_deployment: str | None = None,
    trusted: tuple[str, ...] = (),
    usage_interval: float = 10.0,
) -> FastAPI:
    """The prediction server for every deployment of the workspace whose ``stores`` are given.

    ``trusted`` names the exact types, beyond dcai's list, that deployed models may hold (as
    ``dcai deploy --trust``); a model needing another one is not served and ``/readyz`` says so.

    The prediction and feedback logs go to ``<workspace>/logs/`` (docs/deploy.md), and every
    ``usage_interval`` seconds the process's memory and CPU use to the usage log
    (``dcai monitor`` reads it: ``server_memory_mb``, ``server_cpu_percent``).
    """
    metrics = Metrics()
    log = PartitionedLog(prediction_log_dir(stores.path), on_drop=metrics.dropped_rows.inc)
    feedback_log = PartitionedLog(
        feedback_log_dir(stores.path), FEEDBACK_FIELDS, on_drop=metrics.dropped_rows.inc
    )
    error_log = PartitionedLog(
        error_log_dir(stores.path), ERROR_FIELDS, on_drop=metrics.dropped_rows.inc
    )
    # Request ids answered by this process (newest 1,000,000): feedback for them is accepted
    # before the log is flushed; older ones are looked up in the log.
    recent: OrderedDict[str, tuple[str, int]] = OrderedDict()
    recent_lock = threading.Lock()
    source = SnapshotSource(stores, poll_interval=poll_interval, trusted=trusted)
    shadows = ShadowRunner(log.extend_block, metrics)
    usage = UsageSampler(
        # Not counted in dcai_log_dropped_rows (a lost sample is not a lost prediction); a
        # failed write is logged.
        PartitionedLog(usage_log_dir(stores.path), USAGE_FIELDS),
        lambda: source.snapshot.deployments,
        interval=usage_interval,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        source.start()
        usage.start()
        try:
            yield
        finally:
            usage.stop()  # a last sample, then its log is flushed
            usage.log.close()
            source.stop()
            shadows.close()  # its answers go to the log: drained first
            log.close()
            feedback_log.close()
            error_log.close()

    app = FastAPI(
        title="dcai prediction server",
        version="1",
        lifespan=lifespan,
        description="Every deployment of a dcai workspace: canary, shadow, human review.",
    )
    app.state.stores = stores
    app.state.source = source
    app.state.log = log
    app.state.metrics = metrics

    def get_stores(request: Request) -> Stores:
        stores_: Stores = request.app.state.stores
        return stores_

    def default_name() -> str | None:
        deployments = source.snapshot.deployments
        return default_deployment or (next(iter(deployments)) if len(deployments) == 1 else None)

    def live(name: str) -> Live:
        found = source.snapshot.deployments.get(name)
        if found is None:
            known = ", ".join(sorted(source.snapshot.deployments)) or "none"
            raise HTTPException(404, f"no deployment {name!r} (serving: {known})")
        return found

    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)

    async def _body(request: Request) -> Any:
        raw = await request.body()  # at most max_body_bytes: BodyLimit counts every chunk
        try:
            return orjson.loads(raw)  # strict JSON: NaN, Infinity and overflowing numbers refused
        except orjson.JSONDecodeError as exc:
            problem = str(exc)
        try:  # the standard parser only to say what is wrong in the user's terms
            json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite)
        except (ValueError, RecursionError) as exc:
            problem = str(exc)
        raise HTTPException(
            422, [{"loc": ["body"], "msg": f"malformed JSON: {problem}", "type": "json_invalid"}]
        )

    def _predict(target: Live, body: Any) -> Response:
        name = target.deployment.name
        routing = target.deployment
        start = time.perf_counter()
        try:
            parsed = target.parser.parse(body)
        except InputError as exc:
            metrics.requests.labels(name, "none", "", "invalid").inc()
            raise HTTPException(422, exc.detail) from None
        canary = target.canary
        frame, key = parsed.frame, parsed.key
        if canary is not None and (
            canary_by_key(name, key, routing.canary_percent)
            if key is not None
            else target.split.take(routing.canary_percent)
        ):
            model, route = canary, "canary"
        else:
            model, route = target.primary, "primary"
        request_id = uuid.uuid4().hex
        metrics.in_flight.inc()
        try:
            probs = model.predict(frame)
            if not np.isfinite(probs).all():  # NaN is not JSON: a failure, not an answer
                raise ValueError("a non-finite probability")
        except Exception as exc:
            metrics.requests.labels(name, route, model.ref, "error").inc()
            logger.exception("model %s of %s failed", model.ref, name)
            error_log.append(
                {
                    "request_id": request_id,
                    "time": datetime.now(UTC).isoformat(timespec="microseconds"),
                    "deployment": name,
                    "revision": routing.revision,
                    "route": route,
                    "model_version": model.ref,
                    "instances": len(frame),
                    "error": f"{type(exc).__name__}: {exc}"[:500],
                    "latency_ms": (time.perf_counter() - start) * 1000,
                }
            )
            raise HTTPException(
                500,
                f"the model {model.ref} failed: {type(exc).__name__} (request {request_id}, "
                "in the error log)",
            ) from None
        finally:
            metrics.in_flight.dec()
        answers = model_answers(model, probs)
        latency = (time.perf_counter() - start) * 1000
        with recent_lock:
            recent[request_id] = (name, len(answers))
            if len(recent) > 1_000_000:
                recent.popitem(last=False)
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        reviews = _reviews(routing.mode, routing.review_below, answers)
        logged_inputs = parsed.logged_inputs(target.redact)
        log.extend_block(
            prediction_block(
                answers,
                logged_inputs,
                needs_review=reviews,
                request_id=request_id,
                time=at,
                deployment=name,
                revision=routing.revision,
                route=route,
                model_version=model.ref,
                latency_ms=latency,
            )
        )
        observe = metrics.confidence.labels(name).observe
        for answer in answers:
            observe(answer["confidence"])
        metrics.requests.labels(name, route, model.ref, "ok").inc()
        metrics.duration.labels(name, route).observe(latency / 1000)
        if target.shadow is not None:
            labels = [a["label"] for a in answers]
            shadows.submit(ShadowJob(target, parsed, logged_inputs, labels, request_id, at))
        if routing.mode == "shadow":  # human-only: the model's answers are logged, not given
            hidden = {"label": None, "confidence": None, "probabilities": None}
            predictions = [hidden | {"needs_review": r} for r in reviews]
        else:
            predictions = [a | {"needs_review": r} for a, r in zip(answers, reviews, strict=True)]
        payload = {
            "request_id": request_id,
            "deployment": name,
            "revision": routing.revision,
            "model_version": model.ref,
            "route": route,
            "predictions": predictions,
        }
        # Plain JSON types already (and every probability finite): one C call, not FastAPI's
        # generic encoder.
        content = orjson.dumps(payload, default=str)
        return Response(content, media_type="application/json")

    # Each served deployment has its own path in /openapi.json (and /docs) with the request body
    # its parser validates; this generic route answers them all and is not shown itself.
    @app.post("/v1/deployments/{name}/predict", include_in_schema=False)
    async def predict(name: str, request: Request) -> Any:
        """Answer ``{"instances": [...], "key": ...}`` (or MLflow's ``dataframe_split`` /
        ``dataframe_records``) with the deployment's live routing."""
        require_client(stores, request)
        target = live(name)
        body = await _body(request)
        return _predict(target, body)

    @app.post(
        "/v1/deployments/{name}/feedback",
        responses={c: ERROR_RESPONSES[c] for c in (401, 404, 413)},
    )
    async def feedback(name: str, request: Request, stores_: Stores = Depends(get_stores)) -> Any:
        """Ground truth or an outcome for one answered instance: ``{"request_id", "index",
        "label"}`` or ``{"request_id", "index", "outcome": "clicked"}``."""
        from dcai.deploy.logs import check_feedback, feedback_row, find_request
        from dcai.errors import InvalidInputError

        require_client(stores_, request)
        live(name)
        body = await _body(request)
        if not isinstance(body, dict):
            raise HTTPException(422, [{"loc": ["body"], "msg": "the body must be a JSON object"}])
        extra = sorted(set(body) - {"request_id", "index", "label", "outcome"})
        if extra:
            raise HTTPException(422, [{"loc": ["body", extra[0]], "msg": "unexpected field"}])
        try:
            request_id, index, label, outcome = check_feedback(
                body.get("request_id"), body.get("index", 0), body.get("label"), body.get("outcome")
            )
        except InvalidInputError as exc:
            raise HTTPException(422, [{"loc": ["body"], "msg": str(exc)}]) from None
        with recent_lock:
            known = recent.get(request_id)
        answered = known[1] if known is not None and known[0] == name else None
        if answered is None:
            answered = find_request(stores_, name, request_id)
        if answered is None:
            raise HTTPException(404, f"no logged prediction {request_id} for deployment {name!r}")
        if index >= answered:
            raise HTTPException(
                422,
                [{"loc": ["body", "index"], "msg": f"the request answered {answered} instance(s)"}],
            )
        feedback_log.append(feedback_row(name, request_id, index, label, outcome, "api"))
        metrics.feedback.labels(name, "label" if label is not None else "outcome").inc()
        return {"recorded": True, "request_id": request_id, "index": index}

    @app.post("/invocations", include_in_schema=False)
    async def invocations(request: Request) -> Any:
        """MLflow's scoring route, answered by the default deployment."""
        require_client(stores, request)
        name = default_name()
        if name is None:
            raise HTTPException(
                404,
                "no default deployment: serve with --default-deployment NAME, or use "
                "/v1/deployments/{name}/predict",
            )
        target = live(name)
        body = await _body(request)
        return _predict(target, body)

    @app.get("/v1/deployments")
    def deployments() -> dict[str, Any]:
        """Every deployment being served, with the revision being served."""
        snapshot = source.snapshot
        return {
            "deployments": [
                d.deployment.to_dict(history=False) for _, d in sorted(snapshot.deployments.items())
            ],
            "errors": snapshot.errors,
        }

    @app.get("/v1/deployments/{name}", responses={404: ERROR_RESPONSES[404]})
    def deployment(name: str, stores_: Stores = Depends(get_stores)) -> dict[str, Any]:
        """The routing being served for ``name``, its request features, and the newest stored
        revision (the two differ for at most the poll interval after a change)."""
        from dcai.deploy.deployments import get_deployment

        target = live(name)
        served = target.deployment.to_dict(history=False)
        served["features"] = target.parser.features
        served["stored_revision"] = get_deployment(stores_, name).revision
        return served

    app.include_router(admin_router(stores, source.refresh))

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process answers."""
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"description": "a live revision failed to load"}})
    def readyz() -> JSONResponse:
        """Ready when every deployment's live revision is loaded."""
        snapshot = source.snapshot
        ok = not snapshot.errors
        return JSONResponse(
            {
                "ready": ok,
                "deployments": {n: d.deployment.revision for n, d in snapshot.deployments.items()},
                "errors": snapshot.errors,
            },
            status_code=200 if ok else 503,
        )

    queue_checked = [0.0]

    def _count_review_queues() -> None:
        """Queue sizes from the logs, at most every 10 s (a scan of the flushed log)."""
        from dcai.deploy.logs import review_queue

        if time.monotonic() - queue_checked[0] < 10:
            return
        queue_checked[0] = time.monotonic()
        for name, target in source.snapshot.deployments.items():
            if target.deployment.mode == "full":
                metrics.review_queue.labels(name).set(0)
                continue
            try:
                waiting = review_queue(stores, name, limit=None)
            except Exception:  # a log being written: count again next time
                logger.exception("could not count the review queue of %s", name)
                continue
            metrics.review_queue.labels(name).set(len(waiting))

    alerts_checked = [0.0]

    def _count_alerts() -> None:
        """Firing monitoring alerts from the workspace, at most every 10 s."""
        from dcai.monitor.deployment import firing_alerts

        if time.monotonic() - alerts_checked[0] < 10:
            return
        alerts_checked[0] = time.monotonic()
        try:
            firing = firing_alerts(stores)
        except Exception:  # the metadata store busy: count again next time
            logger.exception("could not count the firing alerts")
            return
        for name in source.snapshot.deployments:
            metrics.alerts_firing.labels(name).set(firing.get(name, 0))

    @app.get("/metrics", response_class=PlainTextResponse)
    def prometheus() -> Response:
        """Prometheus metrics."""
        _count_review_queues()
        _count_alerts()
        return Response(metrics.render(), media_type=metrics.content_type)

    documented: list[Any] = [None, None]  # the snapshot and default the schema was built for

    def openapi() -> dict[str, Any]:
        """The OpenAPI document, rebuilt when the live snapshot is replaced: every served
        deployment's predict path with the request body its parser validates."""
        snapshot = source.snapshot
        if app.openapi_schema is not None and documented[0] is snapshot:
            return app.openapi_schema
        app.openapi_schema = None
        schema = FastAPI.openapi(app)
        secured = stores.settings.serve_token is not None
        paths = schema.setdefault("paths", {})
        for name, target in sorted(snapshot.deployments.items()):
            slug = "".join(c if c.isalnum() else "_" for c in name)
            paths[f"/v1/deployments/{quote(name, safe='')}/predict"] = {
                "post": predict_operation(
                    target, f"predict_{slug}", f"Predict with {name}", secured
                )
            }
        default = default_name()
        if default is not None and default in snapshot.deployments:
            paths["/invocations"] = {
                "post": predict_operation(
                    snapshot.deployments[default],
                    "invocations",
                    f"MLflow's scoring route (deployment {default})",
                    secured,
                )
            }
        schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
            "type": "http",
            "scheme": "bearer",
        }
        app.openapi_schema = schema
        documented[0] = snapshot
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
