"""A labeling rule: a function of one row that returns a label or ``None`` (abstain).

Rules are the user's own code (a module they wrote), run in their process like a test file
under pytest; nothing here evaluates text. ``@rule`` names a function and may declare the one
label it votes; helpers in :mod:`dcai.rules._helpers` build vectorised rules over whole
columns, which :func:`dcai.rules.apply` runs in one call instead of once per row.

>>> @rule
... def mentions_free(row):
...     return "spam" if "free" in row.text.lower() else None
>>> mentions_free.name, mentions_free(Row(text="Free tickets!"))
('mentions_free', 'spam')
>>> @rule(name="short", label="ham")
... def is_short(row):
...     return len(row.text) < 10
>>> is_short(Row(text="ok thx")), is_short(Row(text="a much longer message"))
('ham', None)
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import pandas as pd

from dcai.errors import InvalidInputError

__all__ = ["ABSTAIN", "Row", "Rule", "as_rule", "rule"]

#: What a rule returns to abstain.
ABSTAIN = None

Label = Hashable


class Row(dict[str, Any]):
    """One example's values, readable as ``row.text`` or ``row["text"]``; missing values are None."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"the row has no column {name!r}; columns: {', '.join(map(repr, self))}"
            ) from None


@dataclass(frozen=True)
class Rule:
    """A named labeling function.

    ``function`` takes a :class:`Row`; ``batch``, when set, takes the whole frame and returns
    one vote per row at once (an object array with ``None`` for abstain, or a boolean mask
    meaning "votes ``label``"). ``label`` declares the one label the rule votes, if it has one:
    the function may then return ``True``/``False`` as well.
    """

    name: str
    function: Callable[[Row], Any] | None = None
    label: Label | None = None
    batch: Callable[[pd.DataFrame], np.ndarray] | None = None

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise InvalidInputError("a rule needs a name", hint="Use @rule(name='...').")
        if self.function is None and self.batch is None:
            raise InvalidInputError(
                f"rule {self.name!r} has nothing to run", hint="Pass a function."
            )

    def vote(self, value: Any) -> Label | None:
        """One returned value as a vote: ``None``/``False`` abstain; ``True`` is the declared label."""
        if value is None or value is False or (isinstance(value, float) and np.isnan(value)):
            return None
        if value is True or isinstance(value, np.bool_):
            if self.label is None:
                raise InvalidInputError(
                    f"rule {self.name!r} returned {value!r} but declares no label",
                    hint="Return a label, or declare it: @rule(label='...').",
                )
            return self.label if bool(value) else None
        if isinstance(value, np.generic):
            value = value.item()
        if self.label is not None and value != self.label:
            raise InvalidInputError(
                f"rule {self.name!r} returned {value!r} but declares label {self.label!r}",
                hint="Return the declared label, True/False, or None to abstain.",
            )
        return value  # type: ignore[no-any-return]

    def __call__(self, row: Row) -> Label | None:
        """The rule's vote on one row (``None``: abstain)."""
        if self.function is not None:
            return self.vote(self.function(row))
        assert self.batch is not None
        out = self.batch(pd.DataFrame([dict(row)]))
        value = out[0]
        if out.dtype == bool:
            return self.label if bool(value) else None
        return self.vote(value)


@overload
def rule(function: Callable[[Row], Any], /) -> Rule: ...


@overload
def rule(
    *, name: str | None = None, label: Label | None = None
) -> Callable[[Callable[[Row], Any]], Rule]: ...


def rule(
    function: Callable[[Row], Any] | None = None,
    /,
    *,
    name: str | None = None,
    label: Label | None = None,
) -> Rule | Callable[[Callable[[Row], Any]], Rule]:
    """Make a function a :class:`Rule`: ``@rule`` or ``@rule(name=..., label=...)``."""

    def wrap(fn: Callable[[Row], Any]) -> Rule:
        if not callable(fn):
            raise InvalidInputError(f"@rule needs a function, got {type(fn).__name__}")
        return Rule(name=name or fn.__name__, function=fn, label=label)

    if function is not None:
        return wrap(function)
    return wrap


def as_rule(item: Any) -> Rule:
    """A :class:`Rule` as is; a plain function becomes one named after it."""
    if isinstance(item, Rule):
        return item
    if callable(item):
        return rule(item)
    raise InvalidInputError(
        f"not a rule: {item!r}", hint="Pass functions decorated with @rule, or plain functions."
    )
