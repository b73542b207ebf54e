"""Request bodies → a DataFrame of the model's training features, or a 422 naming the field.

Three body shapes are accepted, so that dcai clients and MLflow clients work unchanged:

* ``{"instances": [{"x1": 0.3, "colour": "red"}, ...], "key": "user-17"}`` (dcai; ``key`` is
  the optional routing key that keeps a user on one model during a canary);
* ``{"dataframe_split": {"columns": [...], "data": [[...], ...]}}`` (MLflow);
* ``{"dataframe_records": [{...}, ...]}`` (MLflow).

Each instance is validated against a pydantic model generated from the primary's training
features (names and types recorded at registration): a missing, extra or wrongly typed
feature is refused with the position and name of the field, as FastAPI reports its own
validation errors. ``null`` is allowed for any feature (it becomes a missing value, which the
training pipelines impute).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, create_model

__all__ = ["InputError", "RequestParser", "instance_model"]


class InputError(Exception):
    """A request body that does not fit: ``detail`` is FastAPI's 422 list."""

    def __init__(self, detail: list[dict[str, Any]]) -> None:
        super().__init__(detail)
        self.detail = detail


def _python_type(dtype: str, role: str) -> Any:
    text = str(dtype).lower()
    if role == "text" or text in ("object", "str", "string") or text.startswith("string"):
        return str | None
    if text.startswith("bool"):
        return bool | None
    if text.startswith(("int", "uint")):
        return int | None
    if text.startswith("float"):
        return float | None
    if text.startswith(("datetime", "date")):
        return str | None
    return str | float | int | bool | None


def instance_model(name: str, inputs: list[dict[str, Any]]) -> type[BaseModel]:
    """A pydantic model of one instance: every training feature, required, nothing else."""
    fields: dict[str, Any] = {
        str(item["name"]): (_python_type(item.get("dtype", "object"), item.get("role", "")), ...)
        for item in inputs
    }
    model: type[BaseModel] = create_model(
        f"{name.title().replace('-', '').replace('_', '').replace('.', '')}Instance",
        __config__=ConfigDict(extra="forbid"),
        **fields,
    )
    return model


def _error(loc: list[Any], msg: str, kind: str = "value_error") -> InputError:
    return InputError([{"loc": ["body", *loc], "msg": msg, "type": kind}])


class RequestParser:
    """Parses and validates request bodies for one model signature."""

    def __init__(self, deployment: str, inputs: list[dict[str, Any]], *, max_rows: int) -> None:
        self.features = [str(item["name"]) for item in inputs]
        self.model = instance_model(deployment, inputs)
        self._rows = TypeAdapter(list[self.model])  # type: ignore[name-defined]
        self.max_rows = max_rows

    def _records(self, body: Any) -> tuple[list[Any], str, str | None]:
        if not isinstance(body, dict):
            raise _error([], "the body must be a JSON object", "dict_type")
        key = body.get("key")
        if key is not None and not isinstance(key, str | int):
            raise _error(["key"], "the routing key must be a string", "string_type")
        shapes = [k for k in ("instances", "dataframe_split", "dataframe_records") if k in body]
        if len(shapes) != 1:
            raise _error(
                [],
                "give exactly one of instances, dataframe_split, dataframe_records",
                "missing",
            )
        extra = sorted(set(body) - {shapes[0], "key", "params"})
        if extra:
            raise _error([extra[0]], f"unexpected field {extra[0]!r}", "extra_forbidden")
        shape = shapes[0]
        if shape == "dataframe_split":
            split = body["dataframe_split"]
            if not isinstance(split, dict) or not isinstance(split.get("columns"), list):
                raise _error([shape, "columns"], "dataframe_split needs columns and data")
            data = split.get("data")
            if not isinstance(data, list):
                raise _error([shape, "data"], "dataframe_split needs a list of rows in data")
            columns = split["columns"]
            records: list[Any] = []
            for i, row in enumerate(data):
                if not isinstance(row, list) or len(row) != len(columns):
                    raise _error(
                        [shape, "data", i], f"row {i} must be a list of {len(columns)} values"
                    )
                records.append(dict(zip(columns, row, strict=True)))
            return records, shape, None if key is None else str(key)
        records_in = body[shape]
        if not isinstance(records_in, list):
            raise _error([shape], f"{shape} must be a list of objects", "list_type")
        return records_in, shape, None if key is None else str(key)

    def parse(self, body: Any) -> tuple[pd.DataFrame, str | None]:
        """The instances as a DataFrame (training column order) and the routing key."""
        records, shape, key = self._records(body)
        if not records:
            raise _error([shape], "at least one instance is needed", "too_short")
        if len(records) > self.max_rows:
            raise _error([shape], f"at most {self.max_rows:,} instances per request", "too_long")
        try:
            rows = self._rows.validate_python(records)
        except ValidationError as exc:
            detail = [
                {"loc": ["body", shape, *e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_context=False)
            ]
            raise InputError(detail) from None
        frame = pd.DataFrame([row.model_dump() for row in rows], columns=self.features)
        return frame, key
