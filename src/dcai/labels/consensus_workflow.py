"""The consensus workflow: one label per annotated example, stored or committed as a version.

:func:`run_consensus` aggregates a version's annotations with the pure methods of
:mod:`dcai.labels._consensus` (majority, Dawid–Skene, model-assisted with the newest audit's
out-of-sample probabilities) and stores a ``consensus`` report (:mod:`dcai.labels.reports`);
:func:`commit_consensus` writes the consensus labels into a child version with lineage.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pandas as pd

from dcai.data._schema import EXAMPLE_ID
from dcai.data.versions import commit_version, resolve_ref
from dcai.errors import InvalidInputError
from dcai.labels._workflow_inputs import annotations_of, typed_labels, with_dataset_labels
from dcai.labels.reports import store_report

if TYPE_CHECKING:
    from dcai.data.versions import DatasetVersion
    from dcai.labels._consensus import ConsensusResult
    from dcai.labels.reports import ConsensusMethod
    from dcai.store import Stores

__all__ = ["commit_consensus", "run_consensus"]


def _audit_probs(stores: Stores, version: DatasetVersion) -> pd.DataFrame:
    """Out-of-sample probabilities from the newest audit of this version (for model assistance)."""
    from dcai.quality.audit import list_audits

    audits = [a for a in list_audits(stores, version.ref) if a.version_id == version.id]
    if not audits:
        raise InvalidInputError(
            f"model-assisted consensus needs out-of-sample probabilities, and {version.ref} has no audit",
            hint=f"Run: dcai audit {version.ref}   (or use --method dawid_skene).",
        )
    return audits[0].pred_probs


def run_consensus(
    stores: Stores,
    ref: str,
    *,
    method: ConsensusMethod = "dawid_skene",
    store: bool = True,
    author: str | None = None,
    include_dataset_labels: bool | str = False,
) -> ConsensusResult:
    """Consensus labels from a version's annotations (model-assisted uses its newest audit).

    Dawid–Skene with fewer than three labelers falls back to a majority vote (a
    :class:`~dcai.errors.FallbackWarning`; see :func:`dcai.labels.aggregate`) whose ties go
    to the newest audit's most probable class when the version has an audit.
    ``include_dataset_labels``: see :func:`~dcai.labels.agreement_workflow.run_agreement`.
    """
    from dcai.labels._consensus import aggregate

    version = resolve_ref(stores, ref)
    annotations = typed_labels(
        version, with_dataset_labels(version, annotations_of(version), include_dataset_labels)
    )
    pred_probs = None
    tie_probs = None
    if method == "model_assisted":
        pred_probs = _probs_for(version, _audit_probs(stores, version), annotations)
    elif method == "dawid_skene" and annotations["annotator"].nunique() < 3:
        try:
            tie_probs = _probs_for(version, _audit_probs(stores, version), annotations)
        except InvalidInputError:
            tie_probs = None
        if tie_probs is not None and not set(annotations[EXAMPLE_ID]) <= set(tie_probs[EXAMPLE_ID]):
            tie_probs = None
    result = aggregate(annotations, method=method, pred_probs=pred_probs, tie_probs=tie_probs)
    if store:
        store_report(
            stores,
            version,
            "consensus",
            {
                "method": method,
                "used": result.method,
                "fallback": result.fallback,
                "include_dataset_labels": include_dataset_labels,
            },
            _consensus_summary(result),
            result.labels.astype({"label": str}),
            author,
        )
    return result


def _probs_for(
    version: DatasetVersion, probs: pd.DataFrame, annotations: pd.DataFrame
) -> pd.DataFrame:
    """An audit's probabilities of the annotated examples, with classes in the label's type."""
    out = probs[probs[EXAMPLE_ID].isin(annotations[EXAMPLE_ID])].reset_index(drop=True)
    out.columns = [EXAMPLE_ID, *_typed_classes(version, list(out.columns[1:]))]
    return out


def _consensus_summary(result: ConsensusResult) -> dict[str, Any]:
    labels = result.labels
    annotators = result.annotators
    return {
        "examples": len(labels),
        "mean_confidence": float(labels["confidence"].mean()) if len(labels) else None,
        "annotators": json.loads(annotators.to_json(orient="records")),
    }


def _typed_classes(version: DatasetVersion, names: list[Any]) -> list[Any]:
    column = version.to_pandas(columns=[version.roles.label])[version.roles.label]
    values = {str(v): v for v in pd.unique(column)}
    return [values.get(str(n), n) for n in names]


def commit_consensus(
    stores: Stores,
    ref: str,
    *,
    method: ConsensusMethod = "dawid_skene",
    min_confidence: float = 0.0,
    message: str = "",
    author: str | None = None,
    include_dataset_labels: bool | str = False,
) -> tuple[ConsensusResult, DatasetVersion]:
    """Commit a child version whose label, for every annotated example with a consensus of at
    least ``min_confidence``, is the consensus label; lineage records the method and counts."""
    from dcai.quality.review import coerce_label

    version = resolve_ref(stores, ref)
    result = run_consensus(
        stores, ref, method=method, author=author, include_dataset_labels=include_dataset_labels
    )
    frame = version.to_pandas()
    label = version.roles.label
    chosen = result.labels[result.labels["confidence"] >= min_confidence]
    new = {
        str(i): coerce_label(v, frame[label], allow_new_class=True)
        for i, v in zip(chosen[EXAMPLE_ID], chosen["label"], strict=True)
    }
    mapped = frame[EXAMPLE_ID].map(new)
    changed = mapped.notna() & (mapped.astype(object) != frame[label].astype(object))
    child = frame.copy()
    values = child[label].astype(object).to_numpy(copy=True)
    values[mapped.notna().to_numpy()] = mapped[mapped.notna()].to_numpy()
    try:
        child[label] = pd.Series(values, index=child.index).astype(frame[label].dtype)
    except (TypeError, ValueError):
        child[label] = values
    committed = commit_version(
        stores,
        version.dataset,
        child,
        version.roles,
        operation="consensus",
        params={
            "method": method,
            "used": result.method,
            "include_dataset_labels": include_dataset_labels,
            "min_confidence": min_confidence,
            "examples": len(chosen),
            "relabeled": int(changed.sum()),
            "annotators": int(result.annotators.shape[0]),
        },
        message=message or f"{method} consensus of {len(chosen)} annotated examples",
        author=author,
        parents=[version],
        annotations=version.annotations(),
        data_object=version.data_object if not changed.any() else None,
    )
    return result, committed
