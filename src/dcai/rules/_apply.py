"""Run rules over a frame: the label matrix, one column per rule, ``-1`` where a rule abstains.

A rule that raises on a row abstains there; the first failing row and the count are kept in
:attr:`LabelMatrix.failures` and said in one warning per rule, and the other rules go on. A
vote outside the label set stops everything with the rule, the row and the value named.

>>> import pandas as pd
>>> from dcai.rules import keywords, rule
>>> frame = pd.DataFrame({"text": ["win a FREE prize", "lunch at 1?", "free lunch"]})
>>> @rule
... def question(row):
...     return "ham" if row.text.endswith("?") else None
>>> L = apply([keywords("text", ["free"], label="spam"), question], frame)
>>> L.classes, L.codes.tolist()
(('ham', 'spam'), [[1, -1], [-1, 0], [1, -1]])
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dcai._progress import ProgressCallback, Steps
from dcai.errors import DcaiWarning, InvalidInputError
from dcai.rules._rule import Label, Row, Rule, as_rule

__all__ = ["LabelMatrix", "RuleFailure", "apply", "as_codes", "n_classes_of", "vote_counts"]

ABSTAIN_CODE = -1


@dataclass(frozen=True)
class RuleFailure:
    """Where a rule raised: how many rows, the first one (its index label) and the error."""

    rows: int
    first_row: Any
    error: str


@dataclass(frozen=True)
class LabelMatrix:
    """Votes of ``rules`` on ``index``: ``codes[i, j]`` indexes ``classes``, ``-1`` abstains."""

    codes: np.ndarray
    classes: tuple[Label, ...]
    rules: tuple[str, ...]
    index: pd.Index
    failures: dict[str, RuleFailure] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.codes.shape[0]), int(self.codes.shape[1]))

    def labels_of(self, codes: np.ndarray) -> np.ndarray:
        """Class numbers (``-1``: none) as this matrix's labels (``None``), e.g. of
        :meth:`LabelModel.predict`.

        >>> L = LabelMatrix(np.array([[0, -1]]), ("ham", "spam"), ("a", "b"), pd.RangeIndex(1))
        >>> L.labels_of(np.array([1, -1, 0])).tolist()
        ['spam', None, 'ham']
        """
        labels = np.asarray([*self.classes, None], dtype=object)
        return np.asarray(labels[np.asarray(codes, dtype=np.int64)], dtype=object)

    def to_frame(self) -> pd.DataFrame:
        """The votes as labels (``None`` where a rule abstains), one column per rule."""
        return pd.DataFrame(
            {name: self.labels_of(self.codes[:, j]) for j, name in enumerate(self.rules)},
            index=self.index,
        )


def as_codes(matrix: LabelMatrix | np.ndarray | Sequence[Sequence[int]]) -> np.ndarray:
    """A label matrix's integer votes (``-1`` abstain), checked."""
    codes = matrix.codes if isinstance(matrix, LabelMatrix) else np.asarray(matrix)
    if codes.ndim != 2:
        raise InvalidInputError(f"a label matrix is 2-D (rows × rules); got shape {codes.shape}")
    if codes.size and not np.issubdtype(codes.dtype, np.integer):
        raise InvalidInputError(
            f"label-matrix votes are integers (-1 abstains); got {codes.dtype}",
            hint="Build it with dcai.rules.apply, or map labels to 0..K-1 yourself.",
        )
    if codes.size and int(codes.min()) < ABSTAIN_CODE:
        raise InvalidInputError("label-matrix votes are -1 (abstain) or class numbers 0..K-1")
    return codes.astype(np.int32, copy=False)


def n_classes_of(matrix: LabelMatrix | np.ndarray, codes: np.ndarray, given: int | None) -> int:
    """How many classes a matrix's votes range over (a :class:`LabelMatrix` knows; at least 2)."""
    if isinstance(matrix, LabelMatrix):
        k = len(matrix.classes)
    elif given is not None:
        k = int(given)
    else:
        k = int(codes.max()) + 1 if codes.size else 0
    if codes.size and int(codes.max()) >= max(k, 1):
        raise InvalidInputError(f"a vote of class {int(codes.max())} with only {k} classes")
    return max(k, 2)


def vote_counts(matrix: LabelMatrix | np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """``(rows, K)``: how many rules voted each class on each row."""
    codes = as_codes(matrix)
    k = n_classes_of(matrix, codes, n_classes)
    rows, rules = np.nonzero(codes >= 0)
    flat = rows.astype(np.int64) * k + codes[rows, rules]
    return np.bincount(flat, minlength=codes.shape[0] * k).reshape(-1, k)


def _collect(
    rule: Rule, frame: pd.DataFrame, rows: list[Row] | None
) -> tuple[list[Any] | np.ndarray, RuleFailure | None]:
    """A rule's votes: a boolean mask (votes ``rule.label``) or a list (``None`` abstains),
    and where it failed."""
    if rule.batch is not None:
        out = rule.batch(frame)
        if len(out) != len(frame):
            raise InvalidInputError(
                f"rule {rule.name!r} gave {len(out)} votes for {len(frame)} rows"
            )
        if out.dtype == bool:
            if rule.label is None:
                raise InvalidInputError(f"rule {rule.name!r} gives a mask but declares no label")
            return np.asarray(out, dtype=bool), None
        return [rule.vote(v) for v in out.tolist()], None
    assert rows is not None and rule.function is not None
    votes: list[Any] = []
    count, first, message = 0, None, ""
    function, vote = rule.function, rule.vote
    for position, row in enumerate(rows):
        try:
            value = function(row)
        except Exception as exc:  # the user's code: any failure abstains on that row
            if count == 0:
                first, message = frame.index[position], f"{type(exc).__name__}: {exc}"
            count += 1
            votes.append(None)
            continue
        votes.append(vote(value))
    return votes, (RuleFailure(count, first, message) if count else None)


def _voted(votes: list[Any] | np.ndarray, rule: Rule) -> list[Any]:
    """The distinct labels among a rule's votes."""
    if isinstance(votes, np.ndarray):
        return [rule.label] if votes.any() else []
    return list(dict.fromkeys(v for v in votes if v is not None))


def _label_set(
    votes: dict[str, list[Any] | np.ndarray], rules: Sequence[Rule], classes: Sequence[Label] | None
) -> tuple[Label, ...]:
    if classes is not None:
        return tuple(classes)
    seen: dict[Any, str] = {}
    for rule in rules:
        if rule.label is not None:
            seen.setdefault(rule.label, rule.name)
        for value in _voted(votes[rule.name], rule):
            seen.setdefault(value, rule.name)
    kinds = {("bool" if isinstance(v, bool) else "int" if isinstance(v, int) else
              "str" if isinstance(v, str) else type(v).__name__) for v in seen}  # fmt: skip
    if len(kinds) > 1:
        raise InvalidInputError(
            f"the rules vote labels of several types ({', '.join(sorted(kinds))}): "
            + "; ".join(f"{v!r} from {r!r}" for v, r in list(seen.items())[:4]),
            hint="Return labels of one type, or pass classes=[...] to apply().",
        )
    return tuple(sorted(seen, key=lambda v: (str(type(v)), v)))


def _codes(
    votes: list[Any] | np.ndarray,
    rule: Rule,
    lookup: dict[Any, int],
    frame: pd.DataFrame,
    label_set: tuple[Label, ...],
) -> np.ndarray:
    """One rule's column of the label matrix."""
    if isinstance(votes, np.ndarray):
        code = lookup.get(rule.label) if votes.any() else ABSTAIN_CODE
        if code is None:
            unknown: Any = rule.label
            position = int(np.argmax(votes))
        else:
            return np.where(votes, code, ABSTAIN_CODE).astype(np.int32)
    else:
        given = pd.Series(votes, dtype=object)
        mapped = given.map(lookup)
        bad = mapped.isna().to_numpy() & given.notna().to_numpy()
        if not bad.any():
            return np.asarray(mapped.fillna(ABSTAIN_CODE).to_numpy(dtype=np.int32))
        position = int(np.argmax(bad))
        unknown = votes[position]
    raise InvalidInputError(
        f"rule {rule.name!r} voted {unknown!r} at row {frame.index[position]!r}, "
        f"which is not one of the labels {list(label_set)}",
        hint="Return one of the labels (or None to abstain), or fix classes=[...].",
    )


def apply(
    rules: Iterable[Rule | Any],
    frame: pd.DataFrame,
    *,
    classes: Sequence[Label] | None = None,
    progress: ProgressCallback | None = None,
) -> LabelMatrix:
    """Every rule's vote on every row of ``frame`` (``progress``: one step per rule).

    ``classes`` fixes the label set and its order (default: every label a rule declares or
    votes, sorted); a vote outside it is an error naming the rule and the row.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(f"apply() takes a pandas DataFrame, got {type(frame).__name__}")
    listed = [as_rule(r) for r in rules]
    if not listed:
        raise InvalidInputError("no rules to apply", hint="Pass at least one @rule function.")
    names = [r.name for r in listed]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidInputError(
            f"rule names must be unique; repeated: {', '.join(map(repr, twice))}",
            hint="Give each rule its own name: @rule(name='...').",
        )
    rows = None
    if any(r.batch is None for r in listed):
        columns = [str(c) for c in frame.columns]
        plain = frame.astype(object).where(frame.notna(), None)  # missing values arrive as None
        rows = [Row(zip(columns, values, strict=True)) for values in plain.itertuples(index=False)]
    votes: dict[str, list[Any] | np.ndarray] = {}
    failures: dict[str, RuleFailure] = {}
    steps = Steps(progress, total=len(listed))
    for rule in listed:
        steps(f"rule {rule.name}")
        votes[rule.name], failure = _collect(rule, frame, rows)
        if failure is not None:
            failures[rule.name] = failure
            warnings.warn(
                f"rule {rule.name!r} raised on {failure.rows} of {len(frame)} rows, first at "
                f"row {failure.first_row!r} ({failure.error}); it abstains there",
                DcaiWarning,
                stacklevel=2,
            )
    label_set = _label_set(votes, listed, classes)
    lookup = {label: code for code, label in enumerate(label_set)}
    codes = np.full((len(frame), len(listed)), ABSTAIN_CODE, dtype=np.int32)
    for j, rule in enumerate(listed):
        codes[:, j] = _codes(votes[rule.name], rule, lookup, frame, label_set)
    steps.done()
    return LabelMatrix(codes, label_set, tuple(names), frame.index.copy(), failures)
