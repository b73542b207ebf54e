"""The label-conventions workflow: find variants of free-text labels, commit an approved fix.

:func:`find_conventions` runs the pure :func:`dcai.labels._conventions.find_label_conventions`
on a version's annotation texts (or its label column); :func:`apply_conventions_version`
commits a child version with an approved rule set applied, its lineage recording every rewrite.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pandas as pd

from dcai.data._schema import EXAMPLE_ID
from dcai.data.versions import commit_version, resolve_ref
from dcai.labels._workflow_inputs import annotations_of

if TYPE_CHECKING:
    from dcai.data.versions import DatasetVersion
    from dcai.labels._conventions import ConventionReport, ConventionRules
    from dcai.labels.reports import ConventionTarget
    from dcai.store import Stores

__all__ = ["apply_conventions_version", "find_conventions"]


def _convention_texts(
    version: DatasetVersion, target: ConventionTarget | None
) -> tuple[ConventionTarget, pd.DataFrame]:
    if target is None:
        target = "annotations" if version.n_annotations else "labels"
    if target == "annotations":
        frame = annotations_of(version)
        return target, frame[[EXAMPLE_ID, "annotator", "label"]]
    frame = version.to_pandas(columns=[EXAMPLE_ID, version.roles.label])
    frame = frame.rename(columns={version.roles.label: "label"})
    frame["annotator"] = None
    return target, frame


def find_conventions(
    stores: Stores, ref: str, *, target: ConventionTarget | None = None
) -> tuple[ConventionTarget, ConventionReport]:
    """Convention report for a version's annotation texts (or its label column)."""
    from dcai.labels._conventions import find_label_conventions

    version = resolve_ref(stores, ref)
    target, frame = _convention_texts(version, target)
    texts = frame["label"].astype(str)
    annotators = frame["annotator"] if frame["annotator"].notna().any() else None
    return target, find_label_conventions(
        texts, annotators=annotators, example_ids=frame[EXAMPLE_ID]
    )


def apply_conventions_version(
    stores: Stores,
    ref: str,
    rules: ConventionRules,
    *,
    target: ConventionTarget | None = None,
    message: str = "",
    author: str | None = None,
) -> DatasetVersion:
    """Commit a child version with an approved convention rule set applied.

    The parent keeps the original texts; the child's lineage records the rules and every
    distinct rewrite (original → canonical) with its count.
    """
    from dcai.labels._conventions import apply_conventions

    version = resolve_ref(stores, ref)
    target, _ = _convention_texts(version, target)
    frame = version.to_pandas()
    annotations = version.annotations() if version.n_annotations else None
    if target == "annotations":
        assert annotations is not None  # invariant: _convention_texts checked
        original = annotations["label"].astype(str)
        annotations = annotations.copy()
        annotations["label"] = apply_conventions(original, rules)
        rewritten = annotations["label"]
    else:
        label = version.roles.label
        original = frame[label].astype(str)
        frame = frame.copy()
        frame[label] = apply_conventions(original, rules)
        rewritten = frame[label]
    changes = pd.DataFrame({"from": original.to_numpy(), "to": rewritten.astype(str).to_numpy()})
    changes = changes[changes["from"] != changes["to"]]
    distinct = changes.value_counts().reset_index(name="count")
    return commit_version(
        stores,
        version.dataset,
        frame,
        version.roles,
        operation="apply_conventions",
        params={
            "target": target,
            "rules": rules.to_dict(),
            "changed": len(changes),
            "rewrites": json.loads(distinct.to_json(orient="records")),
        },
        message=message or f"apply label conventions to {len(changes)} {target}",
        author=author,
        parents=[version],
        annotations=annotations,
        data_object=version.data_object if target == "annotations" else None,
    )
