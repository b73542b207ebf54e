"""The filter language of ``ws.runs(where=...)`` and ``dcai runs list --where``.

Clauses joined by ``and``; each compares one field with a literal::

    metrics.f1_macro > 0.8 and params.C = 1 and tags.stage = 'cleaned' and status = 'FINISHED'

Fields: ``metrics.KEY`` (the latest value of a metric; compared as a number), ``params.KEY``
(compared as a number when the literal is a number, else as text), ``tags.KEY`` (text), and
``status``, ``experiment``, ``name``, ``dataset`` (text). Operators: ``=`` (or ``==``), ``!=``,
``<``, ``<=``, ``>``, ``>=``. Text literals are quoted with ``'`` or ``"``. The text is parsed,
never evaluated, and becomes SQL with bound parameters.

Numbers and text are not mixed up silently: a metric compared with quoted text (or a word) is
refused, and so is a parameter or tag ordered (``<``, ``>``…) against a quoted number, which
would compare as text (``'10' < '9'``); an unquoted number given for a run attribute is read as
the text it is written as (``name = 42`` is ``name = '42'``); ``nan`` is refused.

>>> parse_where("metrics.f1 > 0.8 and params.C = 1")
[Clause(field='metrics', key='f1', op='>', value=0.8), Clause(field='params', key='C', op='=', value=1.0)]
"""

from __future__ import annotations

import math
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


def _quoted(raw: str) -> bool:
    return len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\""


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return None if math.isnan(number) else number


def _literal(raw: str, clause: str, field: str) -> float | str:
    if _quoted(raw):
        return raw[1:-1]
    number = _number(raw)
    if number is not None:
        return number
    if field == "metrics":
        return raw  # the caller says that metrics are numbers
    raise InvalidInputError(
        f"cannot read the value {raw!r} in {clause.strip()!r}",
        hint="Quote text values: params.solver = 'lbfgs'; numbers as they are: 0.8.",
    )


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
        raw = match["value"]
        field = match["ns"] or match["attr"]
        value = _literal(raw, part, field)
        name = f"{field}.{match['key']}" if match["ns"] else field
        if field == "metrics" and isinstance(value, str):
            shown = raw if _quoted(raw) else repr(raw)
            raise InvalidInputError(
                f"metrics are numbers; compare {name} with a number, not the text {shown}",
                hint=f"Write e.g. {name} > 0.9.",
            )
        if (
            field in ("params", "tags")
            and op not in ("=", "!=")
            and _quoted(raw)
            and _number(raw[1:-1]) is not None
        ):
            raise InvalidInputError(
                f"{name} {op} {raw} compares text, where '10' < '9'; "
                f"to compare numbers, write the number unquoted: {name} {op} {raw[1:-1]}",
                hint=f"Quotes mean text: {name} = {raw} matches that exact text.",
            )
        if match["attr"] and isinstance(value, float):
            value = raw  # name = 42 means the text '42', not '42.0'
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
