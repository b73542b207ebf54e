"""The OpenAPI description of each deployment's predict route: the request body its parser
validates and the answer the server gives (one definition each, so the schema shown at
``/docs`` and the checks made cannot drift apart)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dcai.serve._admin import ERROR_RESPONSES
from dcai.serve._inputs import response_schema

if TYPE_CHECKING:
    from dcai.serve._state import Live

__all__ = ["predict_operation"]

_VALIDATION_ERROR = {
    "title": "ValidationError",
    "type": "object",
    "properties": {
        "detail": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {
                        "type": "array",
                        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    },
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
                "required": ["loc", "msg", "type"],
            },
        }
    },
    "required": ["detail"],
}


def _json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def predict_operation(
    target: Live, operation_id: str, summary: str, secured: bool
) -> dict[str, Any]:
    """The OpenAPI operation of a predict route for ``target``: its body schema is the one its
    request parser validates with (one definition: ``RequestParser.body_schema``)."""
    name = target.deployment.name
    responses: dict[str, Any] = {
        "200": _json_response("the answer", response_schema()),
        "404": ERROR_RESPONSES[404],
        "413": ERROR_RESPONSES[413],
        "422": _json_response("the body does not fit: the field is named", _VALIDATION_ERROR),
    }
    operation: dict[str, Any] = {
        "tags": ["predict"],
        "summary": summary,
        "description": (
            f"Deployment `{name}`, revision {target.deployment.revision}, primary model "
            f"`{target.primary.ref}`. Features: "
            + (", ".join(f"`{f}`" for f in target.parser.features) or "none")
            + "."
        ),
        "operationId": operation_id,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": target.parser.body_schema()}},
        },
        "responses": responses,
    }
    if secured:
        responses["401"] = ERROR_RESPONSES[401]
        operation["security"] = [{"bearer": []}]
    return operation
