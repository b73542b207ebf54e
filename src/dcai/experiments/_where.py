"""The filter language of ``ws.runs(where=...)`` and ``dcai runs list --where``.

Clauses joined by ``and``; each compares one field with a literal::

    metrics.f1_macro > 0.8 and params.C = 1 and tags.stage = 'cleaned' and status = 'FINISHED'

Fields: ``metrics.KEY`` (the latest value of a metric; compared as a number), ``params.KEY``
(compared as a number when the literal is a number, else as text), ``tags.KEY`` (text), and
``status``, ``experiment``, ``name``, ``dataset`` (text). Operators: ``=`` (or ``==``), ``!=``,
``<``, ``<=``, ``>``, ``>=``. Text literals are quoted with ``'`` or ``"``. The text is parsed,
never evaluated, and becomes SQL with bound parameters.

>>> parse_where("metrics.f1 > 0.8 and params.C = 1")
[Clause(field='metrics', key='f1', op='>', value=0.8), Clause(field='params', key='C', op='=', value=1.0)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dcai.errors import InvalidInputError

__all__ = ["Clause", "parse_where"]

_OPS = ("<=", ">=", "!=", "==", "=", "<", ">")
_CLAUSE = re.compile(
    r"^\s*(?:(?P<ns>metrics|params|tags)\.(?P<key>[A-Za-z0-9_.\-/:]+)|(?P<attr>status|experiment|name|dataset))"
    r"\s*(?P<op><=|>=|!=|==|=|<|>)\s*(?P<value>.+?)\s*$"
)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Clause:
    """One comparison: ``field`` is metrics, params, tags or a run attribute."""

    field: str
    key: str | None
    op: str
    value: float | str


def _split(text: str) -> list[str]:
    """Split on ``and`` outside quotes."""
    parts, start, quote = [], 0, ""
    for match in re.finditer(r"['\"]|\s+and\s+", text, re.IGNORECASE):
        token = match.group(0)
        if token in ("'", '"'):
            quote = "" if quote == token else (quote or token)
        elif not quote:
            parts.append(text[start : match.start()])
            start = match.end()
    parts.append(text[start:])
    return parts


def _literal(raw: str, clause: str) -> float | str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    try:
        return float(raw)
    except ValueError:
        raise InvalidInputError(
            f"cannot read the value {raw!r} in {clause.strip()!r}",
            hint="Quote text values: params.solver = 'lbfgs'; numbers as they are: 0.8.",
        ) from None


def parse_where(text: str) -> list[Clause]:
    """The clauses of a filter (see the module docstring); an empty text is no filter."""
    if not text or not text.strip():
        return []
    clauses = []
    for part in _split(text):
        match = _CLAUSE.match(part)
        if match is None:
            raise InvalidInputError(
                f"cannot read {part.strip()!r} in the filter {text!r}",
                hint="Write e.g. metrics.accuracy > 0.9 and params.C = 1 and tags.stage = 'clean' "
                "(fields: metrics.*, params.*, tags.*, status, experiment, name, dataset).",
            )
        op = "=" if match["op"] == "==" else match["op"]
        value = _literal(match["value"], part)
        if match["ns"] == "metrics" and isinstance(value, str):
            raise InvalidInputError(
                f"metrics are numbers; {part.strip()!r} compares with text",
                hint="Compare a metric with a number, e.g. metrics.accuracy > 0.9.",
            )
        if match["attr"] and op not in ("=", "!="):
            raise InvalidInputError(
                f"{match['attr']} is compared with = or != only; got {op!r}",
                hint=f"e.g. {match['attr']} = 'FINISHED'",
            )
        clauses.append(
            Clause(
                field=match["ns"] or match["attr"],
                key=match["key"],
                op=op,
                value=value,
            )
        )
    return clauses
