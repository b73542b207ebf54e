"""Labeling by rules: write heuristics as functions, measure them, and combine their votes.

A rule is a plain function of a row that returns a label or ``None`` (abstain), decorated with
:func:`rule`; helpers build common ones over whole columns (:func:`keywords`, :func:`regex`,
:func:`query`, :func:`threshold`, :func:`model_confident`). :func:`apply` runs the rules into a
:class:`LabelMatrix`; :func:`analyze` reports each rule's coverage, overlap, conflict and,
where ground truth exists, its accuracy with an interval; :class:`LabelModel` learns how far to
trust each rule and turns the votes into labels with a confidence (:func:`majority_vote` is
the baseline it is measured against). Training labels may come from rules; test labels must
stay ground truth.

>>> import pandas as pd
>>> frame = pd.DataFrame({"text": ["WIN a free prize", "see you at 5?", "free entry, txt now",
...                                "ok thanks", "call me?"]})
>>> @rule(label="ham")
... def question(row):
...     return row.text.endswith("?")
>>> rules = [keywords("text", ["free", "win", "txt"], label="spam"), question]
>>> L = apply(rules, frame)
>>> analyze(L)[["rule", "coverage", "conflict"]].to_dict("list")
{'rule': ['keywords_text_free_win_txt', 'question'], 'coverage': [0.4, 0.4], 'conflict': [0.0, 0.0]}
>>> LabelModel().fit(L).predict(L).tolist()
[1, 0, 1, -1, 0]
"""

from __future__ import annotations

from dcai.rules._analyze import ANALYSIS_COLUMNS, analyze
from dcai.rules._apply import LabelMatrix, RuleFailure, apply, vote_counts
from dcai.rules._helpers import keywords, model_confident, query, regex, threshold
from dcai.rules._label_model import LabelModel, majority_vote
from dcai.rules._rule import ABSTAIN, Row, Rule, rule

__all__ = [
    "ABSTAIN",
    "ANALYSIS_COLUMNS",
    "LabelMatrix",
    "LabelModel",
    "Row",
    "Rule",
    "RuleFailure",
    "analyze",
    "apply",
    "keywords",
    "majority_vote",
    "model_confident",
    "query",
    "regex",
    "rule",
    "threshold",
    "vote_counts",
]
