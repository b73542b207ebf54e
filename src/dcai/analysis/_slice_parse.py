"""Reading a slice written by hand, such as ``colour == 'red' and x1 >= 0.5``, into predicates.

The text is parsed with :mod:`ast`, never evaluated: only a small grammar of comparisons joined
by ``and`` is accepted (see :func:`parse_slice`).
"""

from __future__ import annotations

import ast
import math
from typing import Any

from dcai.data._query import _prepare  # one reading of back ticks, ≤ ≥ ≠ and & for all
from dcai.errors import InvalidInputError

__all__ = ["PARSE_HINT", "Predicate", "json_friendly", "parse_slice"]

#: A predicate: ``(column, op, value)``, JSON-friendly.
Predicate = tuple[Any, str, Any]
PARSE_HINT = (
    "Write predicates such as colour == 'red' and 0.5 <= x1 < 1.2 joined by 'and' (or &); "
    "quote text values, put `back ticks` around column names with spaces, and use "
    "'x is missing' or 'not flag' for missing values and false booleans."
)


def json_friendly(value: Any) -> bool:
    """Whether a predicate's value survives JSON: text, a boolean, an integer or a finite float."""
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | int | bool)


_AST_OPS = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
}
_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _literal(node: ast.expr, text: str) -> Any:
    try:
        value = ast.literal_eval(node)
    except ValueError:
        value = None
    else:
        if isinstance(value, tuple | list | set):
            if all(json_friendly(v) for v in value):
                return sorted(value, key=str) if isinstance(value, set) else list(value)
        elif json_friendly(value):
            return value
    raise InvalidInputError(
        f"cannot read {ast.get_source_segment(text, node)!r} as a value", hint=PARSE_HINT
    )


def _atom(node: ast.expr, text: str, names: dict[str, str]) -> list[Predicate]:
    def column(n: ast.expr) -> str | None:
        return names.get(n.id, n.id) if isinstance(n, ast.Name) else None

    if isinstance(node, ast.Name):
        return [(column(node), "==", True)]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        name = column(node.operand)
        if name is not None:
            return [(name, "==", False)]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("isna", "isnull")
        and not node.args
        and column(node.func.value) is not None
    ):
        return [(column(node.func.value), "is missing", None)]
    if isinstance(node, ast.Compare):
        items = [node.left, *node.comparators]
        if len(node.ops) == 1 and isinstance(node.ops[0], ast.Is):
            name, other = column(items[0]), items[1]
            if name is not None and isinstance(other, ast.Name) and other.id == "missing":
                return [(name, "is missing", None)]
        if len(node.ops) == 1 and isinstance(node.ops[0], ast.In):
            name = column(items[0])
            if name is not None:
                value = _literal(items[1], text)
                if isinstance(value, list):
                    return [(name, "in", value)]
        if all(type(op) in _AST_OPS for op in node.ops):
            ops = [_AST_OPS[type(op)] for op in node.ops]
            if len(ops) == 1:
                left, right = column(items[0]), column(items[1])
                if left is not None and right is None:
                    return [(left, ops[0], _literal(items[1], text))]
                if right is not None and left is None:
                    return [(right, _FLIP[ops[0]], _literal(items[0], text))]
            if len(ops) == 2 and column(items[1]) is not None:
                name = column(items[1])
                lo, hi = _literal(items[0], text), _literal(items[2], text)
                if ops == ["<=", "<"]:
                    return [(name, "between", [lo, hi])]
                return [(name, _FLIP[ops[0]], lo), (name, ops[1], hi)]
    segment = ast.get_source_segment(text, node) or text
    raise InvalidInputError(f"cannot read {segment!r} as a predicate", hint=PARSE_HINT)


def parse_slice(text: str) -> list[Predicate]:
    """Read a slice written by hand, such as ``"colour == 'red' and x1 >= 0.5"``.

    The text is parsed with Python's :mod:`ast` and only a small grammar is accepted, so
    nothing in it is ever executed: predicates joined by ``and`` (or ``&``), each one of
    ``col OP value`` (``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, also ``≤ ≥ ≠``; the value
    may come first), ``lo <= col < hi``, ``col in ['a', 'b']``, ``col`` and ``not col`` for
    booleans, and ``col is missing`` (or ``col.isna()``). Text values are quoted; a column name
    with spaces goes in back ticks, as in :meth:`pandas.DataFrame.query`.

    Parameters
    ----------
    text
        The slice.

    Returns
    -------
    list of (column, op, value)
        The predicates, for :func:`slice_mask` or to store as JSON.

    Raises
    ------
    InvalidInputError
        Anything outside that grammar (``or``, arithmetic, function calls, …).

    Examples
    --------
    >>> parse_slice("colour == 'red' and 0.5 <= x1 < 1.2")
    [('colour', '==', 'red'), ('x1', 'between', [0.5, 1.2])]
    >>> parse_slice("not `is blurry` & age is missing")
    [('is blurry', '==', False), ('age', 'is missing', None)]
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError("a slice must be non-empty text", hint=PARSE_HINT)
    source, names = _prepare(text.strip())
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise InvalidInputError(
            f"cannot read the slice {text!r} ({exc.msg})", hint=PARSE_HINT
        ) from exc
    predicates: list[Predicate] = []
    for part in _conjuncts(tree.body):
        predicates += _atom(part, source, names)
    return predicates


def _conjuncts(node: ast.expr) -> list[ast.expr]:
    """The operands of ``a and (b and c)``, flattened; any other node is one operand."""
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        return [leaf for value in node.values for leaf in _conjuncts(value)]
    return [node]
