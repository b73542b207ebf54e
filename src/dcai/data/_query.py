"""A query over a frame's columns, such as ``snr_db < 5 and device == 'car'``: parsed, never run.

Users write row filters as text (``dcai data tag REF NAME --query TEXT``). Handing that text to
``DataFrame.eval`` or ``DataFrame.query`` would run it as Python, and ``@frame.to_csv(...)`` or
``x.__class__.__init__.__globals__`` reach files, the shell and everything else. Here the text is
read with :func:`ast.parse` into a small tree of this module's own node types, refusing anything
outside the grammar of :func:`compile_query`, and that tree is evaluated with pandas operations on
the columns. Nothing in the text is ever executed, so a query can only compute a mask.

>>> import pandas as pd
>>> frame = pd.DataFrame({"snr_db": [3.0, 25.0, None], "device": ["car", "car", "phone"]})
>>> compile_query("snr_db < 5 and device == 'car'").mask(frame).tolist()
[True, False, False]
>>> compile_query("x.__class__")
Traceback (most recent call last):
...
dcai.errors.InvalidInputError: unsupported in the query: attribute '__class__'. ...
"""

from __future__ import annotations

import ast
import math
import operator
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

import numpy as np
import pandas as pd

from dcai.errors import InvalidInputError

__all__ = ["QUERY_HINT", "Query", "compile_query", "query_mask"]

QUERY_HINT: Final = (
    "A query compares columns with values, e.g. snr_db < 5 and colour in ['red', 'blue']: "
    "use == != < <= > >=, and/or/not (or & | ~), + - * /, col is missing, "
    "col.str.contains('x'), col.between(1, 5); quote text values and put `back ticks` "
    "around column names with spaces."
)
_MAX_LENGTH: Final = 10_000
_MAX_COLUMNS_SHOWN: Final = 12
# Text methods run on Arrow strings: its regular expressions (RE2) take linear time, so a
# pattern such as '(a+)+$' cannot stall the process (no catastrophic backtracking).
_ARROW_TEXT: Final = pd.StringDtype("pyarrow")

# Values a literal may hold (lists only on the right of ``in``/``==``/``!=``).
Scalar: TypeAlias = "int | float | str | bool | None"


# The validated tree ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Node:
    """A part of a validated query; ``text`` is how it was written, for messages."""

    text: str


@dataclass(frozen=True)
class _Column(_Node):
    name: str


@dataclass(frozen=True)
class _Literal(_Node):
    value: Scalar


@dataclass(frozen=True)
class _List(_Node):
    values: tuple[Scalar, ...]


@dataclass(frozen=True)
class _Compare(_Node):
    ops: tuple[str, ...]
    operands: tuple[_Node, ...]


@dataclass(frozen=True)
class _Logic(_Node):
    op: str  # "and" | "or"
    operands: tuple[_Node, ...]


@dataclass(frozen=True)
class _Not(_Node):
    operand: _Node


@dataclass(frozen=True)
class _Arith(_Node):
    op: str
    left: _Node
    right: _Node


@dataclass(frozen=True)
class _Negate(_Node):
    operand: _Node
    minus: bool


@dataclass(frozen=True)
class _Missing(_Node):
    operand: _Node
    negate: bool  # ``is not missing`` / ``notna()``


@dataclass(frozen=True)
class _Method(_Node):
    receiver: _Node
    name: str  # e.g. "str.contains", "between"
    args: tuple[Scalar, ...]
    kwargs: tuple[tuple[str, Scalar], ...] = field(default=())


# Parsing ---------------------------------------------------------------------------------

_TOKENS = re.compile(r"`[^`]*`|'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_PLACEHOLDER = "_dcai_column_"
_COMPARE_OPS: Final[dict[type[ast.cmpop], str]] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}
_ARITH_OPS: Final[dict[type[ast.operator], str]] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
}
# Allowed methods: name -> (kinds of the positional values, {keyword: kind}).
_METHODS: Final[dict[str, tuple[tuple[str, ...], dict[str, str]]]] = {
    "str.contains": (("text",), {"case": "bool", "regex": "bool"}),
    "str.startswith": (("text",), {}),
    "str.endswith": (("text",), {}),
    "str.len": ((), {}),
    "str.lower": ((), {}),
    "str.upper": ((), {}),
    "isna": ((), {}),
    "isnull": ((), {}),
    "notna": ((), {}),
    "notnull": ((), {}),
    "between": (("value", "value"), {"inclusive": "text"}),
    "abs": ((), {}),
}
_UNSUPPORTED: Final[dict[type[ast.AST], str]] = {
    ast.Lambda: "lambda",
    ast.ListComp: "list comprehension",
    ast.SetComp: "set comprehension",
    ast.DictComp: "dict comprehension",
    ast.GeneratorExp: "generator expression",
    ast.NamedExpr: "':=' (assignment)",
    ast.JoinedStr: "f-string",
    ast.FormattedValue: "f-string",
    ast.IfExp: "conditional expression (if/else)",
    ast.Dict: "dict",
    ast.Starred: "'*' unpacking",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "slice",
}


def _unsupported(part: str, example: str | None = None) -> InvalidInputError:
    return InvalidInputError(f"unsupported in the query: {part}", hint=example or QUERY_HINT)


def _prepare(text: str) -> tuple[str, dict[str, str]]:
    """Swap back-ticked names for identifiers and ≤ ≥ ≠ & | for Python, outside quotes.

    ``&`` and ``|`` become ``and`` and ``or`` (with their precedence), as in
    :meth:`pandas.DataFrame.query`; ``@`` (pandas' local variables) is refused here, before
    parsing, since Python would read it as matrix multiplication or a decorator.
    """
    names: dict[str, str] = {}
    out: list[str] = []
    last = 0

    def plain(part: str) -> str:
        if "@" in part:
            raise InvalidInputError(
                "'@' (local variables) is not allowed in a query",
                hint="Write the value itself, e.g. snr_db < 5 or device == 'car'.",
            )
        for old, new in (("≤", "<="), ("≥", ">="), ("≠", "!="), ("&", " and "), ("|", " or ")):
            part = part.replace(old, new)
        return part

    for match in _TOKENS.finditer(text):
        out.append(plain(text[last : match.start()]))
        token = match.group()
        if token.startswith("`"):
            key = f"{_PLACEHOLDER}{len(names)}"
            names[key] = token[1:-1]
            out.append(key)
        else:
            out.append(token)
        last = match.end()
    out.append(plain(text[last:]))
    return "".join(out), names


class _Reader:
    """Turns a parsed expression into the validated tree, refusing everything else."""

    def __init__(self, source: str, names: dict[str, str]) -> None:
        self.source = source
        self.names = names

    def segment(self, node: ast.AST, limit: int = 60) -> str:
        text = ast.get_source_segment(self.source, node) or type(node).__name__
        for key, name in self.names.items():
            text = text.replace(key, f"`{name}`")
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def read(self, node: ast.expr) -> _Node:
        text = self.segment(node, limit=200)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.Constant):
            return _Literal(text, self.constant(node))
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return _List(text, self.literal_list(node))
        if isinstance(node, ast.BoolOp):
            op = "and" if isinstance(node.op, ast.And) else "or"
            return _Logic(text, op, tuple(self.read(v) for v in node.values))
        if isinstance(node, ast.UnaryOp):
            return self.unary(node, text)
        if isinstance(node, ast.BinOp):
            symbol = _ARITH_OPS.get(type(node.op))
            if symbol is None:
                raise _unsupported(f"operator in {self.segment(node)!r}")
            return _Arith(text, symbol, self.read(node.left), self.read(node.right))
        if isinstance(node, ast.Compare):
            return self.compare(node, text)
        if isinstance(node, ast.Call):
            return self.call(node, text)
        if isinstance(node, ast.Attribute):
            inner = node.value
            if isinstance(inner, ast.Attribute) and inner.attr == "str":
                inner = inner.value  # col.str.<attr>: name <attr>, not the accessor
            self.read(inner)  # report an earlier fault first (reading order)
            raise _unsupported(f"attribute {node.attr!r}")
        if isinstance(node, ast.Subscript):
            raise _unsupported(
                f"subscript {self.segment(node)!r}", "Compare the column itself, e.g. x1 > 0."
            )
        what = _UNSUPPORTED.get(type(node), type(node).__name__)
        raise _unsupported(f"{what} {self.segment(node)!r}")

    def name(self, node: ast.Name) -> _Column:
        if node.id in self.names:
            return _Column(f"`{self.names[node.id]}`", self.names[node.id])
        if node.id.startswith("__"):
            raise _unsupported(f"name {node.id!r}")
        if node.id == "missing":
            raise _unsupported("'missing' outside 'is missing'", "Write e.g. snr_db is missing.")
        return _Column(node.id, node.id)

    def constant(self, node: ast.Constant) -> Scalar:
        value = node.value
        if value is None or isinstance(value, bool | int | str):
            return value
        if isinstance(value, float):
            return value
        raise _unsupported(f"value {self.segment(node)!r}")

    def literal(self, node: ast.expr) -> Scalar:
        """A literal argument: a constant, or a negated number."""
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            value = self.literal(node.operand)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return -value if isinstance(node.op, ast.USub) else value
        raise _unsupported(
            f"{self.segment(node)!r} where a value is expected",
            "Method arguments and lists hold values only, e.g. colour in ['red', 'blue'].",
        )

    def literal_list(self, node: ast.List | ast.Tuple | ast.Set) -> tuple[Scalar, ...]:
        return tuple(self.literal(item) for item in node.elts)

    def unary(self, node: ast.UnaryOp, text: str) -> _Node:
        operand = self.read(node.operand)
        if isinstance(node.op, ast.Not | ast.Invert):
            return _Not(text, operand)
        return _Negate(text, operand, minus=isinstance(node.op, ast.USub))

    def compare(self, node: ast.Compare, text: str) -> _Node:
        if len(node.ops) == 1 and isinstance(node.ops[0], ast.Is | ast.IsNot):
            right = node.comparators[0]
            if isinstance(right, ast.Name) and right.id == "missing":
                return _Missing(text, self.read(node.left), isinstance(node.ops[0], ast.IsNot))
        ops: list[str] = []
        operands = [self.read(node.left)]  # read in order, so the first fault is reported
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            symbol = _COMPARE_OPS.get(type(op))
            if symbol is None:
                raise _unsupported(
                    f"comparison {self.segment(node)!r}",
                    "Use == != < <= > >= or in; for missing values write: col is missing.",
                )
            if symbol in ("in", "not in") and not isinstance(
                comparator, ast.List | ast.Tuple | ast.Set
            ):
                raise _unsupported(
                    f"{symbol!r} without a list of values in {self.segment(node)!r}",
                    "Write e.g. colour in ['red', 'blue'].",
                )
            ops.append(symbol)
            operands.append(self.read(comparator))
        return _Compare(text, tuple(ops), tuple(operands))

    def call(self, node: ast.Call, text: str) -> _Node:
        func = node.func
        if not isinstance(func, ast.Attribute):
            if isinstance(func, ast.Name):
                raise _unsupported(
                    f"function call {func.id + '(...)'!r}",
                    "Only a few column methods may be called, e.g. name.str.contains('x').",
                )
            self.read(func)  # reports the lambda, subscript... that is being called
            raise _unsupported(f"call {self.segment(node)!r}")
        receiver_node: ast.expr = func.value
        method = func.attr
        if isinstance(receiver_node, ast.Attribute) and receiver_node.attr == "str":
            receiver_node = receiver_node.value
            method = f"str.{method}"
        receiver = self.read(receiver_node)
        if method not in _METHODS:
            raise _unsupported(
                f"method {method!r}",
                "Allowed methods: " + ", ".join(f"{m}()" for m in _METHODS) + ".",
            )
        positional, keywords = _METHODS[method]
        kwargs: list[tuple[str, Scalar]] = []
        for keyword in node.keywords:
            if keyword.arg is None or keyword.arg not in keywords:
                shown = "**" if keyword.arg is None else keyword.arg
                raise _unsupported(f"argument {shown!r} of {method}()", f"e.g. {_EXAMPLES[method]}")
            kwargs.append((keyword.arg, self.literal(keyword.value)))
        if len(node.args) != len(positional):
            raise InvalidInputError(
                f"{method}() takes {len(positional)} value(s), got {len(node.args)}",
                hint=f"e.g. {_EXAMPLES[method]}",
            )
        args = tuple(self.literal(a) for a in node.args)
        for value, kind in zip(
            (*args, *(v for _, v in kwargs)),
            (*positional, *(keywords[k] for k, _ in kwargs)),
            strict=True,
        ):
            if (kind == "text" and not isinstance(value, str)) or (
                kind == "bool" and not isinstance(value, bool)
            ):
                raise InvalidInputError(
                    f"{method}() needs {'a text' if kind == 'text' else 'a True/False'} value, "
                    f"got {value!r}",
                    hint=f"e.g. {_EXAMPLES[method]}",
                )
        return _Method(text, receiver, method, args, tuple(kwargs))


_EXAMPLES: Final[dict[str, str]] = {
    "str.contains": "name.str.contains('car', case=False, regex=False)",
    "str.startswith": "name.str.startswith('car')",
    "str.endswith": "name.str.endswith('.wav')",
    "str.len": "name.str.len() > 3",
    "str.lower": "name.str.lower() == 'car'",
    "str.upper": "name.str.upper() == 'CAR'",
    "isna": "snr_db.isna()",
    "isnull": "snr_db.isnull()",
    "notna": "snr_db.notna()",
    "notnull": "snr_db.notnull()",
    "between": "snr_db.between(0, 5)",
    "abs": "x.abs() < 1",
}


# Evaluation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Value:
    """An evaluated part: a Series aligned with the frame, or a scalar; and its kind."""

    data: Any
    kind: str  # "number" | "text" | "bool" | "datetime" | "any" | "none" | "other"
    label: str


def _kind_of_series(series: pd.Series) -> str:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.CategoricalDtype):
        return _kind_of_series(pd.Series(dtype.categories))
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    return {
        "string": "text",
        "empty": "any",
        "boolean": "bool",
        "integer": "number",
        "floating": "number",
        "mixed-integer-float": "number",
        "decimal": "number",
        "datetime": "datetime",
        "datetime64": "datetime",
        "date": "datetime",
    }.get(inferred, "other")


def _kind_of_scalar(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, int | float | np.number):
        return "number"
    if isinstance(value, str):
        return "text"
    return "other"


def _describe(value: _Value) -> str:
    kind = {"number": "numeric", "text": "text", "bool": "true/false", "datetime": "date"}.get(
        value.kind, value.kind
    )
    if isinstance(value.data, pd.Series):
        return f"{kind} {value.label!r}"
    noun = {"number": "the number", "text": "the text", "bool": "the value"}.get(
        value.kind, "the value"
    )
    return f"{noun} {value.label}"


_COMPATIBLE: Final = {
    frozenset({"number"}),
    frozenset({"text"}),
    frozenset({"bool"}),
    frozenset({"datetime"}),
    frozenset({"bool", "number"}),
    frozenset({"datetime", "text"}),
}


def _compatible(a: str, b: str) -> bool:
    return "any" in (a, b) or frozenset({a, b}) in _COMPATIBLE


def _missing(data: Any) -> Any:
    if isinstance(data, pd.Series):
        return data.isna()
    return data is None or (isinstance(data, float) and math.isnan(data))


_ORDER_OPS: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ARITH: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
}


class _Evaluator:
    def __init__(self, frame: pd.DataFrame, ref: str | None) -> None:
        self.frame = frame
        self.ref = ref
        self.index = frame.index

    def series(self, values: Any) -> pd.Series:
        if isinstance(values, pd.Series):
            return values
        return pd.Series([values] * len(self.index), index=self.index, dtype=object)

    def boolean(self, value: _Value, what: str) -> Any:
        """``value`` as booleans (missing is false), or refuse a value that is not true/false."""
        if value.kind not in ("bool", "any"):
            raise InvalidInputError(
                f"{what} needs true/false values, but {_describe(value)} is not",
                hint="Compare it with a value, e.g. snr_db < 5 or colour == 'red'.",
            )
        if isinstance(value.data, pd.Series):
            return value.data.astype(object).where(value.data.notna(), False).astype(bool)
        return bool(value.data)

    def evaluate(self, node: _Node) -> _Value:
        if isinstance(node, _Column):
            return self.column(node)
        if isinstance(node, _Literal):
            return _Value(node.value, _kind_of_scalar(node.value), node.text)
        if isinstance(node, _List):
            raise InvalidInputError(
                f"a list of values ({node.text}) can only follow 'in', 'not in', '==' or '!='",
                hint="Write e.g. colour in ['red', 'blue'].",
            )
        if isinstance(node, _Logic):
            return self.logic(node)
        if isinstance(node, _Not):
            inner = self.boolean(self.evaluate(node.operand), f"'not' in {node.text!r}")
            return _Value(~inner if isinstance(inner, pd.Series) else not inner, "bool", node.text)
        if isinstance(node, _Compare):
            return self.compare(node)
        if isinstance(node, _Arith | _Negate):
            return self.arith(node)
        if isinstance(node, _Missing):
            missing = self.series(_missing(self.evaluate(node.operand).data)).astype(bool)
            return _Value(~missing if node.negate else missing, "bool", node.text)
        if isinstance(node, _Method):
            return self.method(node)
        raise AssertionError(f"unexpected node {type(node).__name__}")  # pragma: no cover

    def column(self, node: _Column) -> _Value:
        if node.name not in self.frame.columns:
            columns = [str(c) for c in self.frame.columns]
            shown = ", ".join(columns[:_MAX_COLUMNS_SHOWN])
            if len(columns) > _MAX_COLUMNS_SHOWN:
                shown += f", … ({len(columns)} in all)"
            where = f" of {self.ref}" if self.ref else ""
            raise InvalidInputError(
                f"the query cannot be evaluated: no column {node.name!r}{where} (columns: {shown})",
                hint="Check the spelling; put `back ticks` around names with spaces.",
            )
        series = self.frame[node.name]
        if isinstance(series, pd.DataFrame):
            raise InvalidInputError(
                f"the query cannot be evaluated: several columns are named {node.name!r}",
                hint="Rename the columns so that each name is used once.",
            )
        return _Value(series, _kind_of_series(series), node.text)

    def logic(self, node: _Logic) -> _Value:
        parts = [
            self.boolean(self.evaluate(v), f"{node.op!r} in {node.text!r}") for v in node.operands
        ]
        result = parts[0]
        for part in parts[1:]:
            result = (result & part) if node.op == "and" else (result | part)
        return _Value(result, "bool", node.text)

    def compare(self, node: _Compare) -> _Value:
        values: list[_Value | _List] = [
            v if isinstance(v, _List) else self.evaluate(v) for v in node.operands
        ]
        result: Any = True
        for op, left, right in zip(node.ops, values, values[1:], strict=False):
            if isinstance(left, _List):
                raise InvalidInputError(
                    f"a list of values ({left.text}) cannot come first in {node.text!r}",
                    hint="Write e.g. colour in ['red', 'blue'].",
                )
            if isinstance(right, _List):
                part = self.membership(op, left, right, node.text)
            else:
                part = self.pair(op, left, right, node.text)
            result = part if result is True else result & part
        return _Value(result, "bool", node.text)

    def membership(self, op: str, left: _Value, right: _List, text: str) -> Any:
        if op not in ("in", "not in", "==", "!="):
            raise InvalidInputError(
                f"cannot use {op!r} with a list of values in {text!r}",
                hint="Write e.g. colour in ['red', 'blue'].",
            )
        for item in right.values:
            kind = _kind_of_scalar(item)
            if kind != "none" and left.kind != "other" and not _compatible(left.kind, kind):
                raise InvalidInputError(
                    f"the query compares {_describe(left)} with the {kind} {item!r} in {text!r}",
                    hint="Compare numbers with numbers and quoted text with text columns.",
                )
        data = self.series(left.data)
        found = data.isin(list(right.values))
        return ~found if op in ("not in", "!=") else found

    def pair(self, op: str, left: _Value, right: _Value, text: str) -> Any:
        if "none" in (left.kind, right.kind):
            raise InvalidInputError(
                f"cannot compare with None in {text!r}",
                hint="Write col is missing or col is not missing.",
            )
        if op in ("in", "not in"):  # pragma: no cover - the reader requires a list
            raise InvalidInputError(f"{op!r} needs a list of values in {text!r}")
        mixed = "other" in (left.kind, right.kind)  # e.g. a column of numbers and text
        if (mixed and op not in ("==", "!=")) or not (mixed or _compatible(left.kind, right.kind)):
            raise InvalidInputError(
                f"the query cannot compare {_describe(left)} with {_describe(right)} in {text!r}",
                hint="Compare numbers with numbers and quoted text with text, "
                "e.g. snr_db < 5 or colour == 'red'.",
            )
        a, b = left.data, right.data
        if not isinstance(a, pd.Series) and not isinstance(b, pd.Series):
            return bool(_ORDER_OPS[op](a, b))
        missing = _missing(a) | _missing(b)
        present = ~self.series(missing).astype(bool)
        result = pd.Series(op == "!=", index=self.index, dtype=bool)
        if present.any():
            a_part = a[present] if isinstance(a, pd.Series) else a
            b_part = b[present] if isinstance(b, pd.Series) else b
            try:
                compared = _ORDER_OPS[op](a_part, b_part)
            except (TypeError, ValueError) as exc:
                raise InvalidInputError(
                    f"the query cannot compare {_describe(left)} with {_describe(right)} "
                    f"in {text!r} ({exc})",
                    hint="Compare numbers with numbers and quoted text with text.",
                ) from exc
            if not isinstance(compared, pd.Series):
                compared = pd.Series(compared, index=result.index[present.to_numpy()])
            filled = compared.astype(object).where(compared.notna(), op == "!=")
            result.loc[present] = filled.astype(bool)
        return result

    def arith(self, node: _Arith | _Negate) -> _Value:
        operands = [node.left, node.right] if isinstance(node, _Arith) else [node.operand]
        values = [self.evaluate(v) for v in operands]
        for value in values:
            if value.kind not in ("number", "any"):
                raise InvalidInputError(
                    f"arithmetic needs numbers, but {_describe(value)} in {node.text!r} is not",
                    hint="Use + - * / on numeric columns, e.g. x1 + x2 > 1.",
                )
        try:
            if isinstance(node, _Negate):
                data = values[0].data
                result = -data if node.minus else data
            else:
                a, b = values[0].data, values[1].data
                if not isinstance(a, pd.Series) and not isinstance(b, pd.Series):
                    # Scalars only: floats, so 10 ** 10 ** 10 overflows instead of running on.
                    a, b = float(a), float(b)
                result = _ARITH[node.op](a, b)
        except (ZeroDivisionError, OverflowError, TypeError, ValueError) as exc:
            reason = "a number is too large" if isinstance(exc, OverflowError) else str(exc)
            raise InvalidInputError(
                f"the query cannot compute {node.text!r} ({reason})",
                hint="Check the arithmetic, e.g. divide by a non-zero number.",
            ) from exc
        return _Value(result, "number", node.text)

    def method(self, node: _Method) -> _Value:
        receiver = self.evaluate(node.receiver)
        data = self.series(receiver.data)
        kwargs = dict(node.kwargs)
        if node.name.startswith("str."):
            if receiver.kind not in ("text", "any"):
                raise InvalidInputError(
                    f"{node.name}() needs a text column, but {_describe(receiver)} is not text",
                    hint="Use .str methods on text columns, e.g. device.str.startswith('car').",
                )
            text_data = data.astype(object).where(data.notna(), None).astype(_ARROW_TEXT)
            if node.name == "str.len":
                return _Value(text_data.str.len().astype("float64"), "number", node.text)
            if node.name in ("str.lower", "str.upper"):
                changed = getattr(text_data.str, node.name[4:])()
                return _Value(
                    changed.astype(object).where(changed.notna(), None), "text", node.text
                )
            pattern = node.args[0]
            try:
                with warnings.catch_warnings():  # "has match groups": groups are fine here
                    warnings.simplefilter("ignore", UserWarning)
                    if node.name == "str.contains":
                        found = text_data.str.contains(
                            pattern,
                            case=bool(kwargs.get("case", True)),
                            regex=bool(kwargs.get("regex", True)),
                        )
                    elif node.name == "str.startswith":
                        found = text_data.str.startswith(pattern)
                    else:
                        found = text_data.str.endswith(pattern)
            except (re.error, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
                raise InvalidInputError(
                    f"{pattern!r} in {node.text!r} is not a valid regular expression "
                    f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})",
                    hint="Pass regex=False to search for the text as written.",
                ) from exc
            return _Value(found.fillna(False).astype(bool), "bool", node.text)
        if node.name in ("isna", "isnull", "notna", "notnull"):
            missing = data.isna()
            return _Value(
                missing if node.name in ("isna", "isnull") else ~missing, "bool", node.text
            )
        if node.name == "abs":
            if receiver.kind not in ("number", "any"):
                raise InvalidInputError(
                    f"abs() needs numbers, but {_describe(receiver)} is not numeric",
                    hint="e.g. x1.abs() < 1.",
                )
            return _Value(data.abs(), "number", node.text)
        # between
        lo = _Value(node.args[0], _kind_of_scalar(node.args[0]), repr(node.args[0]))
        hi = _Value(node.args[1], _kind_of_scalar(node.args[1]), repr(node.args[1]))
        inclusive = kwargs.get("inclusive", "both")
        if inclusive not in ("both", "neither", "left", "right"):
            raise InvalidInputError(
                f"inclusive={inclusive!r} in {node.text!r} is not one of both, neither, left, "
                "right",
                hint="e.g. snr_db.between(0, 5, inclusive='left').",
            )
        low_op = ">=" if inclusive in ("both", "left") else ">"
        high_op = "<=" if inclusive in ("both", "right") else "<"
        result = self.pair(low_op, receiver, lo, node.text) & self.pair(
            high_op, receiver, hi, node.text
        )
        return _Value(result, "bool", node.text)


# Public API --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """A validated query; :meth:`mask` evaluates it on a frame (one boolean per row).

    Build one with :func:`compile_query`: it holds only nodes of the allowed grammar, so
    evaluating it can only read columns and compare, combine or compute with them.
    """

    text: str
    _root: _Node = field(repr=False)

    @property
    def columns(self) -> tuple[str, ...]:
        """The column names the query reads, in order of first use.

        >>> compile_query("x1 > 0 and `my col`.isna() or x1 < -3").columns
        ('x1', 'my col')
        """
        found: dict[str, None] = {}

        def visit(node: _Node) -> None:
            if isinstance(node, _Column):
                found.setdefault(node.name)
            for child in _children(node):
                visit(child)

        visit(self._root)
        return tuple(found)

    def mask(self, frame: pd.DataFrame, *, ref: str | None = None) -> np.ndarray:
        """One boolean per row of ``frame``: whether the row matches the query.

        ``ref`` names the data in messages (e.g. ``calls@v3``). Missing values make a
        comparison false (``!=`` and ``not in`` true, as in pandas).

        Raises
        ------
        InvalidInputError
            An unknown column, values that cannot be compared (text with a number), or a
            query whose result is not one true/false value per row (``x1 + 1``).

        >>> import pandas as pd
        >>> compile_query("colour in ['red', 'blue'] and not x > 1").mask(
        ...     pd.DataFrame({"colour": ["red", "green", "blue"], "x": [0, 0, 5]})).tolist()
        [True, False, False]
        """
        value = _Evaluator(frame, ref).evaluate(self._root)
        if not isinstance(value.data, pd.Series):
            raise InvalidInputError(
                f"the query {self.text!r} does not depend on any column, so it gives one value, "
                "not one true/false value per row",
                hint="Compare a column with a value, e.g. snr_db < 5.",
            )
        if value.kind not in ("bool", "any"):
            raise InvalidInputError(
                f"the query {self.text!r} gives {value.kind} values, not true/false for each row",
                hint="Compare the result with a value, e.g. snr_db * 2 > 5.",
            )
        series = value.data
        mask: np.ndarray = (
            series.astype(object).where(series.notna(), False).astype(bool).to_numpy()
        )
        return mask


def _children(node: _Node) -> Sequence[_Node]:
    if isinstance(node, _Compare | _Logic):
        return node.operands
    if isinstance(node, _Not | _Negate | _Missing):
        return (node.operand,)
    if isinstance(node, _Arith):
        return (node.left, node.right)
    if isinstance(node, _Method):
        return (node.receiver,)
    return ()


def compile_query(text: str) -> Query:
    """Parse and validate ``text`` once, refusing anything outside the query grammar.

    Accepted: column names (``snr_db``; ```my col``` in back ticks); literals (numbers, quoted
    text, ``True``/``False``/``None``, and lists of them after ``in``, ``not in``, ``==``,
    ``!=``); comparisons ``== != < <= > >=`` (also ``≤ ≥ ≠``, and chained ``0 < x < 1``);
    ``and or not`` and ``& | ~`` (element-wise, with the precedence of ``and``/``or``, as in
    pandas); ``+ - * / // % **`` and unary ``-``; ``col is missing`` / ``col is not missing``;
    and the methods ``str.contains(text, case=, regex=)``, ``str.startswith(text)``,
    ``str.endswith(text)``, ``str.len()``, ``str.lower()``, ``str.upper()``, ``isna()``,
    ``notna()``, ``between(lo, hi)``, ``abs()`` with literal arguments. Everything else (``@``,
    attributes, dunders, function calls, subscripts, lambdas, comprehensions, ``:=``, f-strings)
    is refused, so the text is never executed.

    Raises
    ------
    InvalidInputError
        With a one-line message naming the unsupported part, e.g.
        ``unsupported in the query: attribute '__class__'``.

    >>> compile_query("0 <= `snr db` < 5 & device.str.startswith('car')").columns
    ('snr db', 'device')
    >>> compile_query("open('f')")
    Traceback (most recent call last):
    ...
    dcai.errors.InvalidInputError: unsupported in the query: function call 'open(...)'. ...
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError("the query is empty", hint=QUERY_HINT)
    if len(text) > _MAX_LENGTH:
        raise InvalidInputError(
            f"the query is too long ({len(text)} characters, at most {_MAX_LENGTH})",
            hint="Tag in several steps, or use a Python predicate (where=) from the library.",
        )
    source, names = _prepare(text)
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        where = f" at character {exc.offset}" if exc.offset else ""
        raise InvalidInputError(
            f"the query {text!r} cannot be evaluated: it is not valid syntax{where} ({exc.msg})",
            hint=QUERY_HINT,
        ) from exc
    except (RecursionError, MemoryError, ValueError) as exc:
        raise InvalidInputError(
            f"the query cannot be evaluated: it is too deeply nested ({type(exc).__name__})",
            hint=QUERY_HINT,
        ) from exc
    try:
        root = _Reader(source.strip(), names).read(tree.body)
    except RecursionError as exc:
        raise InvalidInputError(
            "the query cannot be evaluated: it is too deeply nested", hint=QUERY_HINT
        ) from exc
    return Query(text, root)


def query_mask(frame: pd.DataFrame, text: str, *, ref: str | None = None) -> np.ndarray:
    """Shorthand for ``compile_query(text).mask(frame, ref=ref)``.

    >>> import pandas as pd
    >>> query_mask(pd.DataFrame({"x": [1, 5, None]}), "x.between(0, 2) | x is missing").tolist()
    [True, False, True]
    """
    return compile_query(text).mask(frame, ref=ref)
