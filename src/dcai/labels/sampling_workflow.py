"""The double-labeling workflow: choose examples for re-labeling and write them as a task file.

:func:`sample_tasks` picks examples with the pure :func:`dcai.labels._sampling.sample_for_labeling`
(stratified, or ranked by the newest audit's label quality) and writes a task file for
labelers (:mod:`dcai.labels._tasks`), with the model's suggestion when an audit exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from dcai.data._schema import EXAMPLE_ID
from dcai.data.versions import resolve_ref
from dcai.errors import InvalidInputError

if TYPE_CHECKING:
    from pathlib import Path

    from dcai.labels.reports import SampleStrategy
    from dcai.store import Stores

__all__ = ["sample_tasks"]


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
        # Stratified sampling uses no scores; the audit's suggestions still go in the task file.
        scores=None if strategy == "stratified" else scores,
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
