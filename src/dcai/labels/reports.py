"""The label-report repository: stored reports of a dataset version, and the shared vocabulary.

Label workflows (agreement, consensus, HLP in :mod:`dcai.labels.agreement_workflow`,
:mod:`dcai.labels.consensus_workflow`, :mod:`dcai.labels.hlp_workflow`) and error analysis
(:mod:`dcai.analysis.workflow`) keep the results worth keeping in the ``label_reports`` table,
linked to the version they describe. This module owns that table: :class:`LabelReport`,
:func:`store_report`, :func:`list_reports` and :func:`latest_report` (stored HLP reports are the
baselines that error analysis compares against). The literal types the label workflows take
(``Level``, ``ConsensusMethod``…) are defined here too, so that the workflows, the
``ws.labels`` namespace and the CLI share one definition without loading each other.

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
>>> [r.kind for r in list_reports(ws.stores, v2.ref)]
['agreement']
>>> latest_report(ws.stores, v2.ref, "agreement").version_ref == v2.ref
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from sqlalchemy import select

from dcai.data.versions import _write_table, current_author, now_iso, resolve_ref
from dcai.errors import UnknownRefError
from dcai.store import read_parquet_object
from dcai.store import schema as t

if TYPE_CHECKING:
    from dcai.data.versions import DatasetVersion
    from dcai.store import Stores

__all__ = [
    "ConsensusMethod",
    "ConventionTarget",
    "HLPConsensus",
    "LabelReport",
    "Level",
    "ReportKind",
    "SampleStrategy",
    "latest_report",
    "list_reports",
    "store_report",
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
