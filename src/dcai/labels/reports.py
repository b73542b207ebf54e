"""Label workflows on a dataset version: agreement, consensus, HLP, conventions, double labeling.

Each function reads a version's annotations (long form, see :mod:`dcai.labels.annotations`),
runs the pure algorithm from :mod:`dcai.labels`, and — where the result is worth keeping —
stores it in the ``label_reports`` table linked to the version (agreement, consensus, HLP), or
commits a child version with lineage (a committed consensus, an applied convention rule set).
Stored HLP reports are the baselines that error analysis compares against.

Examples
--------
>>> import tempfile
>>> from dcai.demo import digits_frame, simulate_labelers
>>> from dcai.workspace import Workspace
>>> ws = Workspace(tempfile.mkdtemp())
>>> v = ws.data.add("digits", digits_frame().iloc[:200])
>>> truth = v.to_pandas(columns=["example_id", "label"])
>>> v2 = ws.labels.import_annotations(v.ref, simulate_labelers(truth, n_items=60))
>>> report = ws.labels.agreement(v2.ref, n_boot=50)
>>> report.n_annotators, report.n_items
(3, 60)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import select

from dcai.data._schema import EXAMPLE_ID
from dcai.data.versions import (
    DatasetVersion,
    _write_table,
    commit_version,
    current_author,
    now_iso,
    resolve_ref,
)
from dcai.errors import InvalidInputError, UnknownRefError
from dcai.store import read_parquet_object
from dcai.store import schema as t

if TYPE_CHECKING:
    from dcai.labels._agreement import AgreementReport
    from dcai.labels._agreement_by import AgreementComparison
    from dcai.labels._consensus import ConsensusResult
    from dcai.labels._conventions import ConventionReport, ConventionRules
    from dcai.labels._hlp import HLPReport
    from dcai.store import Stores

__all__ = [
    "ConsensusMethod",
    "ConventionTarget",
    "HLPConsensus",
    "LabelReport",
    "Level",
    "SampleStrategy",
    "apply_conventions_version",
    "commit_consensus",
    "convention_report_dict",
    "find_conventions",
    "latest_report",
    "list_reports",
    "run_agreement",
    "run_consensus",
    "run_hlp",
    "sample_tasks",
]

#: ``analysis`` is stored by error analysis (:mod:`dcai.analysis.workflow`): slice metrics.
ReportKind = Literal["agreement", "consensus", "hlp", "analysis"]
ConventionTarget = Literal["annotations", "labels"]
Level = Literal["nominal", "ordinal", "interval"]
ConsensusMethod = Literal["majority", "dawid_skene", "model_assisted"]
HLPConsensus = Literal["majority", "dawid_skene"]
SampleStrategy = Literal["stratified", "uncertainty", "label_issues"]
_SUFFIX = ".parquet"


@dataclass(frozen=True)
class LabelReport:
    """A stored label report: its kind, the version it describes, its summary and table."""

    id: int
    kind: str
    dataset: str
    version_id: str
    params: dict[str, Any]
    summary: dict[str, Any]
    table_object: str | None
    author: str
    created_at: str
    _stores: Stores | None = field(default=None, repr=False, compare=False)

    @property
    def version_ref(self) -> str:
        return f"{self.dataset}@{self.version_id[:7]}"

    @property
    def table(self) -> pd.DataFrame:
        """The report's main table (HLP: scope, group, accuracy, …; consensus: per example)."""
        if self.table_object is None or self._stores is None:
            return pd.DataFrame()
        frame: pd.DataFrame = read_parquet_object(
            self._stores.objects,
            self.table_object,
            suffix=_SUFFIX,
            what=f"label report {self.id} of {self.version_ref}",
        )
        return frame

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "ref": self.version_ref,
            "params": self.params,
            "summary": self.summary,
            "author": self.author,
            "created_at": self.created_at,
        }


def annotations_of(version: DatasetVersion) -> pd.DataFrame:
    """A version's annotations; a clear error when it has none."""
    if not version.n_annotations:
        raise InvalidInputError(
            f"{version.ref} has no annotations",
            hint=f"Import labelers' annotations first: dcai labels import {version.dataset} FILE",
        )
    return version.annotations()


#: The annotator name the data set's own labels get with ``include_dataset_labels=True``.
DATASET_ANNOTATOR = "dataset"


def with_dataset_labels(
    version: DatasetVersion, annotations: pd.DataFrame, include: bool | str
) -> pd.DataFrame:
    """Annotations plus the data set's label column as one more annotator.

    ``include`` is False (unchanged), True (the annotator is named ``"dataset"``) or the name
    to give it. The data set's label joins on the examples that have annotations and a label;
    a name that an annotator already has is refused.
    """
    if include is False:
        return annotations
    name = DATASET_ANNOTATOR if include is True else str(include).strip()
    if not name:
        raise InvalidInputError(
            "the name for the data set's labels is empty",
            hint=f"Give a name, e.g. --dataset-labels-as {DATASET_ANNOTATOR}.",
        )
    if version.roles.label is None:
        raise InvalidInputError(
            f"{version.ref} has no label column to include",
            hint="Declare the label column when adding the data (dcai data add --label COLUMN).",
        )
    taken = set(annotations["annotator"].astype(str))
    if name in taken:
        raise InvalidInputError(
            f"an annotator is already called {name!r}",
            column="annotator",
            hint="Give the data set's labels another name with --dataset-labels-as NAME "
            "(include_dataset_labels='NAME').",
        )
    label = version.roles.label
    data = version.to_pandas(columns=[EXAMPLE_ID, label])
    annotated = set(annotations[EXAMPLE_ID].astype(str))
    data = data[data[label].notna() & data[EXAMPLE_ID].astype(str).isin(annotated)]
    annotations = _typed_labels(version, annotations)
    extra = pd.DataFrame(
        {
            EXAMPLE_ID: data[EXAMPLE_ID].astype(str).to_numpy(),
            "annotator": name,
            "label": data[label].astype(object).to_numpy(),
        }
    )
    for column in annotations.columns:
        if column not in extra.columns:
            extra[column] = None
    extra["time"] = pd.Series(pd.NaT, index=extra.index, dtype="datetime64[ns, UTC]")
    extra = extra[list(annotations.columns)]
    merged = pd.concat(
        [annotations.astype({"label": object}), extra.astype({"label": object})],
        ignore_index=True,
    )
    if len({type(v) for v in merged["label"].tolist()}) > 1:
        merged["label"] = merged["label"].astype(str).astype(object)
    return merged


def store_report(
    stores: Stores,
    version: DatasetVersion,
    kind: ReportKind,
    params: dict[str, Any],
    summary: dict[str, Any],
    table: pd.DataFrame | None,
    author: str | None,
) -> LabelReport:
    table_object = _write_table(stores, table) if table is not None else None
    with stores.meta.transaction() as conn:
        dataset_pk = conn.execute(
            select(t.datasets.c.id).where(t.datasets.c.name == version.dataset)
        ).scalar_one()
        version_pk = conn.execute(
            select(t.versions.c.id).where(
                (t.versions.c.dataset_id == dataset_pk) & (t.versions.c.version_hash == version.id)
            )
        ).scalar_one()
        report_pk = conn.execute(
            t.label_reports.insert().values(
                version_id=version_pk,
                kind=kind,
                params_json=json.dumps(params, default=str),
                summary_json=json.dumps(summary, default=str),
                table_object=table_object,
                author=current_author(author),
                created_at=now_iso(),
            )
        ).inserted_primary_key[0]  # type: ignore[index]
    found = [r for r in list_reports(stores, version.ref, kind=kind) if r.id == report_pk]
    return found[0]


def list_reports(stores: Stores, ref: str, *, kind: str | None = None) -> list[LabelReport]:
    """Stored label reports of a version (``name@hash``) or a dataset (``name``), newest first."""
    name, _, selector = ref.partition("@")
    version = resolve_ref(stores, ref)
    query = (
        select(t.label_reports, t.versions.c.version_hash)
        .select_from(
            t.label_reports.join(t.versions, t.label_reports.c.version_id == t.versions.c.id).join(
                t.datasets, t.versions.c.dataset_id == t.datasets.c.id
            )
        )
        .where(t.datasets.c.name == name)
        .order_by(t.label_reports.c.id.desc())
    )
    if selector:
        query = query.where(t.versions.c.version_hash == version.id)
    if kind is not None:
        query = query.where(t.label_reports.c.kind == kind)
    with stores.meta.read() as conn:
        rows = conn.execute(query).all()
    return [
        LabelReport(
            id=r.id,
            kind=r.kind,
            dataset=name,
            version_id=r.version_hash,
            params=json.loads(r.params_json),
            summary=json.loads(r.summary_json),
            table_object=r.table_object,
            author=r.author,
            created_at=r.created_at,
            _stores=stores,
        )
        for r in rows
    ]


def latest_report(stores: Stores, ref: str, kind: ReportKind) -> LabelReport:
    """The newest stored report of ``kind`` for a version or dataset (e.g. the HLP baseline)."""
    found = list_reports(stores, ref, kind=kind)
    if not found:
        raise UnknownRefError(
            f"no {kind} report for {ref!r}",
            hint=f"Compute one with: dcai labels {'hlp' if kind == 'hlp' else kind} {ref}",
        )
    return found[0]


# Agreement ------------------------------------------------------------------------------------


def run_agreement(
    stores: Stores,
    ref: str,
    *,
    by: str | None = None,
    level: Level = "nominal",
    n_boot: int = 1000,
    random_state: int = 0,
    store: bool = True,
    author: str | None = None,
    include_dataset_labels: bool | str = False,
) -> tuple[AgreementReport, AgreementComparison | None]:
    """Agreement between a version's labelers; with ``by``, also compared across that column
    of the annotations (``guideline``, ``annotator``…) or of the data (a metadata column).

    With ``include_dataset_labels`` (True, or the name to give it), the data set's label
    column counts as one more annotator (named ``"dataset"`` by default) on the annotated
    examples that have a label: see :func:`with_dataset_labels`. The most disputed items
    (``report.disagreements``) carry a ``content`` column: the example's text column, or
    for tables its first few feature columns (see :func:`example_content`).
    """
    from dcai.labels._agreement import agreement_report
    from dcai.labels._agreement_by import agreement_by

    version = resolve_ref(stores, ref)
    annotations = with_dataset_labels(version, annotations_of(version), include_dataset_labels)
    report = agreement_report(annotations, level=level, n_boot=n_boot, random_state=random_state)
    report = replace(report, disagreements=with_content(version, report.disagreements))
    comparison = None
    if by is not None:
        annotations = _with_column(version, annotations, by)
        comparison = agreement_by(
            annotations, by, level=level, n_boot=n_boot, random_state=random_state
        )
    if store:
        summary = report.to_dict()
        if comparison is not None:
            summary["by"] = {"column": by, "comparison": comparison.to_dict()}
        store_report(
            stores,
            version,
            "agreement",
            {
                "level": level,
                "n_boot": n_boot,
                "random_state": random_state,
                "by": by,
                "include_dataset_labels": include_dataset_labels,
            },
            summary,
            None,
            author,
        )
    return report, comparison


def _with_column(version: DatasetVersion, annotations: pd.DataFrame, column: str) -> pd.DataFrame:
    """Annotations with ``column`` joined from the data when it is not an annotation column."""
    if column in annotations.columns:
        if annotations[column].isna().all():
            raise InvalidInputError(
                f"no annotation of {version.ref} records a {column}",
                column=column,
                hint="Import annotations with --guideline NAME, or a guideline column.",
            )
        return annotations
    columns = [c for c in version.roles.dtypes if c != EXAMPLE_ID]
    if column not in columns:
        raise InvalidInputError(
            f"{version.ref} has no column {column!r} in its annotations or its data",
            column=column,
            hint=f"Use guideline, annotator, or one of: {', '.join(columns[:12])}.",
        )
    data = version.to_pandas(columns=[EXAMPLE_ID, column])
    return annotations.merge(data, on=EXAMPLE_ID, how="left")


#: Feature columns shown as an example's content when it has no text column.
CONTENT_COLUMNS = 3


def example_content(version: DatasetVersion, example_ids: Any) -> list[str | None]:
    """What each example shows a reader, as one string: its (first) text column when the data
    set has one, else ``column=value`` of its first :data:`CONTENT_COLUMNS` feature columns;
    None for an id not in the version."""
    roles = version.roles
    columns = list(roles.text[:1]) or list(roles.features[:CONTENT_COLUMNS])
    if not columns:
        return [None for _ in example_ids]
    data = version.to_pandas(columns=[EXAMPLE_ID, *columns])
    index = pd.Index(data[EXAMPLE_ID].astype(str))
    if roles.text:
        text = data[columns[0]]
        values = text.astype(object).where(text.notna(), "").astype(str).tolist()
    else:
        values = [
            ", ".join(f"{c}={v}" for c, v in zip(columns, row, strict=True))
            for row in data[columns].itertuples(index=False)
        ]
    found = dict(zip(index, values, strict=True))
    return [found.get(str(i)) for i in example_ids]


def with_content(version: DatasetVersion, disputed: pd.DataFrame) -> pd.DataFrame:
    """The disputed items with a ``content`` column beside ``example_id``."""
    if EXAMPLE_ID not in disputed.columns or "content" in disputed.columns:
        return disputed
    out = disputed.copy()
    out.insert(
        1,
        "content",
        pd.Series(
            example_content(version, out[EXAMPLE_ID].tolist()), index=out.index, dtype=object
        ),
    )
    return out


# Consensus ------------------------------------------------------------------------------------


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
    ``include_dataset_labels``: see :func:`run_agreement`.
    """
    from dcai.labels._consensus import aggregate

    version = resolve_ref(stores, ref)
    annotations = _typed_labels(
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


def _typed_labels(version: DatasetVersion, annotations: pd.DataFrame) -> pd.DataFrame:
    """Annotation labels in the label column's type when they are written the same way
    (a CSV of annotations reads ``3`` as text; the data's label column holds the integer 3)."""
    column = version.to_pandas(columns=[version.roles.label])[version.roles.label]
    values = {str(v): v for v in pd.unique(column)}
    labels = annotations["label"]
    if labels.map(lambda v: str(v) in values).all():
        annotations = annotations.copy()
        annotations["label"] = labels.map(lambda v: values[str(v)])
    return annotations


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


# Human-level performance ----------------------------------------------------------------------


def run_hlp(
    stores: Stores,
    ref: str,
    *,
    by: str | None = None,
    consensus: HLPConsensus = "majority",
    n_boot: int = 1000,
    random_state: int = 0,
    store: bool = True,
    author: str | None = None,
    include_dataset_labels: bool | str = False,
) -> HLPReport:
    """Leave-one-labeler-out human-level performance, overall, per class and per ``by`` value;
    stored so that error analysis can use it as the baseline. ``include_dataset_labels``:
    see :func:`run_agreement` (the data set's labels are then scored as one more labeler)."""
    from dcai.labels._hlp import human_level_performance

    version = resolve_ref(stores, ref)
    annotations = _typed_labels(
        version, with_dataset_labels(version, annotations_of(version), include_dataset_labels)
    )
    metadata = None
    if by is not None:
        columns = [c for c in version.roles.dtypes if c != EXAMPLE_ID]
        if by not in columns:
            raise InvalidInputError(
                f"{version.ref} has no column {by!r}",
                column=by,
                hint=f"Pick one of: {', '.join(columns[:12])}.",
            )
        metadata = version.to_pandas(columns=[EXAMPLE_ID, by])
    report = human_level_performance(
        annotations,
        consensus=consensus,
        metadata=metadata,
        by=by,
        n_boot=n_boot,
        random_state=random_state,
    )
    if store:
        store_report(
            stores,
            version,
            "hlp",
            {
                "consensus": consensus,
                "by": by,
                "n_boot": n_boot,
                "random_state": random_state,
                "include_dataset_labels": include_dataset_labels,
            },
            report.to_dict(),
            report.to_frame().astype({"group": str}),
            author,
        )
    return report


# Conventions ---------------------------------------------------------------------------------


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


# Double labeling ------------------------------------------------------------------------------


def sample_tasks(
    stores: Stores,
    ref: str,
    n: int,
    out: str | Path,
    *,
    strategy: SampleStrategy = "stratified",
    format: str | None = None,
    exclude_labeled: bool = True,
    random_state: int = 0,
    force: bool = False,
) -> tuple[pd.DataFrame, Path]:
    """Choose ``n`` examples for independent re-labeling and write them as a task file.

    ``uncertainty``/``label_issues`` rank by the newest audit's label quality (lowest first,
    mixed with a random share). Examples that already carry two or more annotations are left
    out unless ``exclude_labeled`` is False. The task file (CSV, JSONL or Label Studio JSON,
    from the suffix or ``format``) carries the model's suggestion when an audit exists.
    ``out`` must lie outside the workspace; an existing file is replaced only with ``force``
    (checked before sampling).
    """
    from dcai._user_files import check_output_path
    from dcai.labels._sampling import sample_for_labeling
    from dcai.labels._tasks import write_task_file
    from dcai.quality.audit import list_audits

    version = resolve_ref(stores, ref)
    check_output_path(out, workspace=stores, force=force)
    frame = version.to_pandas()
    audits = [a for a in list_audits(stores, version.ref) if a.version_id == version.id]
    scores = None
    predictions = None
    if audits:
        audit_scores = audits[0].scores.set_index(EXAMPLE_ID)
        scores = audit_scores["label_quality"].reindex(frame[EXAMPLE_ID]).to_numpy()
        predictions = pd.DataFrame(
            {
                EXAMPLE_ID: audit_scores.index,
                "label": audit_scores["suggested_label"].to_numpy(),
                "score": audit_scores["suggested_label_confidence"].to_numpy(),
            }
        )
    elif strategy != "stratified":
        raise InvalidInputError(
            f"strategy {strategy!r} ranks by an audit's scores, and {version.ref} has no audit",
            hint=f"Run: dcai audit {version.ref}   (or use --strategy stratified).",
        )
    exclude = None
    if exclude_labeled and version.n_annotations:
        counts = version.annotations().groupby(EXAMPLE_ID).size()
        exclude = counts[counts >= 2].index.to_numpy()
    chosen = sample_for_labeling(
        frame,
        n,
        strategy=strategy,
        label_column=version.roles.label,
        scores=scores,
        random_state=random_state,
        exclude=exclude,
    )
    data_columns = [c for c in version.roles.inputs if c in chosen.columns]
    path = write_task_file(
        chosen,
        out,
        format=format,
        data_columns=data_columns,
        predictions=predictions if predictions is None else _predictions_for(predictions, chosen),
        force=force,
        workspace=stores,
    )
    return chosen, path


def _predictions_for(predictions: pd.DataFrame, chosen: pd.DataFrame) -> pd.DataFrame:
    return predictions[predictions[EXAMPLE_ID].isin(chosen[EXAMPLE_ID])].reset_index(drop=True)


def disagreement_examples(report: AgreementReport, limit: int = 5) -> list[dict[str, Any]]:
    """The most disagreed items as plain records (for guidelines' worked examples)."""
    frame = report.disagreements.head(limit)
    return [
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def convention_report_dict(report: ConventionReport, *, groups: int = 50) -> dict[str, Any]:
    """A convention report as JSON: conventions, per-labeler usage, the largest groups, rules."""

    def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
        parsed: list[dict[str, Any]] = json.loads(
            frame.to_json(orient="records", default_handler=str)
        )
        return parsed

    return {
        "conventions": records(report.conventions),
        "usage": records(report.usage),
        "groups": records(report.groups.head(groups)),
        "n_groups": len(report.groups),
        "rules": report.rules.to_dict(),
    }
