"""Labels: annotations from several labelers and what is built on them.

* agreement between labelers (percent agreement, Cohen's and Fleiss' kappa, Krippendorff's
  alpha, per-class agreement, confused class pairs), also split by guideline version;
* consensus labels (majority vote, Dawid–Skene, model-assisted) and human-level performance;
* conventions of free-text labels and transcripts (case, punctuation, fillers, variants);
* double labeling: sampling, task files, Label Studio import and export.

The workspace-level workflows that store reports and commit child versions live in the
``dcai.labels.*_workflow`` modules (stored reports: :mod:`dcai.labels.reports`); everything
here works on plain DataFrames. The one workflow exported here, importing annotations into a
workspace (:mod:`dcai.labels.annotations`), is loaded on first use, so ``import dcai.labels``
loads no database layer.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from dcai.labels._agreement import AgreementReport, Estimate, agreement_report
from dcai.labels._agreement_by import AgreementComparison, agreement_by
from dcai.labels._agreement_stats import (
    cohen_kappa,
    count_labels,
    fleiss_kappa,
    krippendorff_alpha,
    percent_agreement,
    specific_agreement,
)
from dcai.labels._consensus import ConsensusResult, aggregate, majority_vote
from dcai.labels._conventions import (
    DEFAULT_FILLERS,
    ConventionReport,
    ConventionRules,
    apply_conventions,
    find_label_conventions,
    load_transcripts,
)
from dcai.labels._dawid_skene import DawidSkene
from dcai.labels._hlp import HLPReport, human_level_performance
from dcai.labels._label_studio import (
    label_studio_config,
    parse_label_studio_export,
    read_label_studio_export,
    to_label_studio_tasks,
)
from dcai.labels._sampling import sample_for_labeling
from dcai.labels._tasks import read_annotation_file, write_task_file

if TYPE_CHECKING:
    from dcai.labels.annotations import ANNOTATION_COLUMNS, import_annotations, read_annotations

#: Workflow names, imported on first use (PEP 562): they need the store and SQLAlchemy.
_WORKFLOWS = {
    "ANNOTATION_COLUMNS": "dcai.labels.annotations",
    "import_annotations": "dcai.labels.annotations",
    "read_annotations": "dcai.labels.annotations",
}


def __getattr__(name: str) -> Any:
    module = _WORKFLOWS.get(name)
    if module is None:
        raise AttributeError(f"module 'dcai.labels' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "ANNOTATION_COLUMNS",
    "DEFAULT_FILLERS",
    "AgreementComparison",
    "AgreementReport",
    "ConsensusResult",
    "ConventionReport",
    "ConventionRules",
    "DawidSkene",
    "Estimate",
    "HLPReport",
    "aggregate",
    "agreement_by",
    "agreement_report",
    "apply_conventions",
    "cohen_kappa",
    "count_labels",
    "find_label_conventions",
    "fleiss_kappa",
    "human_level_performance",
    "import_annotations",
    "krippendorff_alpha",
    "label_studio_config",
    "load_transcripts",
    "majority_vote",
    "parse_label_studio_export",
    "percent_agreement",
    "read_annotation_file",
    "read_annotations",
    "read_label_studio_export",
    "sample_for_labeling",
    "specific_agreement",
    "to_label_studio_tasks",
    "write_task_file",
]


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
