"""Changing deployments over HTTP, and the bearer tokens that guard the server.

The admin routes are thin over :mod:`dcai.deploy.deployments` — the same checks and the same
revisions as ``dcai deploy`` — and need the bearer token ``[serve] admin_token`` (or
``DCAI_ADMIN_TOKEN``): with none configured they answer 403, so a server never accepts changes
by accident. ``[serve] token`` (or ``DCAI_SERVE_TOKEN``) puts predict and feedback behind a
bearer token as well (the admin token is accepted there too). Tokens are compared in constant
time.

=====================================================  ===========================================
``PUT  /v1/deployments/{name}``                        create: ``{"model", "mode", "review_below"}``
``POST /v1/deployments/{name}/canary``                 ``{"model", "percent"}`` (model optional)
``POST /v1/deployments/{name}/shadow``                 ``{"model"}`` (``null`` stops it)
``POST /v1/deployments/{name}/promote``, ``/rollback``  ``{}``
``POST /v1/deployments/{name}/mode``                   ``{"mode", "review_below"}``
=====================================================  ===========================================

Every body may carry ``reason`` and ``author`` (default ``api``). A change made here is served
by this server at once, and by every other server within its poll interval.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from dcai.errors import DcaiError, UnknownRefError
from dcai.store import Stores

__all__ = ["ERROR_RESPONSES", "admin_router", "require_client"]

_DETAIL: dict[str, Any] = {
    "type": "object",
    "properties": {"detail": {}},
    "required": ["detail"],
}


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _DETAIL}}}


#: The error answers of the server's routes, for their OpenAPI documentation.
ERROR_RESPONSES: dict[int, dict[str, Any]] = {
    400: _error_response("the body is not JSON (FastAPI could not parse it)"),
    401: _error_response("a valid bearer token is needed"),
    403: _error_response("changing deployments over HTTP is off (no admin token set)"),
    404: _error_response("no such deployment, or model"),
    413: _error_response("the request body is too large"),
    422: _error_response("the body or the change does not fit"),
}


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _matches(given: str | None, *tokens: str | None) -> bool:
    return given is not None and any(
        t is not None and hmac.compare_digest(given.encode(), t.encode()) for t in tokens
    )


def _unauthorised() -> HTTPException:
    return HTTPException(
        401, "a valid bearer token is needed", headers={"WWW-Authenticate": "Bearer"}
    )


def require_client(stores: Stores, request: Request) -> None:
    """Refuse a predict or feedback request without the serve token, when one is set."""
    token = stores.settings.serve_token
    if token is not None and not _matches(_bearer(request), token, stores.settings.admin_token):
        raise _unauthorised()


def _require_admin(stores: Stores, request: Request) -> None:
    token = stores.settings.admin_token
    if token is None:
        raise HTTPException(
            403,
            "changing deployments over HTTP is off: set [serve] admin_token in dcai.toml or "
            "DCAI_ADMIN_TOKEN, or use dcai deploy",
        )
    if not _matches(_bearer(request), token):
        raise _unauthorised()


class _Change(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = ""
    author: str = "api"


class CreateBody(_Change):
    model: str
    mode: str = "full"
    review_below: float | None = None


class CanaryBody(_Change):
    percent: float = Field(gt=0, le=100)
    model: str | None = None


class ShadowBody(_Change):
    model: str | None


class ModeBody(_Change):
    mode: str
    review_below: float | None = None


def admin_router(stores: Stores, refresh: Callable[[], Any]) -> APIRouter:
    """The admin routes over ``stores``; ``refresh`` makes this server serve a change at once."""
    from dcai.deploy import deployments as d

    router = APIRouter(
        tags=["admin"],
        responses={c: ERROR_RESPONSES[c] for c in (400, 401, 403, 404, 413, 422)},
    )

    def apply(request: Request, change: Callable[[], d.Deployment]) -> dict[str, Any]:
        _require_admin(stores, request)
        try:
            deployment = change()
        except UnknownRefError as exc:
            raise HTTPException(404, exc.message) from None
        except DcaiError as exc:
            detail = exc.message + (f" ({exc.hint})" if exc.hint else "")
            raise HTTPException(422, detail) from None
        refresh()
        return deployment.to_dict(history=False)

    @router.put("/v1/deployments/{name}")
    def create(name: str, body: CreateBody, request: Request) -> dict[str, Any]:
        """Create a deployment (admin token)."""
        return apply(
            request,
            lambda: d.create_deployment(
                stores,
                name,
                model=body.model,
                mode=body.mode,
                review_below=body.review_below,
                reason=body.reason,
                author=body.author,
            ),
        )

    @router.post("/v1/deployments/{name}/canary")
    def canary(name: str, body: CanaryBody, request: Request) -> dict[str, Any]:
        """Start or ramp a canary (admin token)."""
        return apply(
            request,
            lambda: d.set_canary(
                stores,
                name,
                model=body.model,
                percent=body.percent,
                reason=body.reason,
                author=body.author,
            ),
        )

    @router.post("/v1/deployments/{name}/shadow")
    def shadow(name: str, body: ShadowBody, request: Request) -> dict[str, Any]:
        """Start (or, with ``model: null``, stop) a shadow (admin token)."""
        return apply(
            request,
            lambda: d.set_shadow(
                stores, name, model=body.model, reason=body.reason, author=body.author
            ),
        )

    @router.post("/v1/deployments/{name}/promote")
    def promote(name: str, body: _Change, request: Request) -> dict[str, Any]:
        """The canary (else the shadow) becomes the primary (admin token)."""
        return apply(
            request, lambda: d.promote(stores, name, reason=body.reason, author=body.author)
        )

    @router.post("/v1/deployments/{name}/rollback")
    def rollback(name: str, body: _Change, request: Request) -> dict[str, Any]:
        """Back to the routing before the live one (admin token)."""
        return apply(
            request, lambda: d.rollback(stores, name, reason=body.reason, author=body.author)
        )

    @router.post("/v1/deployments/{name}/mode")
    def mode(name: str, body: ModeBody, request: Request) -> dict[str, Any]:
        """Set the degree of automation (admin token)."""
        return apply(
            request,
            lambda: d.set_mode(
                stores,
                name,
                mode=body.mode,
                review_below=body.review_below,
                reason=body.reason,
                author=body.author,
            ),
        )

    return router
