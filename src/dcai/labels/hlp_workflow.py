"""The human-level performance workflow: how well labelers do, stored as the analysis baseline.

:func:`run_hlp` scores each labeler against the others (leave-one-labeler-out, with the pure
:func:`dcai.labels._hlp.human_level_performance`) overall, per class and per a data column, and
stores an ``hlp`` report (:mod:`dcai.labels.reports`) that error analysis compares against.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dcai.data._schema import EXAMPLE_ID
from dcai.data.versions import resolve_ref
from dcai.errors import InvalidInputError
from dcai.labels._workflow_inputs import annotations_of, typed_labels, with_dataset_labels
from dcai.labels.reports import store_report

if TYPE_CHECKING:
    from dcai.labels._hlp import HLPReport
    from dcai.labels.reports import HLPConsensus
    from dcai.store import Stores

__all__ = ["run_hlp"]


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
    see :func:`~dcai.labels.agreement_workflow.run_agreement` (the data set's labels are then
    scored as one more labeler)."""
    from dcai.labels._hlp import human_level_performance

    version = resolve_ref(stores, ref)
    annotations = typed_labels(
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
