"""Convention rules for free-text labels: the approved rule set and how it is applied.

:class:`ConventionRules` is what a person approves after reading a convention report: it
validates every rule when built, normalises ``fillers`` and ``spelling`` to the grouping key,
and round-trips through a dict and JSON so it can be saved, edited and reviewed.
:func:`apply_conventions` rewrites texts to follow it, one idempotent step per convention in
the order of :data:`~dcai.labels._convention_text.CONVENTIONS`. It is kept apart from finding
conventions (:mod:`dcai.labels._conventions`) so that applying approved rules needs neither
the detection nor the report; the string work itself is in
:mod:`dcai.labels._convention_text`.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from dcai.errors import InvalidInputError
from dcai.labels._convention_text import (
    _TO_STRAIGHT,
    DEFAULT_FILLERS,
    _base_key,
    _copy_case,
    _curly,
    _ellipsis,
    _filler_pattern,
    _normalize_whitespace,
    _remove_fillers,
    _spans,
    _token_case,
    _trailing,
    _unicode_fold,
)

__all__ = [
    "CaseRule",
    "ConventionRules",
    "EllipsisRule",
    "QuoteRule",
    "TrailingRule",
    "apply_conventions",
]

QuoteRule = Literal["straight", "curly"]
EllipsisRule = Literal["…", "...", "remove"]
TrailingRule = Literal["remove", "period"]
CaseRule = Literal["majority", "lower"]

_ALLOWED: dict[str, tuple[object, ...]] = {
    "quotes": ("straight", "curly", None),
    "ellipsis": ("…", "...", "remove", None),
    "trailing_punctuation": ("remove", "period", None),
    "case": ("majority", "lower", None),
}


@dataclass(frozen=True)
class ConventionRules:
    """An approved set of conventions to apply to free-text labels.

    The default applies nothing; :func:`find_label_conventions` proposes a set from the
    data (its ``rules``). Edit it as a dict or JSON (:meth:`to_dict`, :meth:`from_json`)
    and apply it with :func:`apply_conventions`.

    Parameters
    ----------
    unicode_form
        Fold to NFKC (composed accents, full-width → ASCII, no-break space → space), keeping ``…``.
    whitespace
        Strip the ends, collapse runs of whitespace to one space, no space before ``, . ! ? ; : …``.
    quotes
        ``"straight"`` (``'`` ``"``) or ``"curly"`` (``’`` ``“ ”``) quotes and apostrophes.
    ellipsis
        Write every ellipsis (two or more dots, or ``…``) as ``"…"`` or ``"..."``, or ``"remove"`` it.
    filler_words
        Remove the ``fillers``, with the comma or ellipsis that sets them off.
    fillers
        The filler words and phrases (lower case).
    trailing_punctuation
        ``"remove"`` a final ``. , ; :``, or end with a ``"period"`` unless the text ends with
        ``!``, ``?`` or an ellipsis.
    spelling
        Label → label: a rarer spelling (``"cats"``) and the label it should read (``"cat"``).
        Keys and values are normalised keys (lower case words separated by one space).
    case
        ``"majority"``: within each group of texts with the same words, every word takes the
        case most texts of the group give it; ``"lower"``: lower case everything.

    Examples
    --------
    >>> rules = ConventionRules(ellipsis="…", filler_words=True)
    >>> ConventionRules.from_json(rules.to_json()) == rules
    True
    """

    unicode_form: bool = False
    whitespace: bool = False
    quotes: QuoteRule | None = None
    ellipsis: EllipsisRule | None = None
    filler_words: bool = False
    fillers: tuple[str, ...] = DEFAULT_FILLERS
    spelling: Mapping[str, str] = field(default_factory=dict)
    trailing_punctuation: TrailingRule | None = None
    case: CaseRule | None = None

    def __post_init__(self) -> None:
        for name in ("unicode_form", "whitespace", "filler_words"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidInputError(
                    f"rule {name!r} is {getattr(self, name)!r}, not true or false",
                    hint=f"Set {name} to true or false.",
                )
        for name, allowed in _ALLOWED.items():
            if getattr(self, name) not in allowed:
                raise InvalidInputError(
                    f"rule {name!r} is {getattr(self, name)!r}",
                    hint=f"Use one of: {', '.join(repr(a) for a in allowed)}.",
                )
        if isinstance(self.fillers, str) or not all(isinstance(f, str) for f in self.fillers):
            raise InvalidInputError(
                "rule 'fillers' must be a list of words", hint='e.g. ["um", "uh", "you know"].'
            )
        fillers = tuple(
            dict.fromkeys(" ".join(f.lower().split()) for f in self.fillers if f.strip())
        )
        object.__setattr__(self, "fillers", fillers)
        if not isinstance(self.spelling, Mapping):
            raise InvalidInputError(
                "rule 'spelling' must map a variant to a label", hint='e.g. {"cats": "cat"}.'
            )
        pattern = _filler_pattern(fillers)
        spelling = {}
        for variant, label in self.spelling.items():
            if not isinstance(variant, str) or not isinstance(label, str):
                raise InvalidInputError(
                    f"rule 'spelling' maps {variant!r} to {label!r}; both must be text",
                    hint='e.g. {"cats": "cat"}.',
                )
            key, target = _base_key(variant, pattern), _base_key(label, pattern)
            if key != target:
                spelling[key] = target
        chained = sorted(set(spelling) & set(spelling.values()))
        if chained:
            raise InvalidInputError(
                f"rule 'spelling' maps to labels that are themselves mapped ({', '.join(chained[:3])})",
                hint="Map every variant straight to its final label.",
            )
        object.__setattr__(self, "spelling", dict(sorted(spelling.items())))

    def __hash__(self) -> int:
        return hash(self.to_json())

    def to_dict(self) -> dict[str, Any]:
        """The rules as a JSON-ready dict (lists for tuples), to show, edit and approve."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["fillers"] = list(self.fillers)
        out["spelling"] = dict(self.spelling)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConventionRules:
        """Rules from a dict as :meth:`to_dict` writes it; missing keys take the defaults."""
        if not isinstance(data, Mapping):
            raise InvalidInputError(
                f"convention rules must be a JSON object, not {type(data).__name__}",
                hint="Start from ConventionRules().to_dict().",
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInputError(
                f"unknown convention rule(s): {', '.join(map(repr, unknown))}",
                hint=f"Known rules: {', '.join(sorted(known))}.",
            )
        values = dict(data)
        if "fillers" in values and isinstance(values["fillers"], list):
            values["fillers"] = tuple(values["fillers"])
        return cls(**values)

    def to_json(self) -> str:
        """The rules as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ConventionRules:
        """Rules from JSON text as :meth:`to_json` writes it."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(
                f"convention rules are not valid JSON: {exc.msg} (line {exc.lineno})",
                hint="Start from ConventionRules().to_json().",
            ) from exc
        return cls.from_dict(data)


def _check_texts(texts: Any, name: str = "texts") -> list[str]:
    if isinstance(texts, str):
        raise InvalidInputError(
            f"{name} is one string", hint="Give a list of texts, one per annotation."
        )
    values = list(texts.tolist() if isinstance(texts, pd.Series | np.ndarray) else texts)
    bad = [i + 1 for i, t in enumerate(values) if not isinstance(t, str)]
    if bad:
        raise InvalidInputError(
            f"{name} holds {len(bad)} value(s) that are not text (missing or numbers)",
            rows=bad,
            hint="Give one string per annotation; drop or fill the missing ones.",
        )
    return cast(list[str], values)


def _per_text(text: str, rules: ConventionRules, pattern: re.Pattern[str] | None) -> str:
    if rules.unicode_form:
        text = _unicode_fold(text)
    if rules.whitespace:
        text = _normalize_whitespace(text)
    if rules.quotes == "straight":
        text = text.translate(_TO_STRAIGHT)
    elif rules.quotes == "curly":
        text = _curly(text)
    if rules.ellipsis is not None:
        text = _ellipsis(text, rules.ellipsis)
    if rules.filler_words and pattern is not None:
        text = _remove_fillers(text, pattern)
    if rules.spelling:
        text = _respell(text, rules.spelling, pattern)
        if rules.quotes == "curly":  # respelled words come with straight apostrophes
            text = _curly(text)
    if rules.trailing_punctuation is not None:
        text = _trailing(text, rules.trailing_punctuation)
    if rules.case == "lower":
        text = text.lower()
    return text


def _respell(text: str, spelling: Mapping[str, str], pattern: re.Pattern[str] | None) -> str:
    key = _base_key(text, pattern)
    target = spelling.get(key)
    if target is None:
        return text
    spans, words = _spans(text, pattern), target.split(" ")
    if len(spans) != len(words) or len(words) != len(key.split(" ")):
        return target
    out, end = [], 0
    for (a, b), word, old in zip(spans, words, key.split(" "), strict=True):
        token = text[a:b]
        if word != old:
            style = _token_case(token)
            token = {"upper": word.upper(), "capitalized": word[:1].upper() + word[1:]}.get(
                style, word
            )
        out += [text[end:a], token]
        end = b
    return "".join([*out, text[end:]])


def apply_conventions(texts: Sequence[str] | pd.Series, rules: ConventionRules) -> list[str]:
    """Rewrite texts to follow an approved rule set.

    Steps run in the order of :data:`CONVENTIONS`; each is idempotent and so is the whole,
    so applying the rules twice changes nothing. With ``case="majority"`` the groups are
    formed from ``texts`` themselves: pass all texts of a dataset together.

    Raises
    ------
    InvalidInputError
        A value that is not text, or ``rules`` that are not :class:`ConventionRules`.

    Examples
    --------
    >>> apply_conventions(["wait...  what", "Cat", "cat", "cat."],
    ...                   ConventionRules(whitespace=True, ellipsis="…", case="majority",
    ...                                   trailing_punctuation="remove"))
    ['wait… what', 'cat', 'cat', 'cat']
    """
    if not isinstance(rules, ConventionRules):
        raise InvalidInputError(
            f"rules is a {type(rules).__name__}, not ConventionRules",
            hint="Build it with ConventionRules.from_dict(...) or take report.rules.",
        )
    values = _check_texts(texts)
    pattern = _filler_pattern(rules.fillers)
    out = [_per_text(t, rules, pattern) for t in values]
    if rules.case == "majority":
        out = _majority_case(out, pattern)
    return out


def _majority_case(texts: list[str], pattern: re.Pattern[str] | None) -> list[str]:
    aligned: dict[str, list[tuple[int, list[tuple[int, int]]]]] = defaultdict(list)
    for i, text in enumerate(texts):
        key = _base_key(text, pattern)
        spans = _spans(text, pattern)
        if key and len(spans) == len(key.split(" ")):
            aligned[key].append((i, spans))
    out = list(texts)
    for members in aligned.values():
        if len(members) < 2:
            continue
        n_words = len(members[0][1])
        models = []
        for w in range(n_words):
            flags: Counter[tuple[bool, ...]] = Counter()
            for i, spans in members:
                token = texts[i][spans[w][0] : spans[w][1]]
                flags[tuple(c.isupper() for c in token if c.isupper() or c.islower())] += 1
            models.append(flags.most_common(1)[0][0])  # ties: the first seen
        for i, spans in members:
            text, pieces, end = texts[i], [], 0
            for (a, b), model in zip(spans, models, strict=True):
                pieces += [text[end:a], _copy_case(text[a:b], model)]
                end = b
            out[i] = "".join([*pieces, text[end:]])
    return out
