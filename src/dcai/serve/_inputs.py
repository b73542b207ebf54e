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

The same parser also *describes* what it validates: :meth:`RequestParser.body_schema` is the
JSON Schema of a request body (the instance model's own schema, inside the three shapes), and
:func:`response_schema` the schema of an answer. The server's OpenAPI document (``/docs``) is
built from them, so the fields shown and the fields checked cannot drift apart. Feature values
are typed as JSON Schema types them: an integer feature takes JSON integers (``3.0`` too, which
JSON Schema counts as an integer) but not ``"3"`` or ``true``; numbers must be finite.
"""

from __future__ import annotations

import math
import sys
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import (
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    create_model,
)
from typing_extensions import TypedDict

from dcai.deploy._privacy import Redactor
from dcai.deploy.prediction_log import inputs_json, to_json

__all__ = [
    "BODY_SHAPES",
    "InputError",
    "ParsedRequest",
    "PredictResponse",
    "RequestParser",
    "instance_model",
    "response_schema",
]

#: The accepted body shapes (exactly one per request), besides ``key`` and MLflow's ``params``.
BODY_SHAPES = ("instances", "dataframe_split", "dataframe_records")

# The largest integer a feature may take: beyond it a float64 (what the models compute in) no
# longer holds it, and a model would fail on it instead of the request being refused.
_MAX_INT = 2**53
_FLOAT_MAX = sys.float_info.max


def _integral(value: Any) -> Any:
    """JSON Schema counts ``3.0`` as an integer: accept it as ``3`` (pandas writes int columns
    with missing values as floats)."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def _integral_floats(records: list[Any], error: ValidationError) -> list[Any] | None:
    """``records`` with the integral floats that failed an integer field made ints, or None
    when no error is of that kind (then the first errors stand)."""
    fixes: dict[int, dict[str, Any]] = {}
    for e in error.errors(include_url=False, include_context=False):
        loc, value = e["loc"], e.get("input")
        if (
            e["type"] == "int_type"
            and len(loc) >= 2
            and isinstance(loc[0], int)
            and isinstance(value, float)
            and _integral(value) is not value
        ):
            fixes.setdefault(loc[0], {})[str(loc[1])] = _integral(value)
    if not fixes:
        return None
    return [
        {**record, **fixes[i]} if i in fixes and isinstance(record, dict) else record
        for i, record in enumerate(records)
    ]


# Strict in the fast path (checked in Rust, no Python call per value); an integral float such
# as 3.0 is accepted by a second pass over just the instances that need it (``parse``).
_Int = Annotated[int, Strict(), Field(ge=-_MAX_INT, le=_MAX_INT)]
_Float = Annotated[float, Strict(), AllowInfNan(False), Field(ge=-_FLOAT_MAX, le=_FLOAT_MAX)]
_Bool = Annotated[bool, Strict()]
_Str = Annotated[str, Strict()]


class InputError(Exception):
    """A request body that does not fit: ``detail`` is FastAPI's 422 list."""

    def __init__(self, detail: list[dict[str, Any]]) -> None:
        super().__init__(detail)
        self.detail = detail


def _python_type(dtype: str, role: str) -> Any:
    text = str(dtype).lower()
    if role == "text" or text in ("object", "str", "string") or text.startswith("string"):
        return _Str | None
    if text.startswith("bool"):
        return _Bool | None
    if text.startswith(("int", "uint")):
        return _Int | None
    if text.startswith("float"):
        return _Float | None
    if text.startswith(("datetime", "date")):
        return _Str | None
    return _Str | _Float | _Bool | None


def _instance_types(inputs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each training feature's validated type (the one definition of what an instance is)."""
    return {
        str(item["name"]): _python_type(item.get("dtype", "object"), item.get("role", ""))
        for item in inputs
    }


def _model_name(deployment: str) -> str:
    return f"{deployment.title().replace('-', '').replace('_', '').replace('.', '')}Instance"


def instance_model(name: str, inputs: list[dict[str, Any]]) -> type[BaseModel]:
    """A pydantic model of one instance: every training feature, required, nothing else."""
    fields: dict[str, Any] = {c: (kind, ...) for c, kind in _instance_types(inputs).items()}
    model: type[BaseModel] = create_model(
        _model_name(name), __config__=ConfigDict(extra="forbid"), **fields
    )
    return model


def _instance_dict(name: str, inputs: list[dict[str, Any]]) -> Any:
    """The same instance as a ``TypedDict``: validation returns plain dicts (no model objects
    to build and dump again: a third of the parsing time of a 100-row request)."""
    typed = TypedDict(_model_name(name), _instance_types(inputs))  # type: ignore[misc]
    typed.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
    return typed


def _numeric_block(types: list[Any]) -> type | None:
    """``float`` or ``int`` when every feature has that one type, else None: such instances
    become one NumPy block instead of a column per feature."""
    if types and all(t == _Float | None for t in types):
        return float
    if types and all(t == _Int | None for t in types):
        return int
    return None


class Prediction(BaseModel):
    """One answered instance (``label`` and the rest are ``null`` in mode ``shadow``)."""

    label: str | int | float | bool | None
    confidence: float | None
    probabilities: dict[str, float] | None
    needs_review: bool


class PredictResponse(BaseModel):
    """The answer to a predict request."""

    request_id: str
    deployment: str
    revision: int
    model_version: str
    route: str
    predictions: list[Prediction]


def response_schema() -> dict[str, Any]:
    """The JSON Schema of a predict answer (self-contained: its definitions inlined)."""
    return _inline(PredictResponse.model_json_schema())


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$defs`` references replaced by the definitions themselves."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    result: dict[str, Any] = walk(schema)
    return result


def _error(loc: list[Any], msg: str, kind: str = "value_error") -> InputError:
    return InputError([{"loc": ["body", *loc], "msg": msg, "type": kind}])


def _template(features: tuple[str, ...]) -> str:
    """``'{"a":%s,"b":%s}'``: one instance's JSON from its values by one ``%`` (plain ints and
    finite floats print as JSON numbers)."""
    fields = ",".join(to_json(f).replace("%", "%%") + ":%s" for f in features)
    return "{" + fields + "}"


class ParsedRequest:
    """A validated request: the frame a model reads, the routing key, and the instances —
    as dicts (the general path) or as ``values``, plain numbers in feature order (the numeric
    block)."""

    def __init__(
        self,
        frame: pd.DataFrame,
        key: str | None,
        features: list[str],
        *,
        records: list[dict[str, Any]] | None = None,
        values: list[list[Any]] | None = None,
        template: str | None = None,
    ) -> None:
        self.frame, self.key, self.features = frame, key, features
        self._records, self.values = records, values
        #: With ``values``: one instance's logged JSON as a ``%`` template (the parser's).
        self._template = template

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def records(self) -> list[dict[str, Any]]:
        """The instances as dicts (built once, when asked for)."""
        if self._records is None:
            assert self.values is not None  # one of the two is always set
            self._records = [dict(zip(self.features, row, strict=True)) for row in self.values]
        return self._records

    def logged_inputs(self, redact: Redactor) -> list[str]:
        """Each instance's inputs as the log keeps them (``redact`` applied): the JSON that
        :func:`dcai.deploy.prediction_log.inputs_json` writes, by one string template per row
        for a numeric block when nothing is redacted."""
        if self.values is not None and self._template is not None and not redact.columns:
            return [self._template % tuple(row) for row in self.values]
        return [inputs_json(redact(record)) for record in self.records]


class RequestParser:
    """Parses and validates request bodies for one model signature."""

    def __init__(self, deployment: str, inputs: list[dict[str, Any]], *, max_rows: int) -> None:
        self.features = [str(item["name"]) for item in inputs]
        # Built once: a frame's column Index from a list of names costs more than its values.
        self._columns = pd.Index(self.features)
        self.model = instance_model(deployment, inputs)
        instance = _instance_dict(deployment, inputs)
        self._rows: TypeAdapter[list[dict[str, Any]]] = TypeAdapter(list[instance])  # type: ignore[valid-type]
        self._block = _numeric_block(list(_instance_types(inputs).values()))
        # The numeric block's rows as one list of lists: strict, non-null numbers only.
        number = _Float if self._block is float else _Int
        self._values: TypeAdapter[list[list[Any]]] = TypeAdapter(list[list[number]])  # type: ignore[valid-type]
        self._template = _template(tuple(self.features)) if self._block is not None else None
        self.max_rows = max_rows

    def instance_schema(self) -> dict[str, Any]:
        """The JSON Schema of one instance: the validating pydantic model's own schema."""
        return _inline(self.model.model_json_schema())

    def body_schema(self) -> dict[str, Any]:
        """The JSON Schema of a request body, as :meth:`parse` accepts it."""
        instance = self.instance_schema()
        rows = {"type": "array", "items": instance, "minItems": 1, "maxItems": self.max_rows}
        value = {"anyOf": [p for p in instance["properties"].values()]} if self.features else {}
        common = {
            "key": {
                "anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}],
                "description": "routing key: the same key always gets the same model",
            },
            "params": {"type": "object", "description": "MLflow's params (ignored)"},
        }

        def shape(name: str, schema: dict[str, Any], title: str) -> dict[str, Any]:
            return {
                "title": title,
                "type": "object",
                "properties": {name: schema, **common},
                "required": [name],
                "additionalProperties": False,
            }

        split = {
            "type": "object",
            "properties": {
                "columns": {
                    "type": "array",
                    "items": {"type": "string", "enum": self.features},
                    "minItems": len(self.features),
                    "maxItems": len(self.features),
                    "uniqueItems": True,
                    "description": f"the features, in any order: {', '.join(self.features)}",
                },
                "data": {
                    "type": "array",
                    "items": {
                        "type": "array",
                        "items": value,
                        "minItems": len(self.features),
                        "maxItems": len(self.features),
                    },
                    "minItems": 1,
                    "maxItems": self.max_rows,
                    "description": "rows of values, one per column",
                },
                "index": {"type": "array", "description": "ignored"},
            },
            "required": ["columns", "data"],
            "additionalProperties": False,
        }
        return {
            "oneOf": [
                shape("instances", rows, "dcai instances"),
                shape("dataframe_split", split, "MLflow dataframe_split"),
                shape("dataframe_records", rows, "MLflow dataframe_records"),
            ]
        }

    def _records(self, body: Any) -> tuple[list[Any], list[str] | None, str, str | None]:
        """The instances as given — dicts, or for ``dataframe_split`` its rows (lists, their
        length checked) with its columns —, the body shape and the routing key."""
        if not isinstance(body, dict):
            raise _error([], "the body must be a JSON object", "dict_type")
        key = body.get("key")
        if key is not None and (not isinstance(key, str | int) or isinstance(key, bool)):
            raise _error(["key"], "the routing key must be a string", "string_type")
        params = body.get("params")
        if params is not None and not isinstance(params, dict):
            raise _error(["params"], "params must be an object", "dict_type")
        shapes = [k for k in BODY_SHAPES if k in body]
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
            unknown = sorted(set(split) - {"columns", "data", "index"})
            if unknown:
                raise _error(
                    [shape, unknown[0]], f"unexpected field {unknown[0]!r}", "extra_forbidden"
                )
            for i, column in enumerate(split["columns"]):
                if not isinstance(column, str):
                    raise _error(
                        [shape, "columns", i], "a column name must be a string", "string_type"
                    )
            if len(set(split["columns"])) != len(split["columns"]):
                raise _error([shape, "columns"], "the column names must be distinct")
            data = split.get("data")
            if not isinstance(data, list):
                raise _error([shape, "data"], "dataframe_split needs a list of rows in data")
            columns: list[str] = split["columns"]
            for i, row in enumerate(data):
                if not isinstance(row, list) or len(row) != len(columns):
                    raise _error(
                        [shape, "data", i], f"row {i} must be a list of {len(columns)} values"
                    )
            return data, columns, shape, None if key is None else str(key)
        records_in = body[shape]
        if not isinstance(records_in, list):
            raise _error([shape], f"{shape} must be a list of objects", "list_type")
        return records_in, None, shape, None if key is None else str(key)

    def parse(self, body: Any) -> ParsedRequest:
        """The request's instances, validated: a DataFrame in training column order, the
        routing key, and the instances as the log keeps them (:class:`ParsedRequest`).

        When every feature has one numeric type and every value is a plain number of it, the
        rows are checked as one list of lists and become one NumPy block (no dict per
        instance); anything else — a null, ``3.0`` for an integer, a missing or extra field —
        takes the general path, which names the field at fault.
        """
        given, columns, shape, key = self._records(body)
        if not given:
            raise _error([shape], "at least one instance is needed", "too_short")
        if len(given) > self.max_rows:
            raise _error([shape], f"at most {self.max_rows:,} instances per request", "too_long")
        if self._block is not None:
            values = self._ordered_values(given, columns)
            if values is not None:
                try:
                    checked = self._values.validate_python(values)
                except ValidationError:
                    pass  # the general path says what is wrong
                else:
                    dtype = np.float64 if self._block is float else np.int64
                    array = np.array(checked, dtype=dtype)
                    frame = pd.DataFrame(array, columns=self._columns, copy=False)
                    return ParsedRequest(
                        frame, key, self.features, values=checked, template=self._template
                    )
        records = (
            given if columns is None else [dict(zip(columns, row, strict=True)) for row in given]
        )
        try:
            try:
                rows = self._rows.validate_python(records)
            except ValidationError as first:
                fixed = _integral_floats(records, first)
                if fixed is None:
                    raise
                rows = self._rows.validate_python(fixed)
        except ValidationError as exc:
            detail = [
                {"loc": ["body", shape, *e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_context=False)
            ]
            raise InputError(detail) from None
        return ParsedRequest(self._frame(rows), key, self.features, records=rows)

    def _ordered_values(self, given: list[Any], columns: list[str] | None) -> list[Any] | None:
        """The instances as lists in training feature order, or None when their fields are not
        exactly the features (the general path then names what is missing or extra)."""
        features = self.features
        if columns is not None:
            if columns == features:
                return given
            if len(columns) != len(features) or set(columns) != set(features):
                return None
            order = [columns.index(f) for f in features]
            return [[row[i] for i in order] for row in given]
        width = len(features)
        try:
            return [
                [record[f] for f in features] if len(record) == width else None for record in given
            ]
        except (KeyError, TypeError):  # a missing field, or an instance that is not an object
            return None

    def _frame(self, rows: list[dict[str, Any]]) -> pd.DataFrame:
        """The validated instances as a DataFrame in training column order, with the dtypes
        pandas infers from them (int64 for integers without nulls, float64 otherwise)."""
        if self._block is not None:
            values = [[row[f] for f in self.features] for row in rows]
            try:
                # float: null becomes NaN; int: a null raises and takes the general path.
                array = np.array(values, dtype=np.float64 if self._block is float else np.int64)
            except TypeError:
                pass
            else:
                return pd.DataFrame(array, columns=self._columns, copy=False)
        return pd.DataFrame(rows, columns=self.features)
