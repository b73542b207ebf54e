"""Conventions of free-text labels and transcripts: find the variants, propose one rule set.

Labelers who write free text disagree about more than content: one writes ``"..."`` and
another ``"…"``, one keeps the fillers (*um*, *uh*) and another drops them, one capitalises
``"Cat"`` and another writes ``"cat"``. Such differences make agreement look worse than it
is and teach a model inconsistent targets. :func:`find_label_conventions` groups texts that
say the same words, names the conventions in which each group's variants differ and which
annotator uses which variant, and proposes a :class:`ConventionRules`; a person edits and
approves the rules (they serialise to JSON), and :func:`apply_conventions` applies them.

Grouping never merges texts that differ in real words: the grouping key is the sequence of
words, case-folded, after Unicode compatibility folding (NFKC, keeping ``…``), with quote
characters made straight and filler words left out; punctuation, spacing and case do not
count. For short labels (``max_label_words`` words or fewer) a rarer spelling variant of a
more frequent label (a plural, or one edit away) joins that label's group.

The conventions, in the order :func:`apply_conventions` applies them (variants a text can
use → rule values):

- ``unicode_form``: ``nfc``, ``nfd``, ``full_width``, ``compatibility`` → fold (True/False).
- ``whitespace``: ``regular``, ``irregular`` → tidy (True/False).
- ``quotes``: ``straight``, ``curly``, ``mixed``, ``none`` → ``"straight"``, ``"curly"``.
- ``ellipsis``: ``…``, ``...``, ``,`` (a comma as the pause), ``mixed``, ``none`` →
  ``"…"``, ``"..."``, ``"remove"``.
- ``filler_words``: ``fillers``, ``none`` → remove (True/False).
- ``spelling``: ``canonical``, ``variant`` → a mapping variant → label.
- ``trailing_punctuation``: the final ``.``, ``!``, ``?``, ``;``, ``:``, ``,`` or ``none`` →
  ``"remove"``, ``"period"``.
- ``case``: ``lower``, ``upper``, ``sentence``, ``title``, ``mixed``, ``none`` →
  ``"majority"``, ``"lower"``.

A rule of None (or False) leaves the convention as it is.

This module finds the conventions and builds the report; the rules and their application
live in :mod:`dcai.labels._convention_rules`, and the string normalisers and variant
detection in :mod:`dcai.labels._convention_text`.

Examples
--------
>>> report = find_label_conventions(
...     ["Um, today's weather", "Um... today's weather", "Today's weather"],
...     annotators=["ana", "ben", "chen"])
>>> report.groups.loc[0, "conventions"]
('ellipsis', 'filler_words')
>>> apply_conventions(["Um, today's weather", "Um... today's weather"], report.rules)
["Today's weather", "Today's weather"]
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from dcai.errors import InvalidInputError
from dcai.labels._convention_rules import (
    ConventionRules,
    EllipsisRule,
    QuoteRule,
    TrailingRule,
    _check_texts,
    apply_conventions,
)
from dcai.labels._convention_text import (
    _CURLY,
    CONVENTIONS,
    DEFAULT_FILLERS,
    _base_key,
    _case_pattern,
    _filler_pattern,
    _spelling_map,
    _variants,
)

__all__ = [
    "CONVENTIONS",
    "DEFAULT_FILLERS",
    "ConventionReport",
    "ConventionRules",
    "apply_conventions",
    "find_label_conventions",
    "load_transcripts",
]

_EXAMPLES_SHOWN = 3


@dataclass(frozen=True, eq=False)
class ConventionReport:
    """What :func:`find_label_conventions` found, and the rules it proposes.

    Attributes
    ----------
    groups
        One row per group of texts with the same words: ``group`` (0 = largest), ``canonical``
        (the most common text after applying ``rules``), ``key`` (the normalised words),
        ``n_texts``, ``n_variants`` (distinct texts) and ``conventions`` (a tuple of the
        conventions in which the group's texts differ, in :data:`CONVENTIONS` order).
    variants
        One row per distinct text of a group: ``group``, ``text``, ``count``, ``annotators``
        (a sorted tuple; empty when no annotators were given).
    conventions
        One row per convention (all of :data:`CONVENTIONS`): ``n_groups`` (groups whose texts
        differ in it), ``n_texts`` (texts in those groups), ``variants`` (dict variant →
        texts using it, over all texts), ``proposed`` (the rule, as text) and ``examples``
        (up to three tuples of differing texts from one group).
    usage
        ``convention, annotator, variant, count``: which labeler uses which variant
        (``annotator`` is None when no annotators were given).
    assignments
        One row per input text, in input order: ``example_id``, ``annotator``, ``text``, ``group``.
    rules
        The proposed :class:`ConventionRules`.
    """

    groups: pd.DataFrame
    variants: pd.DataFrame
    conventions: pd.DataFrame
    usage: pd.DataFrame
    assignments: pd.DataFrame
    rules: ConventionRules

    def by_annotator(self, convention: str) -> pd.DataFrame:
        """Annotators × variants of one convention: how many texts each labeler wrote each way."""
        if convention not in CONVENTIONS:
            raise InvalidInputError(
                f"unknown convention {convention!r}", hint=f"Use one of: {', '.join(CONVENTIONS)}."
            )
        rows = self.usage[self.usage["convention"] == convention]
        table = rows.fillna({"annotator": "(all)"}).pivot_table(
            index="annotator", columns="variant", values="count", aggfunc="sum", fill_value=0
        )
        table.columns.name = convention
        return table


def find_label_conventions(
    texts: Sequence[str] | pd.Series,
    *,
    annotators: Sequence[Any] | pd.Series | None = None,
    example_ids: Sequence[Any] | pd.Series | None = None,
    fillers: Sequence[str] = DEFAULT_FILLERS,
    max_label_words: int = 3,
) -> ConventionReport:
    """Find how labelers write the same label differently, and propose one convention.

    Use it on free-text labels or transcripts before measuring agreement or training: texts
    that differ only in convention (case, spacing, punctuation, fillers, Unicode form,
    spelling of a class name) are grouped, each group names the conventions its variants
    differ in, and ``usage`` shows which annotator writes which variant.

    Parameters
    ----------
    texts
        One free-text label or transcript per annotation.
    annotators
        Who wrote each text (aligned with ``texts``), for per-annotator counts.
    example_ids
        The example each text labels (aligned), carried into ``assignments``.
    fillers
        Filler words and phrases; multi-word ones count only when set off by punctuation.
    max_label_words
        Texts of at most this many words are labels whose spelling variants are merged.

    Returns
    -------
    ConventionReport

    Raises
    ------
    InvalidInputError
        No texts, a value that is not text, or ``annotators``/``example_ids`` of another length.

    Notes
    -----
    The proposed rules follow what the data uses most; a rule is proposed only for a
    convention the data is inconsistent about:

    - ``unicode_form``, ``whitespace``: on when any text needs it (always safe).
    - ``quotes``: the style of the majority of quote characters (ties: straight), when both occur.
    - ``ellipsis``: within groups that differ in it, ``"remove"`` when more of their texts
      have no ellipsis than have one; otherwise the more frequent of ``…`` and ``...`` over
      all texts (ties: ``…``). A comma used as a pause is reported but never rewritten.
    - ``filler_words``: remove, when some group differs in fillers; fillers cannot be
      restored, so removing them is the only rule that makes such texts agree.
    - ``spelling``: a short label that is a plural of a more frequent label, or one edit away
      (words of ≥ 4 letters) and at most half as frequent, maps to it. No chains.
    - ``trailing_punctuation``: within groups that differ in it, ``"remove"`` when texts
      without a final ``.`` outnumber texts with one, else ``"period"``.
    - ``case``: ``"majority"`` when some group differs in case.

    References
    ----------
    Unicode Standard Annex #15, *Unicode Normalization Forms* (NFC, NFKC).
    Damerau, F. J. (1964). A technique for computer detection and correction of spelling
    errors. *Communications of the ACM* 7(3), 171–176.

    Examples
    --------
    >>> report = find_label_conventions(["Cat", "cat", "cat", "cats", "dog"])
    >>> report.groups[["canonical", "n_texts", "conventions"]].values.tolist()
    [['cat', 4, ('spelling', 'case')], ['dog', 1, ()]]
    >>> report.rules.spelling
    {'cats': 'cat'}
    """
    values = _check_texts(texts)
    n = len(values)
    if n == 0:
        raise InvalidInputError("texts is empty", hint="Give at least one text.")
    if (
        isinstance(max_label_words, bool)
        or not isinstance(max_label_words, int)
        or max_label_words < 0
    ):
        raise InvalidInputError(
            f"max_label_words is {max_label_words!r}",
            hint="Give a whole number ≥ 0 (0 turns spelling off).",
        )
    who = _aligned(annotators, n, "annotators")
    ids = _aligned(example_ids, n, "example_ids")
    base_rules = ConventionRules(fillers=tuple(fillers))
    pattern = _filler_pattern(base_rules.fillers)

    base = [_base_key(t, pattern) for t in values]
    spelling = _spelling_map(Counter(base), max_label_words)
    keys = [spelling.get(k, k) for k in base]
    per_text = [_variants(t, pattern) for t in values]
    for variants, key in zip(per_text, base, strict=True):
        variants["spelling"] = "variant" if key in spelling else "canonical"

    first: dict[str, int] = {}
    sizes: Counter[str] = Counter(keys)
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    order = sorted(sizes, key=lambda k: (-sizes[k], first[k]))
    group_of = {k: g for g, k in enumerate(order)}
    members: dict[int, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        members[group_of[key]].append(i)

    varying: dict[int, tuple[str, ...]] = {}
    for g, rows in members.items():
        names = []
        for name in CONVENTIONS:
            if name == "case":
                differs = len({_case_pattern(values[i], pattern) for i in rows}) > 1
            else:
                differs = len({per_text[i][name] for i in rows}) > 1
            if differs:
                names.append(name)
        varying[g] = tuple(names)

    rules = _propose(values, per_text, members, varying, spelling, base_rules)
    applied = apply_conventions(values, rules)
    return _report(values, who, ids, per_text, members, varying, order, applied, rules)


def _aligned(values: Any, n: int, name: str) -> list[Any] | None:
    if values is None:
        return None
    out = list(values.tolist() if isinstance(values, pd.Series | np.ndarray) else values)
    if len(out) != n:
        raise InvalidInputError(
            f"{name} has {len(out)} values for {n} texts",
            hint=f"Give one {name[:-1]} per text, aligned.",
        )
    return out


def _propose(
    texts: list[str],
    per_text: list[dict[str, str]],
    members: dict[int, list[int]],
    varying: dict[int, tuple[str, ...]],
    spelling: dict[str, str],
    base: ConventionRules,
) -> ConventionRules:
    def involved(name: str) -> list[int]:
        return [i for g, rows in members.items() if name in varying[g] for i in rows]

    def count(name: str, rows: Sequence[int], *accepted: str) -> int:
        return sum(per_text[i][name] in accepted for i in rows)

    every = range(len(texts))
    straight = sum(c in "'\"" for t in texts for c in t)
    curly = sum(c in _CURLY for t in texts for c in t)
    quotes: QuoteRule | None = None
    if straight and curly:
        quotes = "straight" if straight >= curly else "curly"
    ellipsis: EllipsisRule | None = None
    rows = involved("ellipsis")
    dots = count("ellipsis", every, "...", "mixed")
    chars = count("ellipsis", every, "…", "mixed")
    if rows and count("ellipsis", rows, ",", "none") > count("ellipsis", rows, "…", "...", "mixed"):
        ellipsis = "remove"
    elif rows or (dots and chars):
        ellipsis = "…" if chars >= dots else "..."
    trailing: TrailingRule | None = None
    rows = involved("trailing_punctuation")
    if rows:
        trailing = (
            "remove"
            if count("trailing_punctuation", rows, "none")
            > count("trailing_punctuation", rows, ".")
            else "period"
        )
    return ConventionRules(
        unicode_form=any(v["unicode_form"] != "nfc" for v in per_text),
        whitespace=any(v["whitespace"] != "regular" for v in per_text),
        quotes=quotes,
        ellipsis=ellipsis,
        filler_words=bool(involved("filler_words")),
        fillers=base.fillers,
        spelling=spelling,
        trailing_punctuation=trailing,
        case="majority" if involved("case") else None,
    )


def _report(
    texts: list[str],
    who: list[Any] | None,
    ids: list[Any] | None,
    per_text: list[dict[str, str]],
    members: dict[int, list[int]],
    varying: dict[int, tuple[str, ...]],
    order: list[str],
    applied: list[str],
    rules: ConventionRules,
) -> ConventionReport:
    group_rows, variant_rows = [], []
    for g, rows in sorted(members.items()):
        canonical = Counter(applied[i] for i in rows).most_common(1)[0][0]
        distinct = Counter(texts[i] for i in rows)
        group_rows.append(
            {
                "group": g,
                "canonical": canonical,
                "key": order[g],
                "n_texts": len(rows),
                "n_variants": len(distinct),
                "conventions": varying[g],
            }
        )
        for text, n in distinct.most_common():
            names = (
                ()
                if who is None
                else tuple(sorted({str(who[i]) for i in rows if texts[i] == text}))
            )
            variant_rows.append({"group": g, "text": text, "count": n, "annotators": names})
    convention_rows = []
    proposed = rules.to_dict()
    for name in CONVENTIONS:
        groups = [g for g in members if name in varying[g]]
        examples = tuple(
            tuple(dict.fromkeys(texts[i] for i in members[g]))[:_EXAMPLES_SHOWN]
            for g in groups[:_EXAMPLES_SHOWN]
        )
        rule = proposed[name]
        convention_rows.append(
            {
                "convention": name,
                "n_groups": len(groups),
                "n_texts": sum(len(members[g]) for g in groups),
                "variants": dict(Counter(v[name] for v in per_text).most_common()),
                "proposed": json.dumps(rule, ensure_ascii=False),
                "examples": examples,
            }
        )
    usage: Counter[tuple[str, Any, str]] = Counter()
    for i, variants in enumerate(per_text):
        for name in CONVENTIONS:
            usage[(name, None if who is None else str(who[i]), variants[name])] += 1
    usage_frame = pd.DataFrame(
        [(c, a, v, n) for (c, a, v), n in usage.items()],
        columns=["convention", "annotator", "variant", "count"],
    )
    usage_frame["_order"] = usage_frame["convention"].map(CONVENTIONS.index)
    usage_frame = (
        usage_frame.sort_values(
            ["_order", "annotator", "count"], ascending=[True, True, False], kind="stable"
        )
        .drop(columns="_order")
        .reset_index(drop=True)
    )
    group_index = {i: g for g, rows in members.items() for i in rows}
    assignments = pd.DataFrame(
        {
            "example_id": ids if ids is not None else [None] * len(texts),
            "annotator": who if who is not None else [None] * len(texts),
            "text": texts,
            "group": [group_index[i] for i in range(len(texts))],
        }
    )
    return ConventionReport(
        groups=pd.DataFrame(
            group_rows,
            columns=["group", "canonical", "key", "n_texts", "n_variants", "conventions"],
        ),
        variants=pd.DataFrame(variant_rows, columns=["group", "text", "count", "annotators"]),
        conventions=pd.DataFrame(convention_rows),
        usage=usage_frame,
        assignments=assignments,
        rules=rules,
    )


def load_transcripts() -> pd.DataFrame:
    """A small bundled set of speech-style transcripts by three annotators with distinct habits.

    30 utterances, each transcribed by ``ana`` (writes ``...`` and keeps fillers), ``ben``
    (writes ``…``, curly apostrophes, keeps fillers) and ``chen`` (drops fillers and pauses),
    with a few real disagreements about words. Columns ``example_id, annotator, label``.

    Examples
    --------
    >>> frame = load_transcripts()
    >>> frame.shape, sorted(frame["annotator"].unique())
    ((90, 3), ['ana', 'ben', 'chen'])
    """
    source = resources.files("dcai.labels").joinpath("data/transcripts.csv")
    with source.open("r", encoding="utf-8") as handle:
        frame = pd.read_csv(handle, dtype=str, keep_default_na=False)
    return frame
